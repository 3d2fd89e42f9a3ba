"""Shared helpers for the tests: the questionnaire as data, and rendering."""

from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "extensions"))

import answers as answer_rules  # noqa: E402,F401  (re-exported for the tests)
import catalog  # noqa: E402

TEMPLATE_PARTS = ("copier.yml", "template", "extensions", "migrations")


def questionnaire() -> dict[str, Any]:
    """copier.yml as data: the single source of truth for the answer matrix."""
    return yaml.safe_load((ROOT / "copier.yml").read_text())


def choices_of(question: str, **answers: Any) -> dict[str, Any]:
    """What copier.yml offers for a choice question, {text shown: value or {value, validator}},
    with its Jinja expression evaluated as Copier does (rendered, then parsed as YAML)."""
    choices = questionnaire()[question]["choices"]
    if isinstance(choices, str):
        choices = yaml.safe_load(_validator_environment().from_string(choices).render(answers))
    return choices


def choice_values(question: str) -> list[Any]:
    return [value["value"] if isinstance(value, dict) else value for value in choices_of(question).values()]


def strategy_combinations() -> list[tuple[str, str, str, str]]:
    """Every (runtime, runtime_version, target, strategy) the questionnaire accepts."""
    combos = []
    for runtime, target, strategy in itertools.product(choice_values("runtime"), choice_values("target"), choice_values("strategy")):
        if catalog.strategy_disabled_reason(target, strategy):
            continue
        for version in catalog.runtime_versions(runtime):
            combos.append((runtime, version, target, strategy))
    return combos


def invalid_strategy_combinations() -> list[tuple[str, str]]:
    return [
        (target, strategy)
        for target, strategy in itertools.product(choice_values("target"), choice_values("strategy"))
        if catalog.strategy_disabled_reason(target, strategy)
    ]


def copy_template(dst: Path) -> Path:
    """A plain (non-git) copy of the template: rendering from it skips Copier's git clone."""
    dst.mkdir(parents=True, exist_ok=True)
    for part in TEMPLATE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dst / part, ignore=shutil.ignore_patterns("__pycache__", "node_modules"), dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst / part)
    return dst


def render(template: Path, dst: Path, **answers: Any) -> Path:
    """Render the service with defaults plus `answers`; raises what Copier raises."""
    run_copy(str(template), str(dst), data=answers, defaults=True, unsafe=True, quiet=True, overwrite=True)
    return dst


def _render_job(job: tuple[str, str, dict[str, Any]]) -> str:
    template, dst, answers = job
    render(Path(template), Path(dst), **answers)
    return dst


def render_many(template: Path, out: Path, answer_sets: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """Render each named answer set into out/<name>, in parallel (one process per core)."""
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(str(template), str(out / name), answers) for name, answers in answer_sets.items()]
    with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 2) or 1) as pool:
        rendered = list(pool.map(_render_job, jobs))
    return {name: Path(dst) for name, dst in zip(answer_sets, rendered)}


def load_cfn(path: Path) -> dict[str, Any]:
    """A CloudFormation template with its short-form tags in long form ({"Fn::Sub": ...})."""
    from cfnlint.decode.cfn_yaml import loads

    return loads(path.read_text(), str(path))


def load_pipeline(render_dir: Path) -> dict[str, Any]:
    return load_cfn(render_dir / "infra" / "pipeline.yml")


def load_service(render_dir: Path) -> dict[str, Any]:
    return load_cfn(render_dir / "infra" / "service.yml")


def combo_name(combo: tuple[Any, ...]) -> str:
    return "-".join(str(part) for part in combo).replace(".", "_")


