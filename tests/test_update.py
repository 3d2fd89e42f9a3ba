"""`copier update` across this repository's real releases.

Every test renders services from tags placed on this repository's own history (see
tests/history.py): the old side of an update is a recorded release with its own
extension code and data table, the new side is the working tree. Tests that need a
newer version change a clone of that history and tag it, as a maintainer would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest
import yaml
from copier import run_copy, run_update
from packaging.version import Version

import gate
from helpers import ROOT, questionnaire, recorded_answers
from history import GIT_ENV, commit_all, git, recorded_releases, release_next
COPIER = str(Path(sys.executable).parent / "copier")
CONFLICT_MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.M)

# One service per target, and an S3 source (whose answer v0.2.0 renamed).
SERVICES = {
    "ecs": {"service_name": "orders"},
    "ec2": {"service_name": "billing", "target": "ec2", "strategy": "in_place", "runtime": "python"},
    "lambda": {"service_name": "quotes", "target": "lambda", "strategy": "canary", "runtime": "go", "canary_percent": 20},
    "s3": {"service_name": "reports", "target": "lambda", "strategy": "linear", "source_provider": "s3",
           "source_bucket": "reports-drop"},
}


# The VPC a service rendered before v0.3.0 was deployed into by hand: its owner gives the ids
# when updating (the v0.3.0 migration records network: existing, and the ids have no default).
EXISTING_VPC = {"vpc_id": "vpc-0123456789abcdef0", "public_subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
                "private_subnet_ids": "subnet-0123456789abcdef2,subnet-0123456789abcdef3"}


def network_answers(service: Path) -> dict:
    """What an owner passes with `copier update --data` to a service that runs in a VPC it already had."""
    before = recorded_answers(service)
    in_vpc = before.get("target", "ecs_fargate") != "lambda" and "network" not in before
    return EXISTING_VPC if in_vpc else {}


def answers_at(release: str, kind: str) -> dict:
    """SERVICES[kind] as that release asks it: before v0.2.0 an S3 source's bucket was the
    answer to `repository`."""
    answers = dict(SERVICES[kind])
    if "source_bucket" in answers and Version(release) < Version("v0.2.0"):
        answers["repository"] = answers.pop("source_bucket")
    return answers


def render_at(template, ref: str, dst: Path, **answers) -> Path:
    run_copy(template.url, str(dst), data=answers, defaults=True, unsafe=True, quiet=True, vcs_ref=ref)
    git(dst, "init", "-q", "-b", "main")
    commit_all(dst, f"rendered at {ref}")
    return dst


def update(service: Path, ref: str, **answers) -> None:
    run_update(str(service), data=answers, defaults=True, overwrite=True, unsafe=True, quiet=True, vcs_ref=ref)


def service_files(root: Path) -> dict[str, str]:
    """Every file of a service except the sample app (the owner's after the first render)."""
    owners = pathspec.PathSpec.from_lines("gitignore", questionnaire()["_skip_if_exists"])
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith(".git/") and not owners.match_file(relative):
            files[relative] = path.read_text()
    return files


def fresh_render(template, ref: str, answers: dict, dst: Path) -> Path:
    """The same answers rendered from scratch at `ref`."""
    given = {key: value for key, value in answers.items() if not key.startswith("_")}
    run_copy(template.url, str(dst), data=given, defaults=True, unsafe=True, quiet=True, vcs_ref=ref)
    return dst


def conflicts(service: Path) -> list[str]:
    """Files with conflict markers, .rej files and unmerged index entries."""
    found = [path for path, text in service_files(service).items() if CONFLICT_MARKER.search(text)]
    found += [str(path) for path in service.rglob("*.rej")]
    found += git(service, "diff", "--name-only", "--diff-filter=U").split()
    return found


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


# ---------------------------------------------------------------------------
# Every recorded release updates cleanly to the working tree
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SERVICES)
@pytest.mark.parametrize("release", recorded_releases())
def test_a_service_rendered_at_a_release_updates_to_a_fresh_render_of_the_new_version(released, tmp_path, release, kind):
    service = render_at(released, release, tmp_path / "service", **answers_at(release, kind))

    update(service, released.current, **network_answers(service))

    assert not conflicts(service), "a service nobody edited updates without conflicts"
    answers = recorded_answers(service)
    assert answers["_commit"] == released.current
    fresh = fresh_render(released, released.current, answers, tmp_path / "fresh")
    updated, expected = service_files(service), service_files(fresh)
    assert sorted(updated) == sorted(expected), "the same files as a fresh render: new ones added, old ones gone"
    for path, text in expected.items():
        assert updated[path] == text, f"{path} differs from a fresh render of {released.current}"


