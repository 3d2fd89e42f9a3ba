"""CodeDeploy AfterAllowTraffic hook (DeploymentPreference.Hooks.PostTraffic in infra/service.yml).

Runs once the alias sends all traffic to the new version. It invokes the alias (ALIAS_ARN) with
the request the function URL sends for GET /health and reports Succeeded only if the version
that ran is the new one (TARGET_VERSION_ARN) and it answered 200 with {"status": "ok"} and the
version being deployed. Failed makes CodeDeploy move the alias back to the old version.
"""

from __future__ import annotations

import os
from typing import Any

from codedeploy_hook import LOG, CheckFailed, client, invoke_health, run


def handler(event: dict[str, Any], context: Any = None, *, codedeploy: Any = None, lambda_client: Any = None) -> str:
    """Lambda entry point "post_traffic.handler"; the keyword arguments let tests pass stand-in clients."""

    def check(seconds: float) -> None:
        alias = os.environ["ALIAS_ARN"]
        new_version = os.environ["TARGET_VERSION_ARN"].rsplit(":", 1)[1]
        LOG.info("invoking %s with GET /health; expecting version %s to run", alias, new_version)
        executed, body = invoke_health(lambda_client or client("lambda", seconds), alias)
        if executed != new_version:
            raise CheckFailed(f"{alias} ran version {executed}, not the new version {new_version}")
        LOG.info("version %s answered %s through the alias", executed, body)

    return run(event, check, codedeploy, context)
