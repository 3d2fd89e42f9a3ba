"""scripts/tag_releases.py: the release tags come from CHANGELOG.md's headings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT
from history import commit_all, git, missing_history

sys.path.insert(0, str(ROOT / "scripts"))

import tag_releases  # noqa: E402

CHANGELOG = """# Changelog

## v0.3.0 (unreleased)

## v0.2.0 (2026-12-01, commit {second})

### Changes to rendered services
- ## not a heading: v9.9.9 (2026-01-01, commit abcdef0)

## v0.1.0 (2026-11-25, commit {first})
"""


@pytest.fixture
def repo(tmp_path) -> tuple[Path, str, str]:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "a.txt").write_text("one\n")
    commit_all(repo, "first")
    first = git(repo, "rev-parse", "--short", "HEAD").strip()
    (repo / "a.txt").write_text("two\n")
    commit_all(repo, "second")
    second = git(repo, "rev-parse", "--short", "HEAD").strip()
    (repo / "CHANGELOG.md").write_text(CHANGELOG.format(first=first, second=second))
    commit_all(repo, "changelog")
    return repo, first, second


def tags(repo: Path) -> dict[str, str]:
    lines = git(repo, "tag", "--list", "--format=%(refname:short) %(objectname:short)").split("\n")
    return dict(line.split() for line in lines if line)


def test_each_recorded_release_is_tagged_at_its_commit_and_nothing_else(repo):
    path, first, second = repo
    assert tag_releases.main(["--repo", str(path)]) == 0
    assert tags(path) == {"v0.1.0": first, "v0.2.0": second}, "no tag for the unreleased heading or the list item"


def test_running_it_twice_changes_nothing(repo, capsys):
    path, first, second = repo
    tag_releases.main(["--repo", str(path)])
    assert tag_releases.main(["--repo", str(path)]) == 0
    assert "v0.2.0: already at" in capsys.readouterr().out
    assert tags(path) == {"v0.1.0": first, "v0.2.0": second}


def test_dry_run_tags_nothing(repo, capsys):
    path, _, _ = repo
    assert tag_releases.main(["--repo", str(path), "--dry-run"]) == 0
    assert "v0.1.0: would tag" in capsys.readouterr().out
    assert tags(path) == {}


def test_a_tag_that_points_elsewhere_is_an_error_and_is_not_moved(repo, capsys):
    path, first, second = repo
    git(path, "tag", "v0.2.0", first)
    assert tag_releases.main(["--repo", str(path)]) == 1
    assert "tag v0.2.0 exists at" in capsys.readouterr().err
    assert tags(path)["v0.2.0"] == first


@pytest.mark.parametrize(
    ("heading", "words"),
    [
        ("## v0.4.0 (2026-12-09, commit 0000000)", "not in this repository's history"),
        ("## release-4 (2026-12-09, commit {first})", "not a PEP 440 version"),
    ],
)
def test_a_bad_heading_is_refused_with_a_reason(repo, capsys, heading, words):
    path, first, _ = repo
    with (path / "CHANGELOG.md").open("a") as changelog:
        changelog.write("\n" + heading.format(first=first) + "\n")
    assert tag_releases.main(["--repo", str(path)]) == 1
    assert words in capsys.readouterr().err


def test_the_unreleased_heading_names_the_next_version():
    assert tag_releases.unreleased_version(CHANGELOG) == "v0.3.0"
    assert tag_releases.unreleased_version("## v0.2.0 (2026-12-01, commit abcdef0)\n") is None


def test_this_repositorys_changelog_records_the_first_release_at_its_commit():
    releases = tag_releases.recorded_releases((ROOT / "CHANGELOG.md").read_text())
    assert releases[0].tag == "v0.1.0" and releases[0].commit == "1f3d7a9"
    assert [r.tag for r in releases] == sorted((r.tag for r in releases), key=tag_releases.Version)


def test_this_checkouts_history_holds_every_recorded_release():
    """The update tests skip without the history; here that is an error, loudly."""
    reason = missing_history()
    if reason and "shallow" in reason:
        pytest.skip(f"UPDATE TESTS NOT RUN: {reason}")
    assert reason == ""


def test_the_script_runs_as_a_publisher_runs_it(repo):
    path, first, second = repo
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "tag_releases.py"), "--repo", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"v0.1.0: tagged {first} (2026-11-25)" in proc.stdout
