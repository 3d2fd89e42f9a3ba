"""The check both test-traffic hooks make. A stack's inline function is one file, so
hook-resources.yml.jinja pastes what follows the marker below into each hook."""
import http.client
import urllib.error
import urllib.request

# -- pasted into the hooks from here --
def test_urls(ec2, load_balancer, port):
    """/health on the test listener at each private address of the load balancer: the check runs
    in the VPC, and the listener's security group admits only the check (and TestTrafficCidr).
    The load balancer's network interfaces are described "ELB app/<name>/<id>"."""
    found = ec2.describe_network_interfaces(Filters=[{"Name": "description", "Values": [f"ELB {load_balancer}"]}])
    return [f"http://{item['PrivateIpAddress']}:{port}/health" for item in found["NetworkInterfaces"]]


def probe(url, host, timeout=5):
    """'healthy' (200), 'unhealthy' (the app answered something else) or 'not ready'."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Host": host}), timeout=timeout) as response:
            return "healthy" if response.status == 200 else "unhealthy"
    except urllib.error.HTTPError as error:
        # While no new task is healthy yet, the load balancer answers by itself (Server: awselb/...).
        return "not ready" if (error.headers.get("Server") or "").startswith("awselb") else "unhealthy"
    except OSError:
        return "not ready"  # no connection yet, or no answer in time
    except http.client.HTTPException:
        return "unhealthy"  # an answer that is not HTTP (e.g. BadStatusLine)
