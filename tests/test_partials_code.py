"""Code that runs is code: every Lambda function the stacks inline is a plain `.py` file under
template/_partials/ that parses and imports as Python, and the stack inlines it unchanged."""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from helpers import ROOT, load_service, recorded_answers

PARTIALS = ROOT / "template" / "_partials"
CODE = sorted(PARTIALS.rglob("*.py"))
ECS = PARTIALS / "ecs_fargate"
PROBE_MARKER = "# -- pasted into the hooks from here --"


def import_source(path: Path, monkeypatch) -> types.ModuleType:
    """Import a partial as a module, as Lambda would import index.py, with stubbed AWS clients."""
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda name, **kwargs: object()))
    monkeypatch.syspath_prepend(str(path.parent))
    variables = {"LOAD_BALANCER": "app/orders/0123456789abcdef", "HOST": "orders.example.com", "TEST_SCHEME": "https",
                 "TEST_PORT": "9", "ATTEMPTS": "3", "RETRY_SECONDS": "0"}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_partials_hold_every_inline_function():
    assert {path.relative_to(PARTIALS).as_posix() for path in CODE} == {
        "ec2/deployment_group.py", "ecs_fargate/hook_codedeploy.py", "ecs_fargate/hook_ecs.py", "ecs_fargate/hook_probe.py",
    }


@pytest.mark.parametrize("path", CODE, ids=lambda path: path.name)
def test_each_function_parses_and_imports_as_python(path, monkeypatch):
    source = path.read_text()
    ast.parse(source, str(path))
    assert "{%" not in source and "{{" not in source, "no Jinja inside code"
    module = import_source(path, monkeypatch)
    assert callable(getattr(module, "handler", None) or getattr(module, "probe", None))


@pytest.mark.parametrize(("hook", "render"), [("hook_codedeploy.py", "ecs-canary-codedeploy"), ("hook_ecs.py", "ecs-canary-native")])
def test_a_stack_inlines_its_hook_with_the_probe_pasted_in(hook, render, ecs_hook_renders, monkeypatch):
    code = load_service(ecs_hook_renders[render])["Resources"]["TestTrafficCheck"]["Properties"]["Code"]["ZipFile"]
    source = (ECS / hook).read_text()
    probe = (ECS / "hook_probe.py").read_text().split(PROBE_MARKER)[1].lstrip()
    (import_line,) = [line for line in source.splitlines() if line.startswith("from hook_probe import probe")]
    assert code == source.replace(import_line, probe.rstrip("\n") + "\n"), "the source, with the probe in place of its import"
    module = import_source(ECS / hook, monkeypatch)
    assert module.probe is sys.modules["hook_probe"].probe, "imported, the hook uses hook_probe.py's own functions"
    assert module.test_urls is sys.modules["hook_probe"].test_urls


@pytest.fixture(scope="module")
def ecs_hook_renders(matrix_renders):
    """An ECS canary render of the session's matrix for each controller."""

    found = {}
    for render in matrix_renders:
        answers = recorded_answers(render)
        if (answers["target"], answers["strategy"]) == ("ecs_fargate", "canary"):
            found.setdefault(f"ecs-canary-{'native' if answers['ecs_controller'] == 'ecs' else 'codedeploy'}", render)
    assert len(found) == 2, "the matrix renders an ECS canary with each controller"
    return found
