"""`copier update` on rendered services, with real tagged template repositories.

Migrations only run between tags, so each test copies the template into a git repo
in tmp_path, tags it, renders a service from the tag, changes and re-tags the
template, then updates the service.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

import gate
from helpers import copy_template

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def git(repo: Path, *args: str) -> str:
    import os

    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def tag(repo: Path, version: str) -> None:
    commit_all(repo, f"release {version}")
    git(repo, "tag", version)


@pytest.fixture
def template_repo(tmp_path) -> Path:
    repo = copy_template(tmp_path / "template-repo")
    git(repo, "init", "-q", "-b", "main")
    tag(repo, "v0.1.0")
    return repo


def render_service(template_repo: Path, dst: Path, ref: str, **answers) -> Path:
    run_copy(str(template_repo), str(dst), data=answers, defaults=True, unsafe=True, quiet=True, vcs_ref=ref)
    git(dst, "init", "-q", "-b", "main")
    commit_all(dst, "rendered")
    return dst


def update_service(service: Path, ref: str = "HEAD", **answers) -> None:
    run_update(str(service), data=answers, defaults=True, overwrite=True, unsafe=True, quiet=True, vcs_ref=ref)


def answers_of(service: Path) -> dict:
    return yaml.safe_load((service / ".copier-answers.yml").read_text())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_owner_edits_survive_and_template_changes_arrive(template_repo, tmp_path):
    service = render_service(template_repo, tmp_path / "orders", "v0.1.0", service_name="orders", runtime="python")

    # The owner changes the sample app, the README and the ignore file.
    edit(service / "app" / "routes.py", '"status": "ok"', '"status": "ok", "region": "eu"')
    with (service / "README.md").open("a") as readme:
        readme.write("\n## On call\n\nPage the orders team.\n")
    with (service / ".gitignore").open("a") as ignore:
        ignore.write("local-notes/\n")
    commit_all(service, "owner edits")

    # The template improves its README and its ignore file, and tags v0.2.0.
    edit(template_repo / "template" / "README.md.jinja", "## Run it locally", "## Run it on your machine")
    edit(template_repo / "template" / ".gitignore.jinja", "# Editors and OS", "# Editors, OS and local tools")
    tag(template_repo, "v0.2.0")

    update_service(service)

    readme = (service / "README.md").read_text()
    assert "## Run it on your machine" in readme, "the template change arrived"
    assert "Page the orders team." in readme, "the owner's README section is kept"
    ignore = (service / ".gitignore").read_text()
    assert "# Editors, OS and local tools" in ignore and "local-notes/" in ignore
    assert '"region": "eu"' in (service / "app" / "routes.py").read_text(), "the owner's app is never overwritten"
    assert answers_of(service)["_commit"] == "v0.2.0"


def test_a_conflicting_edit_shows_inline_markers_instead_of_being_lost(template_repo, tmp_path):
    service = render_service(template_repo, tmp_path / "orders", "v0.1.0", service_name="orders")
    edit(service / "README.md", "## Run it locally", "## Run it locally (see also docs/dev.md)")
    commit_all(service, "owner edit")

    edit(template_repo / "template" / "README.md.jinja", "## Run it locally", "## Run it on your machine")
    tag(template_repo, "v0.2.0")

    update_service(service)
    readme = (service / "README.md").read_text()
    assert "<<<<<<<" in readme and ">>>>>>>" in readme
    assert "## Run it locally (see also docs/dev.md)" in readme, "the owner's line is still there"
    assert "## Run it on your machine" in readme, "the template's line is offered beside it"


def test_sample_app_files_are_skipped_on_update_even_when_the_template_changes_them(template_repo, tmp_path):
    service = render_service(template_repo, tmp_path / "orders", "v0.1.0", service_name="orders", runtime="nodejs")
    before = (service / "src" / "app.js").read_text()

    app = next((template_repo / "template").glob("*nodejs*src*/app.js*"))
    app.write_text(app.read_text() + "\n// a change the owner did not ask for\n")
    tag(template_repo, "v0.2.0")

    update_service(service)
    assert (service / "src" / "app.js").read_text() == before


def test_changing_the_target_on_update_replaces_target_files(template_repo, tmp_path):
    service = render_service(template_repo, tmp_path / "orders", "v0.1.0", service_name="orders", target="lambda", strategy="canary")
    assert (service / "hooks").is_dir() and not (service / "Dockerfile").exists()

    update_service(service, ref="v0.1.0", target="ecs_fargate", strategy="rolling")
    commit_all(service, "switch to ECS rolling")
    recorded = answers_of(service)
    assert (recorded["target"], recorded["strategy"]) == ("ecs_fargate", "rolling")
    assert "canary_percent" not in recorded
    assert not (service / "hooks").exists(), "the Lambda hook functions are gone"
    assert (service / "Dockerfile").is_file()
    assert "AWS::ECS::Service" in (service / "infra" / "service.yml").read_text()
    assert "AWS::Serverless" not in (service / "infra" / "service.yml").read_text()
    assert not (service / "appspec.yaml").exists(), "rolling needs no appspec"

    update_service(service, ref="v0.1.0", strategy="canary")
    assert (service / "appspec.yaml").is_file() and (service / "taskdef.json").is_file()

    for check in (gate.run_cfn_lint, gate.run_yamllint, gate.run_shellcheck, gate.run_schemas):
        _, findings = check([service])
        assert not findings, findings


def test_check_update_reports_a_newer_version_then_none_after_the_update(template_repo, tmp_path):
    service = render_service(template_repo, tmp_path / "orders", "v0.1.0", service_name="orders")
    tag(template_repo, "v0.2.0")

    def check() -> dict:
        copier = Path(sys.executable).parent / "copier"
        proc = subprocess.run([str(copier), "check-update", "--output-format", "json", str(service)], capture_output=True, text=True)
        assert proc.returncode in (0, 2), proc.stderr
        return json.loads(proc.stdout)

    before = check()
    assert before["update_available"] is True
    assert before["current_version"] == "0.1.0" and before["latest_version"] == "0.2.0"

    update_service(service)
    commit_all(service, "update to v0.2.0")
    assert check()["update_available"] is False


def as_v0_1_0(template: Path) -> None:
    """Turn a copy of the template into v0.1.0's questionnaire, where an S3 source's
    bucket was the answer to `repository` (v0.2.0 moved it to `source_bucket`)."""
    config = yaml.safe_load((template / "copier.yml").read_text())
    config.pop("source_bucket")
    config.pop("_migrations")
    config["repository"].pop("when")
    config["repository"]["validator"] = (
        "{{ check.check_s3_bucket(repository) if source_provider == 's3' "
        "else check.check_repository(source_provider, repository) }}"
    )
    text = yaml.safe_dump(config, sort_keys=False, width=1000)
    (template / "copier.yml").write_text(text.replace("source_bucket", "repository"))
    for path in (template / "template").rglob("*.jinja"):
        content = path.read_text()
        if "source_bucket" in content:
            path.write_text(content.replace("source_bucket", "repository"))


def test_the_v0_2_0_migration_moves_the_s3_bucket_answer(tmp_path):
    template = copy_template(tmp_path / "template-repo")
    git(template, "init", "-q", "-b", "main")
    as_v0_1_0(template)
    tag(template, "v0.1.0")
    service = render_service(template, tmp_path / "orders", "v0.1.0", service_name="orders", source_provider="s3", repository="orders-drop")
    assert answers_of(service)["repository"] == "orders-drop"
    pipeline_before = (service / "infra" / "pipeline.yml").read_text()
    assert "S3Bucket: \"orders-drop\"" in pipeline_before

    copy_template(template)  # back to the current template: v0.2.0
    tag(template, "v0.2.0")
    update_service(service)

    answers = answers_of(service)
    assert answers["source_bucket"] == "orders-drop"
    assert "repository" not in answers
    assert answers["_commit"] == "v0.2.0"
    assert (service / "infra" / "pipeline.yml").read_text() == pipeline_before, "the rendered pipeline did not change"
    assert "<<<<<<<" not in (service / "README.md").read_text()


def test_the_migration_leaves_other_sources_alone(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "migrations"))
    from v0_2_0_source_bucket import migrate

    github = {"source_provider": "github", "repository": "my-org/orders"}
    assert migrate(github) is False and github == {"source_provider": "github", "repository": "my-org/orders"}
    s3 = {"source_provider": "s3", "repository": "orders-drop"}
    assert migrate(s3) is True and s3 == {"source_provider": "s3", "source_bucket": "orders-drop"}
    assert migrate(s3) is False, "running it twice changes nothing"
