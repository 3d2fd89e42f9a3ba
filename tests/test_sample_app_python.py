"""The Python sample app of a rendered service, run for real: its own test suite with
the data table's commands, its HTTP server and its Lambda handler."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.register_assert_rewrite("app_probe")

from app_probe import (  # noqa: E402
    TEST_IDLE_TIMEOUT_SECONDS,
    check_api_event_answers,
    check_common_headers,
    check_core_requests_logged_and_stopped,
    check_core_routes,
    check_graceful_stop,
    check_head_and_allow,
    check_keep_alive,
    check_raw_routing,
    check_raw_routing_answers,
    check_slow_client_times_out,
    feed_api_events,
    free_port,
    get,
    junit_counts,
    raw_routing_events,
    running,
    wait_until_serving,
)
from helpers import catalog  # noqa: E402

RUNTIME = catalog.RUNTIMES["python"]
SERVICE = "greeter"
DESCRIPTION = 'Says "hello" \\ politely'

APP_FILES = [
    "app/__init__.py",
    "app/routes.py",
    "app/server.py",
    "app/lambda_handler.py",
    "tests/test_routes.py",
    "tests/test_lambda_handler.py",
    "tests/test_server.py",
    "requirements.txt",
    "requirements-dev.txt",
    "pyproject.toml",
]
OTHER_RUNTIMES_FILES = ["package.json", "package-lock.json", "src", "test", "go.mod", "pom.xml"]


@pytest.fixture
def service(render_service) -> Path:
    return render_service(runtime="python", service_name=SERVICE, description=DESCRIPTION)


def command(line: str) -> list[str]:
    """A data-table command as argv, run by the interpreter running these tests."""
    argv = shlex.split(line)
    return [sys.executable, *argv[1:]] if argv[0] == "python" else argv


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the outer pytest's settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    return {**env, **extra}


def test_renders_the_python_app_and_nothing_of_other_runtimes(service):
    assert [name for name in APP_FILES if not (service / name).is_file()] == []
    assert [name for name in OTHER_RUNTIMES_FILES if (service / name).exists()] == []


@pytest.mark.parametrize("version", catalog.runtime_versions("python"))
def test_pyproject_names_the_service_and_its_python(render_service, version):
    path = render_service(runtime="python", runtime_version=version, service_name=SERVICE, description=DESCRIPTION)
    pyproject = tomllib.loads((path / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == SERVICE
    assert pyproject["project"]["description"] == DESCRIPTION
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]


def test_requirements_pin_pytest_and_nothing_at_run_time(service):
    runtime_lines = [line for line in (service / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert [line for line in runtime_lines if line.strip()] == []
    dev_lines = (service / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev_lines
    assert [line for line in dev_lines if line.startswith("pytest==")], "pytest must be pinned"


def test_own_tests_and_build_pass_with_the_data_table_commands(service):
    for line in [*RUNTIME["test_commands"], *RUNTIME["build_commands"]]:
        proc = subprocess.run(command(line), cwd=service, env=clean_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"

    [report] = RUNTIME["test_report"]["files"]
    cases, failed, skipped = junit_counts(service / report)
    assert cases >= 10
    assert (failed, skipped) == (0, 0)


def test_server_answers_and_stops_cleanly_on_sigterm(service):
    port = free_port()
    env = clean_env(PORT=str(port), APP_VERSION="1.2.3")
    with running(command(RUNTIME["start_command"]), cwd=service, env=env, stderr=subprocess.PIPE) as server:
        check_core_routes(server, port, SERVICE, "1.2.3")
        stdout = check_graceful_stop(server, port, timeout=5, exit_codes=(0,))
    check_core_requests_logged_and_stopped(stdout)


def test_idle_timeout_defaults_to_the_catalogs_longer_than_the_load_balancers(service):
    assert catalog.APP_IDLE_TIMEOUT_SECONDS > catalog.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS
    default = f'IDLE_TIMEOUT_SECONDS = float(os.environ.get("IDLE_TIMEOUT_SECONDS") or {catalog.APP_IDLE_TIMEOUT_SECONDS})'
    assert default in (service / "app/server.py").read_text().splitlines()


def test_server_answers_head_and_keeps_idle_connections_for_its_idle_timeout(service):
    port = free_port()
    env = clean_env(PORT=str(port), IDLE_TIMEOUT_SECONDS=str(TEST_IDLE_TIMEOUT_SECONDS))
    with running(command(RUNTIME["start_command"]), cwd=service, env=env, stderr=subprocess.PIPE) as server:
        wait_until_serving(server, lambda: get(port, "/health"), timeout=10, interval=0.05)
        check_head_and_allow(port)
        # An unknown method is refused by http.server itself (send_error), with a 501.
        check_common_headers(port, rejected=b"BREW /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", rejected_status=501)
        check_keep_alive(port, TEST_IDLE_TIMEOUT_SECONDS)
        check_slow_client_times_out(port, TEST_IDLE_TIMEOUT_SECONDS)


def lambda_script() -> str:
    """Python that runs the Lambda handler over the JSON list of events on stdin and prints its answers."""
    module, _, name = RUNTIME["lambda_handler"].rpartition(".")
    return (
        "import importlib, json, sys\n"
        f"handler = getattr(importlib.import_module({module!r}), {name!r})\n"
        "responses = [handler(event, None) for event in json.load(sys.stdin)]\n"
        "print(json.dumps(responses))\n"
    )


def test_lambda_handler_answers_payload_2_and_rest_api_events(service):
    stdout = feed_api_events([sys.executable, "-c", lambda_script()], cwd=service, env=clean_env(APP_VERSION="1.2.3"))
    check_api_event_answers(stdout, SERVICE, "1.2.3")


def test_routes_the_raw_path_alike_on_the_server_and_the_lambda_handler(service):
    port = free_port()
    with running(command(RUNTIME["start_command"]), cwd=service, env=clean_env(PORT=str(port)), stderr=subprocess.PIPE) as server:
        wait_until_serving(server, lambda: get(port, "/health"), timeout=10, interval=0.05)
        check_raw_routing(port)
    stdout = feed_api_events([sys.executable, "-c", lambda_script()], cwd=service, env=clean_env(), events=raw_routing_events())
    check_raw_routing_answers(json.loads(stdout.splitlines()[-1]))
