"""CodeDeploy BeforeAllowTraffic hook (DeploymentPreference.Hooks.PreTraffic in infra/service.yml).

Runs after the new version is published and before the alias sends it any traffic. It invokes
that version directly (TARGET_VERSION_ARN) with the request the function URL sends for
GET /health and reports Succeeded only if the version answers 200 with {"status": "ok"} and
the version being deployed. Failed stops the deployment; the alias never moves.
"""

from __future__ import annotations

import os
from typing import Any

from codedeploy_hook import LOG, client, invoke_health, run


def handler(event: dict[str, Any], context: Any = None, *, codedeploy: Any = None, lambda_client: Any = None) -> str:
    """Lambda entry point "pre_traffic.handler"; the keyword arguments let tests pass stand-in clients."""

    def check(seconds: float) -> None:
        target = os.environ["TARGET_VERSION_ARN"]
        LOG.info("invoking the new version %s with GET /health", target)
        _, body = invoke_health(lambda_client or client("lambda", seconds), target)
        LOG.info("the new version answered %s", body)

    return run(event, check, codedeploy, context)
