"""CodeDeploy runs this AfterAllowTestTraffic: the new tasks get the test listener's traffic.
It asks for /health through the test listener, retrying while the new tasks are not ready,
and reports Succeeded or Failed; Failed makes CodeDeploy roll the deployment back."""
import os
import time
import urllib.error
import urllib.request

import boto3

URL = os.environ["TEST_URL"]
ATTEMPTS = int(os.environ["ATTEMPTS"])
RETRY_SECONDS = float(os.environ["RETRY_SECONDS"])


from hook_probe import probe  # hook-resources.yml.jinja pastes hook_probe.py's function here

def handler(event, context):
    result = probe(URL)
    for _ in range(ATTEMPTS - 1):
        if result != "not ready":
            break
        time.sleep(RETRY_SECONDS)
        result = probe(URL)
    status = "Succeeded" if result == "healthy" else "Failed"
    print(f"GET {URL}: {result}; deployment {event['DeploymentId']}: {status}")
    boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status
