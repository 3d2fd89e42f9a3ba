"""Speed figures for the template (a benchmark, not a test: it prints, it never fails).

1. Default `copier copy` wall time, as a ratio to copying a one-file template
   (the part of the time that is this template's own work). Goal: at most 1.5.
   Both templates are git repositories with a release tag, as users run them: Copier
   clones the template and renders the newest tag.
2. Wall time of rendering the whole answer matrix and running the gate over it.
   Goal: at most 90 s on 2 cores.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import gate  # noqa: E402
from helpers import copy_template  # noqa: E402

RUNS = 7


def copy_seconds(template: Path, dst: Path) -> float:
    """Wall time of one `copier copy --defaults` through the CLI, as a user runs it."""
    copier = Path(sys.executable).parent / "copier"
    start = time.perf_counter()
    subprocess.run([str(copier), "copy", "--trust", "--defaults", "--quiet", str(template), str(dst)], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def copier_copy_seconds(templates: list[Path], work: Path) -> list[float]:
    """Median copy time of each template, their runs interleaved so that a slower moment of a
    busy machine weighs on both alike."""
    times: list[list[float]] = [[] for _ in templates]
    for run in range(RUNS):
        for index, template in enumerate(templates):
            times[index].append(copy_seconds(template, work / f"{template.name}-{run}"))
    return [statistics.median(series) for series in times]


def one_file_template(path: Path) -> Path:
    (path / "template").mkdir(parents=True)
    (path / "copier.yml").write_text("_subdirectory: template\nname:\n  type: str\n  default: demo\n")
    (path / "template" / "README.md.jinja").write_text("# {{ name }}\n")
    return path


def released(template: Path, version: str = "v1.0.0") -> Path:
    """Make a template folder a git repository whose one commit is tagged `version`."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(template), "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
                       check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "release")
    git("tag", version)
    return template


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = released(copy_template(work / "template"))
        baseline, ours = copier_copy_seconds([released(one_file_template(work / "baseline")), template], work)
        print(f"copier copy --defaults, one-file template: {baseline:.2f} s (median of {RUNS})")
        print(f"copier copy --defaults, this template:     {ours:.2f} s (median of {RUNS})")
        print(f"ratio: {ours / baseline:.2f} (goal <= 1.5)")

        start = time.perf_counter()
        renders = gate.render_matrix(template, work / "matrix")
        rendered = time.perf_counter() - start
        figures = {}
        for name, check in [("cfn-lint", gate.run_cfn_lint), ("checkov", gate.run_checkov), ("shellcheck", gate.run_shellcheck),
                            ("yamllint", gate.run_yamllint), ("schemas", gate.run_schemas)]:
            began = time.perf_counter()
            check(renders)
            figures[name] = time.perf_counter() - began
        total = time.perf_counter() - start
        print(f"matrix: {len(renders)} renders in {rendered:.1f} s; " + ", ".join(f"{k} {v:.1f} s" for k, v in figures.items()))
        print(f"matrix render + gate: {total:.1f} s (goal <= 90 s on 2 cores)")


if __name__ == "__main__":
    main()
