"""The data table and the answer rules as Jinja globals, for copier.yml and the templates.

`catalog` (the facts of catalog.py) and its look-ups give copier.yml its choices (text
and values both from the tables) and defaults; `check` (the rules of answers.py), `check_strategy_detail`,
`check_linear_rollout` and `check_ecs_rollout` are its validators. The last three read the answers they depend on
from the context (`@pass_context`), so no validator in copier.yml spells out a dict.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from jinja2.ext import Extension


def load_sibling(stem: str):
    """Load a module that sits beside this file, fresh, without registering it.

    Copier loads the extensions anew for each template version it renders (an update renders
    the old and the new version in one process). A module kept in `sys.modules` under a
    fixed name would serve one version's data and rules to both.
    """
    spec = importlib.util.spec_from_file_location(f"copier_codepipeline_{stem}", Path(__file__).with_name(f"{stem}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


catalog = load_sibling("catalog")
answers = load_sibling("answers")


@pass_context
def check_strategy_detail(context, question: str, value: Any) -> str:
    """Range-check a strategy detail against the limits of the controller the answers so far pick."""
    controller = catalog.controller_for(_answers_so_far(context))
    return answers.check_strategy_detail(question, value, controller, catalog.STRATEGY_LIMITS)


@pass_context
def check_linear_rollout(context, percent: Any, minutes: Any) -> str:
    controller = catalog.controller_for(_answers_so_far(context))
    return answers.check_linear_rollout(percent, minutes, controller, catalog.CODEDEPLOY_MAX_ROLLOUT_MINUTES)


@pass_context
def check_ecs_rollout(context, bake: Any) -> str:
    controller = catalog.controller_for(_answers_so_far(context))
    return answers.check_ecs_rollout(context.get("strategy"), bake, context.get("canary_minutes"), context.get("linear_percent"),
                                     context.get("linear_minutes"), controller, catalog.ECS_CLOUDFORMATION_MAX_ROLLOUT_MINUTES)


def _answers_so_far(context) -> dict[str, Any]:
    """The answers a controller depends on; a question not asked yet reads as None."""
    return {key: context.get(key) for key in ("target", "strategy", "ecs_controller")}


class DataTableGlobals(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals.update(
            catalog=catalog,
            choices=catalog.choices,
            runtime_versions=catalog.runtime_versions,
            default_runtime_version=catalog.default_runtime_version,
            default_strategy=catalog.default_strategy,
            strategy_disabled_reason=catalog.strategy_disabled_reason,
            controller_for=catalog.controller_for,
            check=answers,
            check_strategy_detail=check_strategy_detail,
            check_linear_rollout=check_linear_rollout,
            check_ecs_rollout=check_ecs_rollout,
        )
        environment.filters.update(with_env=answers.with_env)
