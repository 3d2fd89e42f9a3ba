"""Amazon ECS runs this at POST_TEST_TRAFFIC_SHIFT: the test listener sends all its traffic
to the new tasks. It asks for /health through the test listener, from inside the VPC. While the new tasks are not
ready it answers IN_PROGRESS (ECS calls again after callBackDelay seconds, passing hookDetails
back), at most ATTEMPTS times; FAILED makes ECS roll the deployment back. Whatever goes wrong
is answered FAILED."""
import http.client
import json
import os
import ssl
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

LOAD_BALANCER = os.environ["LOAD_BALANCER"]
HOST = os.environ["HOST"]
SCHEME = os.environ["TEST_SCHEME"]
PORT = os.environ["TEST_PORT"]
ATTEMPTS = int(os.environ["ATTEMPTS"])
RETRY_SECONDS = int(os.environ["RETRY_SECONDS"])
PROBE_SECONDS = 5


from hook_probe import probe, test_urls  # hook-resources.yml.jinja pastes hook_probe.py's functions here

def seconds_left(context):
    return context.get_remaining_time_in_millis() / 1000 if context else 30.0


def handler(event, context):
    try:
        details = event.get("hookDetails") or {}
        if isinstance(details, str):
            details = json.loads(details)
        attempt = int(details.get("attempt", 0)) + 1
        seconds = max(1, min(PROBE_SECONDS, seconds_left(context) - 2))
        ec2 = boto3.client("ec2", config=Config(connect_timeout=seconds, read_timeout=seconds, retries={"total_max_attempts": 1}))
        urls = test_urls(ec2, LOAD_BALANCER, SCHEME, PORT)
        url = urls[attempt % len(urls)] if urls else "(the load balancer has no address yet)"
        result = probe(url, HOST, timeout=seconds) if urls else "not ready"
    except Exception as error:  # noqa: BLE001 - any failure of the check fails the deployment
        print(f"the check failed: {error!r}")
        return {"hookStatus": "FAILED"}
    print(f"GET {url} (Host {HOST}): {result} (attempt {attempt} of {ATTEMPTS}, {event.get('targetServiceRevisionArn')})")
    if result == "healthy":
        return {"hookStatus": "SUCCEEDED"}
    if result == "not ready" and attempt < ATTEMPTS:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": RETRY_SECONDS, "hookDetails": {"attempt": attempt}}
    return {"hookStatus": "FAILED"}
