"""The Python sample app of a rendered service, run for real: its own test suite with
the data table's commands, its HTTP server and its Lambda handler."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from helpers import catalog

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


def junit_counts(report: Path) -> tuple[int, int, int]:
    """(test cases, failed or errored, skipped) in a JUnit XML report."""
    cases = list(ElementTree.parse(report).getroot().iter("testcase"))
    failed = [case for case in cases if case.find("failure") is not None or case.find("error") is not None]
    skipped = [case for case in cases if case.find("skipped") is not None]
    return len(cases), len(failed), len(skipped)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, str, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type"), json.loads(response.read())
    finally:
        connection.close()


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
    server = subprocess.Popen(
        command(RUNTIME["start_command"]),
        cwd=service,
        env=clean_env(PORT=str(port), APP_VERSION="1.2.3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert server.poll() is None, f"the server exited early:\n{server.communicate()}"
            try:
                health = get(port, "/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer /health within 10 s"
                time.sleep(0.05)

        assert health == (200, "application/json", {"status": "ok", "service": SERVICE, "version": "1.2.3"})
        assert get(port, "/hello?name=Ada") == (200, "application/json", {"message": "Hello, Ada!"})
        assert get(port, "/hello") == (200, "application/json", {"message": "Hello, world!"})
        status, content_type, body = get(port, "/hello?name=%3Cscript%3E")
        assert (status, content_type, sorted(body)) == (400, "application/json", ["error"])
        assert get(port, "/nope") == (404, "application/json", {"error": "not found"})

        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    assert server.returncode == 0, stderr
    # One line per request, on stdout.
    for line in ["GET /health 200", "GET /hello 200", "GET /hello 400", "GET /nope 404"]:
        assert line in stdout, stdout


def api_events() -> list[dict]:
    """A function URL event (payload 2.0), as AWS sends it, and a REST API event (payload 1.0)."""
    v2 = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"host": "abc123.lambda-url.us-east-1.on.aws", "user-agent": "curl/8.5.0"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc123",
            "domainName": "abc123.lambda-url.us-east-1.on.aws",
            "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "c4f0c6a0-0000-4000-8000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": False,
    }
    hello_v2 = {
        **v2,
        "rawPath": "/hello",
        "rawQueryString": "name=Ada",
        "queryStringParameters": {"name": "Ada"},
        "requestContext": {**v2["requestContext"], "http": {**v2["requestContext"]["http"], "path": "/hello"}},
    }
    v1 = {
        "resource": "/{proxy+}",
        "path": "/hello",
        "httpMethod": "GET",
        "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "queryStringParameters": {"name": "Grace"},
        "multiValueQueryStringParameters": {"name": ["Grace"]},
        "pathParameters": {"proxy": "hello"},
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": "GET", "path": "/prod/hello", "stage": "prod"},
        "body": None,
        "isBase64Encoded": False,
    }
    return [v2, hello_v2, v1, {**v1, "httpMethod": "POST", "path": "/health", "queryStringParameters": None}]


def test_lambda_handler_answers_payload_2_and_rest_api_events(service):
    module, _, name = RUNTIME["lambda_handler"].rpartition(".")
    script = (
        "import importlib, json, sys\n"
        f"handler = getattr(importlib.import_module({module!r}), {name!r})\n"
        "responses = [handler(event, None) for event in json.load(sys.stdin)]\n"
        "print(json.dumps(responses))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=service,
        env=clean_env(APP_VERSION="1.2.3"),
        input=json.dumps(api_events()),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    *log_lines, last = proc.stdout.splitlines()
    responses = json.loads(last)

    assert [(r["statusCode"], r["headers"]["content-type"], json.loads(r["body"])) for r in responses] == [
        (200, "application/json", {"status": "ok", "service": SERVICE, "version": "1.2.3"}),
        (200, "application/json", {"message": "Hello, Ada!"}),
        (200, "application/json", {"message": "Hello, Grace!"}),
        (405, "application/json", {"error": "method not allowed"}),
    ]
    assert log_lines == ["GET /health 200", "GET /hello 200", "GET /hello 200", "POST /health 405"]
