"""The check both test-traffic hooks make. A stack's inline function is one file (ZipFile, at most
4096 characters), so hook-resources.yml.jinja pastes what follows the marker below into each hook.
Its docstrings stay short; the details are here.

test_urls: the check runs in the VPC and calls the test listener at each private address of the
load balancer, whose network interfaces Elastic Load Balancing describes "ELB app/<name>/<id>";
the listener's security group admits only the check (and TestTrafficCidr).

probe: with the environment's certificate the test listener serves HTTPS (TEST_SCHEME). The probe
then verifies the certificate's chain, against the CA bundle of Lambda's runtime (an ACM public
certificate chains to Amazon's roots), but not its name: it calls private addresses, which no
certificate names, naming the load balancer as Host. A certificate that fails verification fails
the check at once, with OpenSSL's reason: retrying would not change it. Any other TLS error (say,
the listener does not serve HTTPS yet) counts as not ready, as a refused connection does.
"""
import http.client
import ssl
import urllib.error
import urllib.request

# -- pasted into the hooks from here --
def test_urls(ec2, load_balancer, scheme, port):
    """/health on the test listener at each private address of the load balancer."""
    found = ec2.describe_network_interfaces(Filters=[{"Name": "description", "Values": [f"ELB {load_balancer}"]}])
    return [f"{scheme}://{item['PrivateIpAddress']}:{port}/health" for item in found["NetworkInterfaces"]]


def probe(url, host, timeout=5):
    """'healthy' (200), 'not ready', or 'unhealthy' (another answer, or why the certificate failed
    verification). HTTPS verifies the chain, not the name: the URL has an IP address."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Host": host}), timeout=timeout, context=tls) as response:
            return "healthy" if response.status == 200 else "unhealthy"
    except urllib.error.HTTPError as error:
        # Until a new task is healthy, the load balancer answers itself (Server: awselb/...).
        return "not ready" if (error.headers.get("Server") or "").startswith("awselb") else "unhealthy"
    except OSError as error:
        reason = getattr(error, "reason", error)  # URLError wraps it
        if isinstance(reason, ssl.SSLCertVerificationError):
            return f"unhealthy: {reason.verify_message}"
        return "not ready"  # no connection yet, or no answer in time
    except http.client.HTTPException:
        return "unhealthy"  # an answer that is not HTTP (e.g. BadStatusLine)
