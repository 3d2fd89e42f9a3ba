"""Amazon ECS runs this at POST_TEST_TRAFFIC_SHIFT: the test listener sends all its traffic
to the new tasks. It asks for /health through the test listener. While the new tasks are not
ready it answers IN_PROGRESS (ECS calls again after callBackDelay seconds, passing hookDetails
back), at most ATTEMPTS times; FAILED makes ECS roll the deployment back."""
import json
import os
import urllib.error
import urllib.request

URL = os.environ["TEST_URL"]
ATTEMPTS = int(os.environ["ATTEMPTS"])
RETRY_SECONDS = int(os.environ["RETRY_SECONDS"])


from hook_probe import probe  # hook-resources.yml.jinja pastes hook_probe.py's function here

def handler(event, context):
    details = event.get("hookDetails") or {}
    if isinstance(details, str):
        details = json.loads(details)
    attempt = int(details.get("attempt", 0)) + 1
    result = probe(URL)
    print(f"GET {URL}: {result} (attempt {attempt} of {ATTEMPTS}, {event.get('targetServiceRevisionArn')})")
    if result == "healthy":
        return {"hookStatus": "SUCCEEDED"}
    if result == "not ready" and attempt < ATTEMPTS:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": RETRY_SECONDS, "hookDetails": {"attempt": attempt}}
    return {"hookStatus": "FAILED"}
