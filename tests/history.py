"""This repository's own release history, for update tests.

`released_template(tmp)` clones this repository (with its history) into `tmp`, tags every
release that CHANGELOG.md records with scripts/tag_releases.py (as a publisher does), then
commits the working tree on top and tags it as the next version: the "new" side of every
update test is the code under test, the "old" side is a real earlier release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from helpers import ROOT, TEMPLATE_PARTS

sys.path.insert(0, str(ROOT / "scripts"))

import tag_releases  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def recorded_releases() -> list[str]:
    """The release tags CHANGELOG.md records, oldest first."""
    return [release.tag for release in tag_releases.recorded_releases((ROOT / "CHANGELOG.md").read_text())]


def next_version(tag: str) -> str:
    """v0.2.0 -> v0.2.1: the version a test gives the code after `tag`."""
    major, minor, patch = Version(tag).release[:3]
    return f"v{major}.{minor}.{patch + 1}"


def working_tree_version(releases: list[tag_releases.Release]) -> str:
    """The version CHANGELOG.md's "(unreleased)" heading names, else the one after the last release.

    Migrations are gated on versions, so the working tree must carry the version it will be
    released as: tagged lower, an update from an older release would skip its migrations.
    """
    return tag_releases.unreleased_version((ROOT / "CHANGELOG.md").read_text()) or next_version(releases[-1].tag)


def missing_history() -> str:
    """Why this checkout cannot serve the history tests, or "" when it can."""
    shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True)
    if shallow.returncode != 0:
        return f"{ROOT} is not a git checkout: the update tests need this repository's history"
    if shallow.stdout.strip() == "true":
        return "this checkout is shallow: run `git fetch --unshallow` (.ci/run does) so the update tests can render recorded releases"
    for release in tag_releases.recorded_releases((ROOT / "CHANGELOG.md").read_text()):
        try:
            tag_releases.full_commit(ROOT, release.commit)
        except ValueError as error:
            return f"{release.tag}: {error}"
    return ""


@dataclass(frozen=True)
class ReleasedTemplate:
    path: Path
    releases: list[str]  # recorded releases, oldest first
    current: str  # the tag of the working tree's version

    @property
    def url(self) -> str:
        """How services record it: a URL, as Renovate needs (Copier wants `git+` before `file://`)."""
        return f"git+file://{self.path}"


def overlay_working_tree(repo: Path) -> None:
    """Replace the template's parts in `repo` with this checkout's working tree."""
    for part in (*TEMPLATE_PARTS, "CHANGELOG.md"):
        target = repo / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        elif source.exists():
            shutil.copy2(source, target)


def released_template(dst: Path) -> ReleasedTemplate:
    git(ROOT, "clone", "-q", "--no-hardlinks", str(ROOT), str(dst))
    releases = tag_releases.recorded_releases((ROOT / "CHANGELOG.md").read_text())
    tag_releases.tag_releases(dst, releases)
    overlay_working_tree(dst)
    commit_all(dst, "the working tree under test")
    current = working_tree_version(releases)
    git(dst, "tag", current)
    return ReleasedTemplate(dst, [release.tag for release in releases], current)


def release_next(template: ReleasedTemplate, message: str) -> ReleasedTemplate:
    """Commit what a test changed in `template.path` and tag it as the next version."""
    commit_all(template.path, message)
    tag = next_version(template.current)
    git(template.path, "tag", tag)
    return ReleasedTemplate(template.path, [*template.releases, template.current], tag)