@functools.cache
def _validator_environment():
    """A Jinja environment with the template's own globals (loaded from extensions/ by path, as
    Copier loads them), to evaluate copier.yml's validator expressions without a render."""
    import importlib.util

    from jinja2.sandbox import SandboxedEnvironment

    spec = importlib.util.spec_from_file_location("data_table_for_validators", ROOT / "extensions" / "data_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    environment = SandboxedEnvironment(extensions=[module.DataTableGlobals])
    environment.filters["to_json"] = json.dumps
    return environment


@functools.cache
def _plain_defaults() -> dict[str, Any]:
    """The questionnaire's defaults that are values, not Jinja expressions."""
    return {name: spec["default"] for name, spec in questionnaire().items()
            if isinstance(spec, dict) and "default" in spec and "{{" not in str(spec["default"])}


def validation_message(question: str, value: Any, **answers: Any) -> str:
    """What copier.yml's validator of `question` says of `value` ("" when it accepts it), with
    the questionnaire's plain defaults for the other answers, overridden by `answers`."""
    context = {**_plain_defaults(), "service_name": "orders", **answers, question: value}
    return _validator_environment().from_string(questionnaire()[question]["validator"]).render(context).strip()


def load_buildspec(render_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((render_dir / "buildspec.yml").read_text())


def as_list(value: Any) -> list[Any]:
    """A CloudFormation or buildspec value that may be one item or a list, as a list."""
    return value if isinstance(value, list) else [value]


def report(findings: list[str], limit: int = 60) -> str:
    """Tool findings for an assertion message: the first `limit`, and how many more."""
    return "\n".join(findings[:limit]) + (f"\n... and {len(findings) - limit} more" if len(findings) > limit else "")


def policy_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements; a statement written as Fn::If counts with both branches."""
    statements = []
    for statement in document["Statement"]:
        if "Fn::If" in statement:
            statements += [branch for branch in statement["Fn::If"][1:] if branch != {"Ref": "AWS::NoValue"}]
        else:
            statements.append(statement)
    return statements


def handler_permissions(type_name: str, handlers: tuple[str, ...]) -> set[str]:
    """The IAM permissions CloudFormation's resource handlers of a type need, from the type's registry
    schema (handlers.<name>.permissions) in the copy cfn-lint ships."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_name).schema
    return {permission for name in handlers for permission in schema.get("handlers", {}).get(name, {}).get("permissions", [])}


def allows(actions: list[str], permission: str) -> bool:
    """Whether one of the policy's actions (wildcards allowed; IAM compares without case) grants the permission."""
    import fnmatch

    return any(fnmatch.fnmatchcase(permission.lower(), action.lower()) for action in actions)


def recorded_answers(render_dir: Path) -> dict[str, Any]:
    """The answers a render recorded in its `.copier-answers.yml`."""
    return yaml.safe_load((render_dir / ".copier-answers.yml").read_text())


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    """A CloudFormation template's resources of one type, by logical id."""
    return {name: res for name, res in template["Resources"].items() if res["Type"] == type_name}


def environments_of(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """names.environments for these answers (service_name, staging, manual_approval), as the templates see it."""
    return answer_rules.derived_names(answers["service_name"], bool(answers.get("staging")), bool(answers.get("manual_approval")))["environments"]


def environment_stage_statements(render_dir: Path) -> dict[str, dict[str, Any]]:
    """By Sid, the statements of the pipeline role's inline policy for the environment stages
    (infra/deploy-role.yml's PipelineRoleEnvironmentsPolicy)."""
    policy = load_cfn(render_dir / "infra" / "deploy-role.yml")["Resources"]["PipelineRoleEnvironmentsPolicy"]["Properties"]
    return {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}


def deploy_policies(render_dir: Path) -> list[dict[str, Any]]:
    """DeployRole's policy documents: its inline ones and the managed ones attached to it."""
    resources = load_cfn(render_dir / "infra" / "deploy-role.yml")["Resources"]
    inline = [policy["PolicyDocument"] for policy in resources["DeployRole"]["Properties"]["Policies"]]
    managed = [resource["Properties"]["PolicyDocument"] for resource in resources.values()
               if resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": "DeployRole"} in resource["Properties"].get("Roles", [])]
    return inline + managed
