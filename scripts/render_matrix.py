"""Render the answer matrix into a folder, to diff the rendered output of two revisions.

    python scripts/render_matrix.py /tmp/before        # on the old revision
    python scripts/render_matrix.py /tmp/after         # on the new one
    diff -r /tmp/before /tmp/after                     # what a change did to services

It renders the gate's matrix (every runtime, version, target and strategy, with the other
answers rotating) and a few answer sets the matrix leaves out (EC2 batches, custom
CodeDeploy configurations, secrets on every target), from this checkout's working tree.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import gate  # noqa: E402
from helpers import combo_name, copy_template, render_many  # noqa: E402

SECRETS = "DB_PASSWORD=secretsmanager:orders/db,API_KEY=ssm:/orders/api-key"
EXTRA_ANSWER_SETS = {
    "ec2-blue_green-one-secrets": {"target": "ec2", "strategy": "blue_green", "ec2_batch": "one", "secrets": SECRETS},
    "ec2-in_place-all": {"target": "ec2", "strategy": "in_place", "ec2_batch": "all", "runtime": "java"},
    "ecs-canary-codedeploy-custom": {"target": "ecs_fargate", "strategy": "canary", "ecs_controller": "codedeploy",
                                     "canary_percent": 25, "canary_minutes": 7, "secrets": SECRETS},
    "ecs-linear-ecs-native": {"target": "ecs_fargate", "strategy": "linear", "ecs_controller": "ecs", "linear_percent": 25,
                              "linear_minutes": 0, "bake_minutes": 3},
    "lambda-linear-custom-secrets": {"target": "lambda", "strategy": "linear", "linear_percent": 20, "linear_minutes": 4,
                                     "secrets": SECRETS, "runtime": "python"},
    "lambda-blue_green-s3": {"target": "lambda", "strategy": "blue_green", "source_provider": "s3", "staging": False},
}


def answer_sets() -> dict[str, dict]:
    sets = {}
    for answers in gate.matrix_answers():
        sets[combo_name((answers["runtime"], answers["runtime_version"], answers["target"], answers["strategy"]))] = answers
    for name, answers in EXTRA_ANSWER_SETS.items():
        sets[name] = {"service_name": "orders", **answers}
    return sets


def main(out: str) -> None:
    # One fixed template folder, so that `_src_path` is the same in both renders.
    template = Path(tempfile.gettempdir()) / "copier-codepipeline-render-matrix"
    shutil.rmtree(template, ignore_errors=True)
    rendered = render_many(copy_template(template), Path(out), answer_sets())
    shutil.rmtree(template)
    print(f"rendered {len(rendered)} services into {out}")


if __name__ == "__main__":
    main(sys.argv[1])