@pytest.mark.parametrize("release", [tag for tag in recorded_releases() if Version(tag) < Version("v0.2.0")])
def test_the_v0_2_0_migrations_run_on_update(released, tmp_path, release):
    service = render_at(released, release, tmp_path / "service", **answers_at(release, "s3"))
    assert recorded_answers(service)["repository"] == "reports-drop"
    lambda_service = render_at(released, release, tmp_path / "lambda", **SERVICES["lambda"])
    assert recorded_answers(lambda_service)["canary_percent"] == 20.0

    update(service, released.current)
    update(lambda_service, released.current)

    answers = recorded_answers(service)
    assert answers["source_bucket"] == "reports-drop" and "repository" not in answers
    assert 'S3Bucket: "reports-drop"' in (service / "infra" / "pipeline.yml").read_text()
    recorded = (lambda_service / ".copier-answers.yml").read_text()
    assert "canary_percent: 20\n" in recorded, "a whole number is stored as one"


def test_owner_edits_survive_an_update_from_the_first_release(released, tmp_path):
    first = released.releases[0]
    service = render_at(released, first, tmp_path / "orders", service_name="orders", runtime="python")
    edit(service / "app" / "routes.py", '"status": "ok"', '"status": "ok", "region": "eu"')
    # Away from lines the template changed since (git merges neighbouring changes as a conflict).
    edit(service / "README.md", "## What was generated", "## On call\n\nPage the orders team.\n\n## What was generated")
    with (service / ".gitignore").open("a") as ignore:
        ignore.write("local-notes/\n")
    with (service / "buildspec.yml").open("a") as buildspec:
        buildspec.write("# Owner's note: keep the reports for the audit.\n")
    commit_all(service, "owner edits")

    update(service, released.current, **network_answers(service))

    assert not conflicts(service)
    assert "Page the orders team." in (service / "README.md").read_text()
    assert "local-notes/" in (service / ".gitignore").read_text()
    assert "# Owner's note: keep the reports for the audit." in (service / "buildspec.yml").read_text()
    assert '"region": "eu"' in (service / "app" / "routes.py").read_text(), "the owner's app is never overwritten"
    fresh = service_files(fresh_render(released, released.current, recorded_answers(service), tmp_path / "fresh"))
    assert (service / "infra" / "pipeline.yml").read_text() == fresh["infra/pipeline.yml"], "the template's changes arrived"


# ---------------------------------------------------------------------------
# A release that changes only the data table reaches services
# ---------------------------------------------------------------------------


def test_a_data_table_only_release_reaches_an_updated_service(released_copy, tmp_path):
    service = render_at(released_copy, released_copy.current, tmp_path / "orders", service_name="orders", runtime="nodejs")
    assert "/root/.npm/**/*" in (service / "buildspec.yml").read_text()

    edit(released_copy.path / "extensions" / "catalog.py", '"cache_paths": ["/root/.npm/**/*"]', '"cache_paths": ["/root/.npm/_cacache/**/*"]')
    newer = release_next(released_copy, "npm cache: only the content cache")
    update(service, newer.current)

    buildspec = (service / "buildspec.yml").read_text()
    assert "/root/.npm/_cacache/**/*" in buildspec and "/root/.npm/**/*" not in buildspec
    assert recorded_answers(service)["_commit"] == newer.current
    fresh = fresh_render(newer, newer.current, recorded_answers(service), tmp_path / "fresh")
    assert service_files(service) == service_files(fresh)


