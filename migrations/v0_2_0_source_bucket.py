"""Migration to v0.2.0: an S3 source's bucket moves from `repository` to `source_bucket`.

Copier runs this in the service's folder before it renders the new version, with the
answers file's path as the only argument. It only touches services whose source is S3,
and it is a no-op when run twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HEADER = "# Changes here will be overwritten by Copier; use `copier update --data name=value` instead.\n"


def migrate(answers: dict) -> bool:
    """Rename the answer in place; True when something changed."""
    if answers.get("source_provider") != "s3" or "repository" not in answers or "source_bucket" in answers:
        return False
    answers["source_bucket"] = answers.pop("repository")
    return True


def main(path: str) -> None:
    answers_file = Path(path)
    answers = yaml.safe_load(answers_file.read_text()) or {}
    if migrate(answers):
        answers_file.write_text(HEADER + yaml.safe_dump(answers, sort_keys=True, default_flow_style=False))
        print(f"copier-codepipeline v0.2.0: moved the S3 bucket answer from 'repository' to 'source_bucket' in {path}")


if __name__ == "__main__":
    main(sys.argv[1])
