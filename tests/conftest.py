from __future__ import annotations

from pathlib import Path

import pytest

from helpers import copy_template, render, render_many


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory) -> Path:
    return copy_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def render_service(template_dir, tmp_path):
    """Render a service into a fresh folder: render_service(runtime="python", ...)."""
    counter = iter(range(1000))

    def _render(**answers) -> Path:
        return render(template_dir, tmp_path / f"service{next(counter)}", **answers)

    return _render


@pytest.fixture(scope="session")
def suite_renders(request, template_dir, tmp_path_factory) -> dict[str, Path]:
    """Every answer set the selected tests read, rendered once for the session, in parallel:
    the gate's matrix ("matrix/<combo>") and each test module's render_sets() ("<module>/<case>")."""
    from gate import matrix_answer_sets

    sets = {f"matrix/{name}": answers for name, answers in matrix_answer_sets().items()}
    modules = {item.module for item in request.session.items if hasattr(item.module, "render_sets")}
    for module in sorted(modules, key=lambda module: module.__name__):
        for case, answers in module.render_sets().items():
            sets[f"{module.__name__}/{case}"] = answers
    return render_many(template_dir, tmp_path_factory.mktemp("renders"), sets)


@pytest.fixture(scope="session")
def matrix_renders(suite_renders) -> list[Path]:
    """Every valid (runtime, version, target, strategy), rendered once for the whole session."""
    return [path for name, path in suite_renders.items() if name.startswith("matrix/")]


@pytest.fixture(scope="module")
def renders(request, suite_renders) -> dict[str, Path]:
    """This module's render_sets(), by case name (rendered with the session's other renders)."""
    prefix = f"{request.module.__name__}/"
    return {name[len(prefix):]: path for name, path in suite_renders.items() if name.startswith(prefix)}


@pytest.fixture(scope="module")
def module_gate(gate_run, renders):
    """One gate tool's share of this module's renders: module_gate("cfn-lint") -> (files, findings)."""
    mine = list(renders.values())
    return lambda tool_name: gate_run.within(tool_name, mine)


@pytest.fixture(scope="session")
def gate_run(suite_renders):
    """cfn-lint, checkov, shellcheck, yamllint and the schemas, each run once over every render."""
    from gate import GateRun

    return GateRun(list(suite_renders.values()))


@pytest.fixture(scope="session")
def released(tmp_path_factory):
    """A clone of this repository with its recorded releases tagged and the working tree
    committed on top as the next version (see tests/history.py)."""
    from history import missing_history, released_template

    reason = missing_history()
    if reason:
        pytest.skip(f"UPDATE TESTS NOT RUN: {reason}")
    return released_template(tmp_path_factory.mktemp("history") / "copier-codepipeline")


@pytest.fixture
def released_copy(released, tmp_path):
    """Like `released`, but a clone of its own that a test may change and tag again."""
    from history import ReleasedTemplate, git

    path = tmp_path / "copier-codepipeline"
    git(released.path, "clone", "-q", str(released.path), str(path))
    return ReleasedTemplate(path, released.releases, released.current)