def test_sample_app_files_are_skipped_on_update_even_when_the_template_changes_them(released_copy, tmp_path):
    service = render_at(released_copy, released_copy.current, tmp_path / "orders", service_name="orders", runtime="nodejs")
    before = (service / "src" / "app.js").read_text()

    app = next((released_copy.path / "template").glob("*nodejs*src*/app.js*"))
    app.write_text(app.read_text() + "\n// a change the owner did not ask for\n")
    update(service, release_next(released_copy, "sample app change").current)

    assert (service / "src" / "app.js").read_text() == before


# ---------------------------------------------------------------------------
# Conflicts stop loudly
# ---------------------------------------------------------------------------


def test_a_conflicting_edit_is_marked_inline_listed_by_git_and_refused_by_pre_commit(released_copy, tmp_path):
    service = render_at(released_copy, released_copy.current, tmp_path / "orders", service_name="orders")
    edit(service / "README.md", "## Run it locally", "## Run it locally (see also docs/dev.md)")
    commit_all(service, "owner edit")

    edit(released_copy.path / "template" / "README.md.jinja", "## Run it locally", "## Run it on your machine")
    update(service, release_next(released_copy, "README wording").current)

    readme = (service / "README.md").read_text()
    assert "## Run it locally (see also docs/dev.md)" in readme, "the owner's line is still there"
    assert "## Run it on your machine" in readme, "the template's line is offered beside it"
    assert git(service, "diff", "--name-only", "--diff-filter=U").split() == ["README.md"], \
        "the command _message_after_update gives lists exactly the conflicted file"
    assert "README.md" in conflict_hook_findings(service)


def conflict_hook_findings(service: Path) -> str:
    """Run the rendered pre-commit config's offline conflict check over the service."""
    config = yaml.safe_load((service / ".pre-commit-config.yaml").read_text())
    local = [repo for repo in config["repos"] if repo["repo"] == "local"]
    offline = service / ".offline-hooks.yaml"
    offline.write_text(yaml.safe_dump({"repos": local}))
    proc = subprocess.run([str(Path(sys.executable).parent / "pre-commit"), "run", "--config", str(offline), "--all-files"],
                          cwd=service, capture_output=True, text=True)
    offline.unlink()
    return proc.stdout if proc.returncode else ""


def test_the_conflict_check_passes_a_clean_service(render_service, tmp_path):
    service = render_service(service_name="orders")
    git(service, "init", "-q", "-b", "main")
    commit_all(service, "rendered")
    assert conflict_hook_findings(service) == ""


def test_the_message_after_update_says_how_to_find_conflicts_and_recover():
    message = questionnaire()["_message_after_update"]
    assert "git diff --name-only --diff-filter=U" in message
    assert "copier recopy" in message


