"""buildspec.yml runs: its install, pre_build and build commands pass in a rendered service.

For Node.js and Python, on the EC2 and Lambda targets, the rendered buildspec's commands run
with bash in the rendered folder, as CodeBuild runs them: one shell, stopping at the first
failure, with the build project's variables set to stand-ins. Commands that only work inside
AWS are skipped (see `needs_aws`). Then the declared test reports and artifacts must exist.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import catalog, render

RUNTIMES = ["nodejs", "python"]
TARGETS = ["ec2", "lambda"]
CASES = [(runtime, target) for runtime in RUNTIMES for target in TARGETS]
PHASES = ("install", "pre_build", "build")
SECRETS = "DB_PASSWORD=secretsmanager:orders/db,API_KEY=ssm:/orders/api-key"

# What the build project (infra/pipeline.yml) and CodeBuild itself set, as stand-ins.
PROJECT_VARIABLES = {
    "ARTIFACT_BUCKET": "orders-pipeline-artifactbucket-example",
    "ARTIFACT_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
    "UNIT_TEST_REPORT_GROUP_ARN": "arn:aws:codebuild:us-east-1:123456789012:report-group/orders-build-unit-tests",
    "IMAGE_REPOSITORY_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders",
    "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123456789abcdef01234567",
    "CODEBUILD_BUILD_NUMBER": "7",
}

# Commands whose first word is one of these need AWS: the AWS CLI (S3 uploads, ECR logins,
# CloudFormation packaging) or the Docker daemon that CodeBuild's privileged mode provides.
AWS_ONLY_PROGRAMS = {"aws", "docker"}

# Files of the target that other parts of the template write (not the build): checked when present.
TARGET_FILES = {"appspec.yml", "scripts/**/*", "taskdef.json", "appspec.yaml"}


def has_no_node_dependencies(project_dir: Path) -> bool:
    """npm creates no node_modules when package-lock.json lists no package besides the app itself."""
    lock = project_dir / "package-lock.json"
    return lock.is_file() and set(json.loads(lock.read_text()).get("packages", {})) <= {""}


# Dependency folders that a build leaves empty, and so a pattern that matches nothing (CodeBuild
# still uploads the other files), when the app has no dependencies.
EMPTY_WITHOUT_DEPENDENCIES = {"node_modules/**/*": has_no_node_dependencies}


def needs_aws(command: str) -> bool:
    """True for a command that only works inside AWS CodeBuild (see AWS_ONLY_PROGRAMS)."""
    words = shlex.split(command, posix=True)
    return bool(words) and words[0] in AWS_ONLY_PROGRAMS


@dataclass
class BuildRun:
    project_dir: Path
    buildspec: dict[str, Any]
    returncode: int
    output: str
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _environment(buildspec: dict[str, Any], tools: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PROJECT_VARIABLES)
    spec_env = buildspec.get("env", {})
    env.update({name: str(value) for name, value in spec_env.get("variables", {}).items()})
    # Secrets are fetched by CodeBuild at the start of the build; stand-ins here.
    for section in ("secrets-manager", "parameter-store"):
        env.update({name: f"stand-in-for-{name.lower()}" for name in spec_env.get(section, {})})
    env["PATH"] = f"{tools}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)
    return env


def run_buildspec(project_dir: Path, tools: Path) -> BuildRun:
    buildspec = yaml.safe_load((project_dir / "buildspec.yml").read_text())
    commands = [command for phase in PHASES for command in buildspec["phases"][phase].get("commands", [])]
    run = BuildRun(project_dir, buildspec, 0, "")
    for command in commands:
        (run.skipped if needs_aws(command) else run.ran).append(command)
    script = "set -e\n" + "\n".join(run.ran) + "\n"
    proc = subprocess.run(
        [buildspec["env"].get("shell", "bash"), "-c", script],
        cwd=project_dir, env=_environment(buildspec, tools), capture_output=True, text=True, timeout=600, check=False,
    )
    run.returncode, run.output = proc.returncode, proc.stdout + proc.stderr
    return run


@pytest.fixture(scope="module")
def python_tools(tmp_path_factory) -> Path:
    """A virtualenv's bin folder, first on PATH, so `python -m pip install` stays out of the test's interpreter."""
    venv = tmp_path_factory.mktemp("buildspec-venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    return venv / "bin"


@pytest.fixture(scope="module")
def builds(template_dir, tmp_path_factory, python_tools) -> dict[tuple[str, str], BuildRun]:
    out = tmp_path_factory.mktemp("buildspec-runs")
    result = {}
    for runtime, target in CASES:
        project_dir = render(template_dir, out / f"{runtime}-{target}", service_name="orders", runtime=runtime,
                             target=target, build_secrets=SECRETS)
        result[(runtime, target)] = run_buildspec(project_dir, python_tools)
    return result


def matches(project_dir: Path, pattern: str) -> list[str]:
    """Files a buildspec path pattern selects (CodeBuild: '**' spans folders)."""
    return [path for path in glob.glob(pattern, root_dir=project_dir, recursive=True) if (project_dir / path).is_file()]


def test_needs_aws_skips_only_aws_cli_and_docker():
    assert needs_aws("aws cloudformation package --template-file infra/service.yml")
    assert needs_aws("aws ecr get-login-password | docker login --username AWS --password-stdin x")
    assert needs_aws('docker push "$IMAGE_URI"')
    assert not needs_aws("npm test")
    assert not needs_aws('IMAGE_URI="${IMAGE_REPOSITORY_URI}:${CODEBUILD_RESOLVED_SOURCE_VERSION}"')
    assert not needs_aws("python -m pip install --quiet -r requirements-dev.txt")


@pytest.mark.parametrize(("runtime", "target"), CASES)
def test_install_test_and_build_phases_pass(builds, runtime, target):
    run = builds[(runtime, target)]
    assert run.returncode == 0, f"buildspec commands failed in {run.project_dir}:\n{run.output[-4000:]}"
    rt = catalog.runtime_row(runtime, catalog.default_runtime_version(runtime))
    assert set(rt["test_commands"]) <= set(run.ran), "the unit tests ran"
    assert all(needs_aws(command) for command in run.skipped)


@pytest.mark.parametrize(("runtime", "target"), CASES)
def test_declared_test_reports_exist(builds, runtime, target):
    run = builds[(runtime, target)]
    assert run.returncode == 0, run.output[-2000:]
    (report,) = run.buildspec["reports"].values()
    for pattern in report["files"]:
        found = matches(run.project_dir, pattern)
        assert found, f"no test report matches {pattern!r}"
        assert "<testcase" in (run.project_dir / found[0]).read_text(), "a JUnit report with test cases"


@pytest.mark.parametrize(("runtime", "target"), CASES)
def test_declared_artifacts_exist(builds, runtime, target):
    run = builds[(runtime, target)]
    assert run.returncode == 0, run.output[-2000:]
    pending = []
    for pattern in run.buildspec["artifacts"]["files"]:
        if any(pattern in command for command in run.skipped):
            continue  # made by a command that needs AWS (packaged.yml by `aws cloudformation package`)
        if matches(run.project_dir, pattern):
            continue
        if pattern in EMPTY_WITHOUT_DEPENDENCIES and EMPTY_WITHOUT_DEPENDENCIES[pattern](run.project_dir):
            continue
        if pattern in TARGET_FILES:
            pending.append(pattern)
            continue
        pytest.fail(f"artifact pattern {pattern!r} matches no file after the build")
    if pending:
        pytest.xfail(f"the {target} target's own files are not in the template yet: {pending}")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_lambda_code_folder_holds_the_handler(builds, runtime):
    run = builds[(runtime, "lambda")]
    assert run.returncode == 0, run.output[-2000:]
    rt = catalog.runtime_row(runtime, catalog.default_runtime_version(runtime))
    module = rt["lambda_handler"].rsplit(".", 1)[0]
    handler_file = f"{module}.js" if runtime == "nodejs" else module.replace(".", "/") + ".py"
    code_dir = run.project_dir / catalog.LAMBDA_CODE_DIR
    assert (code_dir / handler_file).is_file(), f"{handler_file} is not in {code_dir}"
    assert not (code_dir / "tests").exists() and not (code_dir / "test").exists(), "tests stay out of the function"
