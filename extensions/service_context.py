"""Jinja extensions: look-ups, validators and escaping filters, and the render context.

`CatalogExtension` registers the data table's look-ups and the answer rules as
globals (copier.yml uses them for choices, defaults and validators) and the escaping
filters every template uses for values that came from answers.

`ServiceContextHook` adds, while files are rendered, the values derived from several
answers: `rt` (runtime row), `arch`, `deploy` (CodeDeploy configuration), `names`,
`secret_list`, `source`.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import pass_context
from jinja2.ext import Extension


def _load_sibling(stem: str):
    """Load a module that sits beside this file, fresh, without registering it.

    Copier loads this file anew for each template version it renders (an update renders
    the old and the new version in one process). A module kept in `sys.modules` under a
    fixed name would serve one version's data and rules to both, so each load executes
    its own copy of the siblings and keeps them only through this module.
    """
    path = Path(__file__).with_name(f"{stem}.py")
    spec = importlib.util.spec_from_file_location(f"copier_codepipeline_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


catalog = _load_sibling("catalog")
answers = _load_sibling("answers")


def yaml_str(value: Any) -> str:
    """A double-quoted scalar that YAML reads back as exactly `value`.

    A JSON string is a YAML double-quoted scalar, except that YAML takes a character
    beyond U+FFFF as one \\UXXXXXXXX escape, not as a JSON surrogate pair.
    """
    return _SURROGATE_PAIR.sub(_astral_escape, json.dumps(str(value)))


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def _astral_escape(match: re.Match) -> str:
    high, low = int(match[1], 16), int(match[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def json_str(value: Any) -> str:
    """A JSON string literal of `value` (also a valid TOML basic string)."""
    return json.dumps(str(value))


def shell_quote(value: Any) -> str:
    return shlex.quote(str(value))


class CatalogExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals.update(
            catalog=catalog,
            runtime_versions=catalog.runtime_versions,
            default_runtime_version=catalog.default_runtime_version,
            default_strategy=catalog.default_strategy,
            strategy_disabled_reason=catalog.strategy_disabled_reason,
            check=answers,
            check_strategy_detail=_check_strategy_detail,
            check_linear_rollout=_check_linear_rollout,
            controller_for=catalog.controller_for,
        )
        environment.filters.update(yaml_str=yaml_str, json_str=json_str, shell_quote=shell_quote)


@pass_context
def _check_strategy_detail(context, question: str, value: Any) -> str:
    """Range-check a strategy detail against the limits of the controller the answers so far pick."""
    controller = catalog.controller_for(_answers_so_far(context))
    return answers.check_strategy_detail(question, value, controller, catalog.STRATEGY_LIMITS)


@pass_context
def _check_linear_rollout(context, percent: Any, minutes: Any) -> str:
    controller = catalog.controller_for(_answers_so_far(context))
    return answers.check_linear_rollout(percent, minutes, controller, catalog.CODEDEPLOY_MAX_ROLLOUT_MINUTES)


def _answers_so_far(context) -> dict[str, Any]:
    """The answers a controller depends on; a question not asked yet reads as None."""
    return {key: context.get(key) for key in ("target", "strategy", "ecs_controller")}


def service_values(context: dict[str, Any]) -> dict[str, Any]:
    """Everything derived from several answers, computed once per render."""
    runtime = catalog.runtime_row(context["runtime"], str(context["runtime_version"]))
    return {
        "rt": runtime,
        "arch": catalog.ARCHITECTURES[context["architecture"]],
        "deploy": {**catalog.deployment_config(context), "summary": catalog.describe_deployment(context)},
        "names": answers.derived_names(context["service_name"], bool(context.get("staging"))),
        "secret_list": answers.parse_secrets(context.get("secrets")),
        "source": catalog.SOURCE_PROVIDERS[context["source_provider"]],
    }


class ServiceContextHook(ContextHook):
    """Adds the derived values to the context of every file Copier renders.

    One instance serves one Jinja environment, that is one render of one template
    version, so the values it keeps are never seen by another version or render.
    """

    def __init__(self, environment):
        super().__init__(environment)
        self._values: dict[str, dict[str, Any]] = {}

    def hook(self, context):
        # The hook also runs while questions are asked, when answers are missing.
        if str(context.get("_copier_phase")) != "render":
            return
        key = json.dumps({k: context.get(k) for k in _ANSWER_KEYS}, sort_keys=True, default=str)
        if key not in self._values:
            self._values[key] = service_values(context)
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
    "secrets",
    "source_provider",
)
