"""Migration to v0.2.0: an S3 source's bucket moves from `repository` to `source_bucket`.

Copier runs this in the service's folder before it renders the new version, with the
answers file's path as the only argument. It only touches services whose source is S3,
and it is a no-op when run twice.
"""

from __future__ import annotations

import sys

from answers_file import rewrite


def migrate(answers: dict) -> bool:
    """Rename the answer in place; True when something changed."""
    if answers.get("source_provider") != "s3" or "repository" not in answers or "source_bucket" in answers:
        return False
    answers["source_bucket"] = answers.pop("repository")
    return True


if __name__ == "__main__":
    rewrite(sys.argv[1], migrate, "copier-codepipeline v0.2.0: moved the S3 bucket answer from 'repository' to 'source_bucket'")
