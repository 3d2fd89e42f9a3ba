from __future__ import annotations

from pathlib import Path

import pytest

from helpers import copy_template, render


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
def matrix_renders(template_dir, tmp_path_factory) -> list[Path]:
    """Every valid (runtime, version, target, strategy), rendered once for the whole session."""
    from gate import render_matrix

    return render_matrix(template_dir, tmp_path_factory.mktemp("matrix"))


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
