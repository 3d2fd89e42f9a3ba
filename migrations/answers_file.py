"""Shared by the migrations: rewrite a service's answers file with a migration function."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import yaml

HEADER = "# Changes here will be overwritten by Copier; use `copier update --data name=value` instead.\n"


def rewrite(path: str, migrate: Callable[[dict], bool], done: str) -> None:
    """Apply `migrate` to the answers in `path`; write them back and say `done` if it changed any."""
    answers_file = Path(path)
    answers = yaml.safe_load(answers_file.read_text()) or {}
    if migrate(answers):
        answers_file.write_text(HEADER + yaml.safe_dump(answers, sort_keys=True, default_flow_style=False))
        print(f"{done} in {path}")
