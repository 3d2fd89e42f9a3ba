"""Create the release tags that CHANGELOG.md records, for whoever publishes this repository.

Tags do not travel with commits, so every released version's CHANGELOG.md heading names
its commit: `## v0.2.0 (2026-12-01, commit 1a2b3c4)`. This script tags each of those
commits with its PEP 440 version (Copier and Renovate sort versions that way). It only
adds tags: a tag that exists at the same commit is left alone, one that points elsewhere
is an error. The heading of changes not released yet, `## v0.3.0 (unreleased)`, names the
version they will be released as; it is no release and gets no tag.

    python scripts/tag_releases.py            # tag every recorded release
    python scripts/tag_releases.py --dry-run  # print what it would tag
    git push origin --tags                    # then publish them
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^## (?P<tag>\S+) \((?P<date>\d{4}-\d{2}-\d{2}), commit (?P<commit>[0-9a-f]{7,40})\)\s*$")
UNRELEASED = re.compile(r"^## (?P<tag>v\S+) \(unreleased\)\s*$")


@dataclass(frozen=True)
class Release:
    tag: str
    date: str
    commit: str


def recorded_releases(changelog: str) -> list[Release]:
    """The releases CHANGELOG.md records, oldest first; raises ValueError on a bad version."""
    releases = []
    for line in changelog.splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        try:
            Version(match["tag"])
        except InvalidVersion:
            raise ValueError(f"{match['tag']!r} in CHANGELOG.md is not a PEP 440 version") from None
        releases.append(Release(match["tag"], match["date"], match["commit"]))
    return sorted(releases, key=lambda release: Version(release.tag))


def unreleased_version(changelog: str) -> str | None:
    """The version the unreleased changes will be released as, if CHANGELOG.md names one."""
    for line in changelog.splitlines():
        match = UNRELEASED.match(line)
        if match:
            Version(match["tag"])  # raises InvalidVersion (a ValueError) when it is none
            return match["tag"]
    return None


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def full_commit(repo: Path, commit: str) -> str:
    found = git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    if found.returncode != 0:
        raise ValueError(f"commit {commit} is not in this repository's history (a shallow clone? run `git fetch --unshallow`)")
    return found.stdout.strip()


def tag_releases(repo: Path, releases: list[Release], dry_run: bool = False) -> list[str]:
    """Tag each release's commit; returns one line per release saying what was done."""
    report = []
    for release in releases:
        commit = full_commit(repo, release.commit)
        existing = git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{release.tag}^{{commit}}")
        if existing.returncode == 0:
            if existing.stdout.strip() != commit:
                raise ValueError(f"tag {release.tag} exists at {existing.stdout.strip()[:7]}, but CHANGELOG.md records {release.commit}")
            report.append(f"{release.tag}: already at {release.commit}")
            continue
        if not dry_run:
            created = git(repo, "tag", release.tag, commit)
            if created.returncode != 0:
                raise ValueError(f"git tag {release.tag}: {created.stderr.strip()}")
        report.append(f"{release.tag}: {'would tag' if dry_run else 'tagged'} {release.commit} ({release.date})")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository to tag (default: this checkout)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be tagged, tag nothing")
    args = parser.parse_args(argv)
    try:
        releases = recorded_releases((args.repo / "CHANGELOG.md").read_text())
        for line in tag_releases(args.repo, releases, args.dry_run):
            print(line)
    except ValueError as error:
        print(f"tag_releases: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
