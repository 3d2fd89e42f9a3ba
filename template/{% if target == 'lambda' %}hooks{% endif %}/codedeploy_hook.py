"""What the two CodeDeploy hooks share: a GET /health request as the function URL sends it,
and reporting a check's outcome to CodeDeploy.

CodeDeploy invokes a hook asynchronously with {"DeploymentId": ..., "LifecycleEventHookExecutionId": ...}
and then waits, up to an hour, for the hook to report Succeeded or Failed
(PutLifecycleEventHookExecutionStatus). A hook that raises instead of reporting leaves the
deployment waiting that hour, so every failed check, an unexpected exception included, is
reported as Failed at once.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("codedeploy_hook")
LOG.setLevel(logging.INFO)

# Each client call ends within the time the invocation has left (minus REPORT_SECONDS for the
# check, kept back to report its outcome), over at most MAX_ATTEMPTS attempts of at most
# CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS each.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
MAX_ATTEMPTS = 2
REPORT_SECONDS = 10
# Without a Lambda context (a local run), the time a hook may take.
DEFAULT_SECONDS = 120

USER_AGENT = "codedeploy-hook"


class CheckFailed(Exception):
    """The function answered, but not as a healthy new version answers."""


def seconds_left(context: Any) -> float:
    """What remains of this invocation."""
    return context.get_remaining_time_in_millis() / 1000 if context is not None else DEFAULT_SECONDS


def client(service: str, seconds: float) -> Any:
    """A boto3 client (boto3 is part of the Lambda Python runtime) whose calls, retry included,
    end within `seconds`."""
    import boto3
    from botocore.config import Config

    attempt = max(1.0, seconds / MAX_ATTEMPTS - 1)  # a second of each attempt for the retry's back-off
    connect = min(CONNECT_TIMEOUT_SECONDS, attempt / 2)
    config = Config(
        connect_timeout=connect,
        read_timeout=min(READ_TIMEOUT_SECONDS, attempt - connect),
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    return boto3.client(service, config=config)


def health_request(path: str = "/health") -> dict[str, Any]:
    """The event a function URL sends for `GET <path>` (payload format 2.0)."""
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json", "user-agent": USER_AGENT},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": USER_AGENT},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }


def invoke_health(lambda_client: Any, function_arn: str) -> tuple[str | None, dict[str, Any]]:
    """Invoke `function_arn` with GET /health; return (the version that ran, the response body).

    Raises CheckFailed unless the answer is 200 with {"status": "ok"} and, when EXPECTED_APP_VERSION
    is set, the "version" being deployed.
    """
    response = lambda_client.invoke(
        FunctionName=function_arn,
        InvocationType="RequestResponse",
        Payload=json.dumps(health_request()).encode(),
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        raise CheckFailed(f"{function_arn} raised {response['FunctionError']}: {payload[:500]!r}")
    try:
        answer = json.loads(payload)
        status = answer["statusCode"]
        body = json.loads(answer.get("body") or "{}")
    except (TypeError, ValueError, KeyError) as error:
        raise CheckFailed(f"{function_arn} did not answer with an HTTP response: {payload[:500]!r}") from error
    if status != 200 or not isinstance(body, dict) or body.get("status") != "ok":
        raise CheckFailed(f"GET /health on {function_arn} answered {status}: {body}")
    expected = os.environ.get("EXPECTED_APP_VERSION")
    if expected and body.get("version") != expected:
        raise CheckFailed(f"GET /health on {function_arn} reports version {body.get('version')!r}, not {expected!r}")
    return response.get("ExecutedVersion"), body


def run(event: dict[str, Any], check: Callable[[float], None], codedeploy: Any = None, context: Any = None) -> str:
    """Run `check` (given the seconds it may take) and report its outcome for this hook execution;
    return the status reported. A report that cannot be sent raises: Lambda then runs the hook again."""
    deployment_id = event["DeploymentId"]
    execution_id = event["LifecycleEventHookExecutionId"]
    try:
        check(seconds_left(context) - REPORT_SECONDS)
        status = "Succeeded"
    except Exception:  # noqa: BLE001 - whatever went wrong, the deployment must fail now, not in an hour
        LOG.exception("deployment %s: the check failed", deployment_id)
        status = "Failed"
    if codedeploy is None:
        codedeploy = client("codedeploy", seconds_left(context) - 1)
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id,
        lifecycleEventHookExecutionId=execution_id,
        status=status,
    )
    LOG.info("deployment %s: reported %s", deployment_id, status)
    return status