def test_the_fleet_loop_stops_on_conflicts(released_copy, tmp_path):
    """docs/platform-teams.md's loop, run over one clean and one conflicting service."""
    loop = fleet_loop()
    services = tmp_path / "services"
    clean = render_at(released_copy, released_copy.current, services / "clean", service_name="clean")
    edited = render_at(released_copy, released_copy.current, services / "edited", service_name="edited")
    edit(edited / "README.md", "## Run it locally", "## Run it locally (see also docs/dev.md)")
    commit_all(edited, "owner edit")
    edit(released_copy.path / "template" / "README.md.jinja", "## Run it locally", "## Run it on your machine")
    newer = release_next(released_copy, "README wording")

    script = loop.replace("v0.3.0", newer.current)
    env = {**os.environ, **GIT_ENV, "PATH": f"{Path(COPIER).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env)

    assert "template-" + newer.current in git(clean, "branch", "--show-current")
    assert git(clean, "log", "-1", "--format=%s").startswith("Update copier-codepipeline to"), "the clean service was committed"
    assert git(edited, "log", "-1", "--format=%s").strip() == "owner edit", "the conflicted service was not committed"
    assert proc.returncode != 0 and "Stopped on conflict" in proc.stderr and "edited" in proc.stderr


def fleet_loop() -> str:
    text = (ROOT / "docs" / "platform-teams.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    loops = [block for block in blocks if "for repo in services" in block]
    assert len(loops) == 1, "docs/platform-teams.md shows one fleet loop"
    return loops[0]


# ---------------------------------------------------------------------------
# The commands users and Renovate run
# ---------------------------------------------------------------------------


def run(cmd: list[str] | str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, shell=isinstance(cmd, str))


RENOVATE = ["update", "--skip-answered", "--defaults", "--trust", "--answers-file", ".copier-answers.yml", "--vcs-ref"]


@pytest.mark.parametrize("release", recorded_releases())
def test_renovates_command_line_updates_a_release(released, tmp_path, release):
    service = render_at(released, release, tmp_path / "service", **SERVICES["lambda"])
    cmd = [COPIER, *RENOVATE, released.current]

    proc = run(cmd, service)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert recorded_answers(service)["_commit"] == released.current
    assert not conflicts(service)
    assert recorded_answers(service)["_src_path"].startswith("git+file://"), "a URL Renovate's copier manager accepts"


@pytest.mark.parametrize("release", recorded_releases())
def test_a_service_in_its_own_vpc_stops_for_the_vpc_ids_instead_of_moving(released, tmp_path, release):
    """Before v0.3.0 an ECS or EC2 service ran in a VPC its owner chose. An unattended update must
    neither move it to a new VPC nor half-update: it stops, naming the question to answer, and
    the same command with the answers goes through."""
    service = render_at(released, release, tmp_path / "service", **SERVICES["ecs"])

    proc = run([COPIER, *RENOVATE, released.current], service)

    assert proc.returncode != 0
    assert "vpc_id" in proc.stderr and "give a VPC id" in proc.stderr, proc.stderr[-2000:]
    # The migrations ran first and recorded the VPC the service has; no file of the service changed.
    assert git(service, "status", "--porcelain").split() == ["M", ".copier-answers.yml"]
    assert recorded_answers(service)["network"] == "existing"

    git(service, "checkout", "--", ".copier-answers.yml")  # the next job starts from the repository as it is
    proc = run([COPIER, *RENOVATE, released.current, *[arg for key, value in EXISTING_VPC.items()
                                                       for arg in ("--data", f"{key}={value}")]], service)
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = recorded_answers(service)
    assert answers["network"] == "existing" and answers["vpc_id"] == EXISTING_VPC["vpc_id"]
    parameters = json.loads((service / "infra" / "environments" / "prod.json").read_text())["Parameters"]
    assert parameters["VpcId"] == EXISTING_VPC["vpc_id"]
    assert not (service / "infra" / "network.yml").exists()


def quick_start_commands() -> list[str]:
    """The shell lines of README.md's quick start, in order."""
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)[1]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_the_quick_start_records_a_source_that_check_update_and_update_can_use(released_copy, tmp_path):
    commands = quick_start_commands()
    copy = next(line for line in commands if line.startswith("copier copy"))
    assert "../my-service" in copy
    # Run it as README says: from the checkout (here a clone with the releases tagged).
    proc = run(copy.replace("copier", shlex.quote(COPIER), 1), released_copy.path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    service = released_copy.path.parent / "my-service"
    recorded = recorded_answers(service)
    assert recorded["_src_path"] != "." and recorded["_src_path"].startswith(("git+file:///", "https://"))
    assert recorded["_commit"] == released_copy.current
    git(service, "init", "-q", "-b", "main")
    commit_all(service, "start")

    newer = release_next(released_copy, "a later release")
    check = run([COPIER, "check-update", "--output-format", "json"], service)
    assert check.returncode in (0, 2), check.stderr
    assert json.loads(check.stdout)["update_available"] is True

    proc = run([COPIER, "update", "--trust", "--defaults"], service)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert recorded_answers(service)["_commit"] == newer.current
    commit_all(service, "update")
    assert json.loads(run([COPIER, "check-update", "--output-format", "json"], service).stdout)["update_available"] is False


# ---------------------------------------------------------------------------
# Changing answers on update
# ---------------------------------------------------------------------------


def test_changing_the_target_on_update_replaces_target_files(released, tmp_path):
    service = render_at(released, released.current, tmp_path / "orders", service_name="orders", target="lambda", strategy="canary")
    assert (service / "hooks").is_dir() and not (service / "Dockerfile").exists()

    update(service, released.current, target="ecs_fargate", strategy="rolling")
    commit_all(service, "switch to ECS rolling")
    recorded = recorded_answers(service)
    assert (recorded["target"], recorded["strategy"]) == ("ecs_fargate", "rolling")
    assert "canary_percent" not in recorded
    assert not (service / "hooks").exists(), "the Lambda hook functions are gone"
    assert (service / "Dockerfile").is_file()
    assert "AWS::ECS::Service" in (service / "infra" / "service.yml").read_text()
    assert "AWS::Serverless" not in (service / "infra" / "service.yml").read_text()
    assert not (service / "appspec.yaml").exists(), "rolling needs no appspec"

    update(service, released.current, strategy="canary")
    assert (service / "appspec.yaml").is_file() and (service / "taskdef.json").is_file()

    for check in (gate.run_cfn_lint, gate.run_yamllint, gate.run_shellcheck, gate.run_schemas):
        _, findings = check([service])
        assert not findings, findings


# ---------------------------------------------------------------------------
# Migrations and the release script, as functions
# ---------------------------------------------------------------------------


def load_migration(name: str):
    sys.path.insert(0, str(ROOT / "migrations"))
    return __import__(name)


def test_the_bucket_migration_leaves_other_sources_alone():
    migrate = load_migration("v0_2_0_source_bucket").migrate
    github = {"source_provider": "github", "repository": "my-org/orders"}
    assert migrate(github) is False and github == {"source_provider": "github", "repository": "my-org/orders"}
    s3 = {"source_provider": "s3", "repository": "orders-drop"}
    assert migrate(s3) is True and s3 == {"source_provider": "s3", "source_bucket": "orders-drop"}
    assert migrate(s3) is False, "running it twice changes nothing"


def test_the_network_migration_keeps_vpc_services_in_their_vpc_and_leaves_the_rest():
    migrate = load_migration("v0_3_0_existing_network").migrate
    for before, after in [
        ({"target": "ecs_fargate"}, {"target": "ecs_fargate", "network": "existing"}),
        ({"target": "ec2"}, {"target": "ec2", "network": "existing"}),
        ({"target": "lambda"}, {"target": "lambda"}),
        ({"target": "ec2", "network": "create"}, {"target": "ec2", "network": "create"}),
    ]:
        answers = dict(before)
        assert migrate(answers) == (before != after)
        assert answers == after
        assert not migrate(answers), "a second run changes nothing"


def test_the_whole_number_migration_keeps_fractions():
    migrate = load_migration("v0_2_0_whole_numbers").migrate
    answers = {"canary_percent": 10.0, "canary_minutes": 5, "bake_minutes": 0.0, "service_name": "orders"}
    assert migrate(answers) is True
    assert answers == {"canary_percent": 10, "canary_minutes": 5, "bake_minutes": 0, "service_name": "orders"}
    assert all(type(answers[key]) is int for key in ("canary_percent", "bake_minutes"))
    ecs_native = {"canary_percent": 2.5}
    assert migrate(ecs_native) is False and ecs_native == {"canary_percent": 2.5}
