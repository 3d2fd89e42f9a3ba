"""The render context: values derived from several answers, added while files are rendered.

`rt` (the runtime's row), `arch`, `deploy` (who deploys and with which configuration),
`names` (AWS names and `names.environments`), `secret_list` (the app's secrets),
`build_secret_list` (the build's), `secret_keys` and `source`, computed once per render from the
answers.
"""

from __future__ import annotations

import json
from typing import Any

from copier_template_extensions import ContextHook


def service_values(context: dict[str, Any], catalog, answers) -> dict[str, Any]:
    """Everything derived from several answers, computed once per render."""
    runtime = catalog.runtime_row(context["runtime"], str(context["runtime_version"]))
    return {
        "rt": runtime,
        "arch": catalog.ARCHITECTURES[context["architecture"]],
        "deploy": {**catalog.deployment_config(context), "summary": catalog.describe_deployment(context)},
        "names": answers.derived_names(context["service_name"], bool(context.get("staging")), bool(context.get("manual_approval"))),
        "secret_list": answers.parse_secrets(context.get("secrets")),
        "build_secret_list": answers.parse_secrets(context.get("build_secrets")),
        "secret_keys": answers.parse_kms_keys(context.get("secrets_kms_keys")) if context.get("secrets") or context.get("build_secrets") else [],
        "source": catalog.SOURCE_PROVIDERS[context["source_provider"]],
    }


class RenderContext(ContextHook):
    """Adds the derived values to the context of every file Copier renders.

    One instance serves one Jinja environment, that is one render of one template
    version, so the values it keeps are never seen by another version or render.
    """

    def __init__(self, environment):
        super().__init__(environment)
        # The data table and the rules this template version's data_table.py loaded for this
        # environment (it comes before this hook in copier.yml's _jinja_extensions).
        if "catalog" not in environment.globals:
            raise RuntimeError("extensions/data_table.py:DataTableGlobals must come before RenderContext in _jinja_extensions")
        self._catalog = environment.globals["catalog"]
        self._answers = environment.globals["check"]
        self._values: dict[str, dict[str, Any]] = {}

    def hook(self, context):
        # The hook also runs while questions are asked, when answers are missing.
        if str(context.get("_copier_phase")) != "render":
            return
        key = json.dumps({k: context.get(k) for k in _ANSWER_KEYS}, sort_keys=True, default=str)
        if key not in self._values:
            self._values[key] = service_values(context, self._catalog, self._answers)
        context.update(self._values[key])


_ANSWER_KEYS = (
    "service_name",
    "runtime",
    "runtime_version",
    "architecture",
    "target",
    "strategy",
    "ec2_batch",
    "ecs_controller",
    "bake_minutes",
    "canary_percent",
    "canary_minutes",
    "linear_percent",
    "linear_minutes",
    "staging",
    "manual_approval",
    "secrets",
    "build_secrets",
    "secrets_kms_keys",
    "source_provider",
)
