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
import sys
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import FileSystemBytecodeCache
from jinja2.ext import Extension


def _load_sibling(stem: str):
    """Import a module that sits beside this file (Copier loads extensions by path)."""
    name = f"copier_codepipeline_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{stem}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
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
        environment.from_string = _compile_once(environment.from_string)
        # The template's files compile to the same code on every render: keep it in Jinja's
        # own per-user cache folder (keyed by file name and source checksum).
        if environment.bytecode_cache is None:
            environment.bytecode_cache = FileSystemBytecodeCache()


def _compile_once(from_string):
    """Copier compiles every file name and question string it renders, most of them
    many times over (benchmarks/render_benchmark.py); compile each source once."""
    compiled: dict[str, Any] = {}

    def cached(source, globals=None, template_class=None):
        if globals is not None or template_class is not None or not isinstance(source, str):
            return from_string(source, globals, template_class)
        if source not in compiled:
            compiled[source] = from_string(source)
        return compiled[source]

    return cached


def _check_strategy_detail(question: str, value: Any, answers_so_far: dict[str, Any]) -> str:
    controller = catalog.controller_for(answers_so_far)
    return answers.check_strategy_detail(question, value, controller, catalog.STRATEGY_LIMITS)


def _check_linear_rollout(percent: Any, minutes: Any, answers_so_far: dict[str, Any]) -> str:
    controller = catalog.controller_for(answers_so_far)
    return answers.check_linear_rollout(percent, minutes, controller, catalog.CODEDEPLOY_MAX_ROLLOUT_MINUTES)


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
    _cache: dict[str, dict[str, Any]] = {}

    def hook(self, context):
        # The hook also runs while questions are asked, when answers are missing.
        if str(context.get("_copier_phase")) != "render":
            return
        key = json.dumps({k: context.get(k) for k in _ANSWER_KEYS}, sort_keys=True, default=str)
        if key not in self._cache:
            self._cache[key] = service_values(context)
        context.update(self._cache[key])


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
