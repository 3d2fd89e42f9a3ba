"""CodeDeploy runs this AfterAllowTestTraffic: it asks for /health through the test listener, which
serves the new tasks, retrying while they are not ready, and reports Succeeded or Failed (CodeDeploy
then rolls back). Whatever goes wrong is reported as Failed at once, or CodeDeploy would wait for
the hook's timeout; a report that cannot be sent raises, so Lambda runs the hook again."""
import http.client
import os
import ssl
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

LOAD_BALANCER = os.environ["LOAD_BALANCER"]
HOST = os.environ["HOST"]
SCHEME = os.environ["TEST_SCHEME"]
PORT = os.environ["TEST_PORT"]
ATTEMPTS = int(os.environ["ATTEMPTS"])
RETRY_SECONDS = float(os.environ["RETRY_SECONDS"])
PROBE_SECONDS = 5
REPORT_SECONDS = 10  # kept back to report the outcome


from hook_probe import probe, test_urls  # hook-resources.yml.jinja pastes hook_probe.py's functions here

def seconds_left(context):
    return context.get_remaining_time_in_millis() / 1000 if context else 60.0


def check(context):
    seconds = max(1, min(PROBE_SECONDS, seconds_left(context) - REPORT_SECONDS))
    ec2 = boto3.client("ec2", config=Config(connect_timeout=seconds, read_timeout=seconds, retries={"total_max_attempts": 1}))
    urls = test_urls(ec2, LOAD_BALANCER, SCHEME, PORT)
    result = "not ready"
    for attempt in range(ATTEMPTS):
        budget = seconds_left(context) - REPORT_SECONDS
        if attempt and budget < RETRY_SECONDS + 1:
            break
        if attempt:
            time.sleep(RETRY_SECONDS)
            budget -= RETRY_SECONDS
        result = probe(urls[attempt % len(urls)], HOST, timeout=max(1, min(PROBE_SECONDS, budget))) if urls else "not ready"
        if result != "not ready":
            break
    return result


def report(event, status, context):
    seconds = max(2, seconds_left(context) - 1)
    config = Config(connect_timeout=seconds / 4, read_timeout=seconds / 4, retries={"mode": "standard", "total_max_attempts": 2})
    boto3.client("codedeploy", config=config).put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )


def handler(event, context):
    try:
        result = check(context)
    except Exception as error:  # noqa: BLE001 (reported as Failed)
        result = f"error {error!r}"
    status = "Succeeded" if result == "healthy" else "Failed"
    print(f"GET /health on {LOAD_BALANCER}:{PORT}: {result}; deployment {event['DeploymentId']}: {status}")
    report(event, status, context)
    return status
