"""Amazon ECS runs this at POST_TEST_TRAFFIC_SHIFT: the test listener sends all its traffic
to the new tasks. It asks for /health through the test listener. While the new tasks are not
ready it answers IN_PROGRESS (ECS calls again after callBackDelay seconds, passing hookDetails
back), at most ATTEMPTS times; FAILED makes ECS roll the deployment back. Whatever goes wrong
is answered FAILED."""
import http.client
import json
import os
import urllib.error
import urllib.request

URL = os.environ["TEST_URL"]
ATTEMPTS = int(os.environ["ATTEMPTS"])
RETRY_SECONDS = int(os.environ["RETRY_SECONDS"])
PROBE_SECONDS = 5


from hook_probe import probe  # hook-resources.yml.jinja pastes hook_probe.py's function here

def seconds_left(context):
    return context.get_remaining_time_in_millis() / 1000 if context else 30.0


def handler(event, context):
    try:
        details = event.get("hookDetails") or {}
        if isinstance(details, str):
            details = json.loads(details)
        attempt = int(details.get("attempt", 0)) + 1
        result = probe(URL, timeout=max(1, min(PROBE_SECONDS, seconds_left(context) - 2)))
    except Exception as error:  # noqa: BLE001 - any failure of the check fails the deployment
        print(f"the check failed: {error!r}")
        return {"hookStatus": "FAILED"}
    print(f"GET {URL}: {result} (attempt {attempt} of {ATTEMPTS}, {event.get('targetServiceRevisionArn')})")
    if result == "healthy":
        return {"hookStatus": "SUCCEEDED"}
    if result == "not ready" and attempt < ATTEMPTS:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": RETRY_SECONDS, "hookDetails": {"attempt": attempt}}
    return {"hookStatus": "FAILED"}
