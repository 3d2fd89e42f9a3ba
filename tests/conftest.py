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
