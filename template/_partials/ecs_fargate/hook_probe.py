"""The check both test-traffic hooks make. A stack's inline function is one file, so
hook-resources.yml.jinja pastes what follows the marker below into each hook."""
import http.client
import urllib.error
import urllib.request

# -- pasted into the hooks from here --
def probe(url, timeout=5):
    """'healthy' (200), 'unhealthy' (the app answered something else) or 'not ready'."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return "healthy" if response.status == 200 else "unhealthy"
    except urllib.error.HTTPError as error:
        # While no new task is healthy yet, the load balancer answers by itself (Server: awselb/...).
        return "not ready" if (error.headers.get("Server") or "").startswith("awselb") else "unhealthy"
    except OSError:
        return "not ready"  # no connection yet, or no answer in time
    except http.client.HTTPException:
        return "unhealthy"  # an answer that is not HTTP (e.g. BadStatusLine)
