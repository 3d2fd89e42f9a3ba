"""Migration to v0.2.0: strategy details typed as whole numbers are stored as integers.

v0.1.0 asked `canary_percent` as a float, so its answers file says `canary_percent: 10.0`;
from v0.2.0 the strategy details are stored as typed (`10`; an ECS native canary may keep
`2.5`). Copier runs this in the service's folder before it renders the new version, with
the answers file's path as the only argument; it is a no-op when run twice.
"""

from __future__ import annotations

import sys

from answers_file import rewrite

DETAILS = ("canary_percent", "canary_minutes", "linear_percent", "linear_minutes", "bake_minutes")


def migrate(answers: dict) -> bool:
    """Turn whole floats (10.0) into integers (10) in place; True when something changed."""
    changed = False
    for key in DETAILS:
        value = answers.get(key)
        if isinstance(value, float) and value.is_integer():
            answers[key] = int(value)
            changed = True
    return changed


if __name__ == "__main__":
    rewrite(sys.argv[1], migrate, "copier-codepipeline v0.2.0: strategy details stored as whole numbers")
