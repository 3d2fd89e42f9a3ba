"""The Node.js sample app of a rendered service, run for real: npm with the data
table's commands, its HTTP server and its Lambda handler."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
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
    feed_api_events,
    free_port,
    get,
    junit_counts,
    raw_routing_events,
    running,
    wait_until_serving,
)
from helpers import catalog  # noqa: E402

RUNTIME = catalog.RUNTIMES["nodejs"]
SERVICE = "greeter"
DESCRIPTION = 'Says "hello" \\ politely'

APP_FILES = [
    "package.json",
    "package-lock.json",
    "src/app.js",
    "src/server.js",
    "src/lambda.js",
    "test/app.test.js",
    "test/lambda.test.js",
    "test/server.test.js",
]
OTHER_RUNTIMES_FILES = ["app", "tests", "pyproject.toml", "requirements.txt", "go.mod", "pom.xml"]


@pytest.fixture
def service(render_service) -> Path:
    return render_service(runtime="nodejs", service_name=SERVICE, description=DESCRIPTION)


def node_env(**extra: str) -> dict[str, str]:
    # No npm self-update check: it would reach for the network.
    return {**os.environ, "npm_config_update_notifier": "false", **extra}


def test_renders_the_nodejs_app_and_nothing_of_other_runtimes(service):
    assert [name for name in APP_FILES if not (service / name).is_file()] == []
    assert [name for name in OTHER_RUNTIMES_FILES if (service / name).exists()] == []


@pytest.mark.parametrize("version", catalog.runtime_versions("nodejs"))
def test_package_manifest_and_lock_match(render_service, version):
    path = render_service(runtime="nodejs", runtime_version=version, service_name=SERVICE, description=DESCRIPTION)
    package = json.loads((path / "package.json").read_text())
    lock = json.loads((path / "package-lock.json").read_text())

    assert (package["name"], package["description"], package["private"]) == (SERVICE, DESCRIPTION, True)
    assert package["engines"] == {"node": f">={version}"}
    assert package["scripts"]["start"] == RUNTIME["start_command"]
    assert package["scripts"]["test"].startswith("node --test ")
    assert not {"dependencies", "devDependencies"} & set(package), "the sample app has no dependencies"

    # `npm ci` needs a lock file in step with package.json; with no dependencies it
    # holds the root package only.
    assert lock["lockfileVersion"] == 3
    assert (lock["name"], lock["version"]) == (package["name"], package["version"])
    assert lock["packages"] == {"": {"name": SERVICE, "version": package["version"], "engines": package["engines"]}}


def test_install_test_and_build_pass_with_the_data_table_commands(service):
    for line in [*RUNTIME["install_commands"], *RUNTIME["test_commands"], *RUNTIME["build_commands"]]:
        proc = subprocess.run(shlex.split(line), cwd=service, env=node_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"

    [report] = RUNTIME["test_report"]["files"]
    cases, failed, skipped = junit_counts(service / report)
    assert cases >= 10
    assert (failed, skipped) == (0, 0)


def test_server_answers_and_stops_cleanly_on_sigterm(service):
    port = free_port()
    env = node_env(PORT=str(port), APP_VERSION="1.2.3")
    with running(shlex.split(RUNTIME["start_command"]), cwd=service, env=env, stderr=subprocess.PIPE) as server:
        check_core_routes(server, port, SERVICE, "1.2.3")
        stdout = check_graceful_stop(server, port, timeout=5, exit_codes=(0,))
    check_core_requests_logged_and_stopped(stdout)


def test_idle_timeout_defaults_to_the_catalogs_longer_than_the_load_balancers(service):
    assert catalog.APP_IDLE_TIMEOUT_SECONDS > catalog.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS
    default = f"const IDLE_TIMEOUT_SECONDS = Number(process.env.IDLE_TIMEOUT_SECONDS) || {catalog.APP_IDLE_TIMEOUT_SECONDS};"
    assert default in (service / "src/server.js").read_text().splitlines()


def test_server_answers_head_and_keeps_idle_connections_for_its_idle_timeout(service):
    port = free_port()
    env = node_env(PORT=str(port), IDLE_TIMEOUT_SECONDS=str(TEST_IDLE_TIMEOUT_SECONDS))
    with running(shlex.split(RUNTIME["start_command"]), cwd=service, env=env, stderr=subprocess.PIPE) as server:
        wait_until_serving(server, lambda: get(port, "/health"), timeout=10, interval=0.05)
        check_head_and_allow(port)
        # A header line without a colon is refused by Node's HTTP parser itself ('clientError').
        check_common_headers(port, rejected=b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon\r\n\r\n")
        # Node closes an idle connection about a second after its keepAliveTimeout.
        check_keep_alive(port, TEST_IDLE_TIMEOUT_SECONDS, granularity=1)


def lambda_script() -> str:
    """JavaScript that runs the Lambda handler over the JSON list of events on stdin and logs its answers."""
    # "src/lambda.handler": the export `handler` of src/lambda.js, as the Lambda runtime loads it.
    module, _, name = RUNTIME["lambda_handler"].rpartition(".")
    return (
        f"const handler = require({json.dumps('./' + module)})[{json.dumps(name)}];\n"
        "const events = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));\n"
        "(async () => {\n"
        "  const responses = [];\n"
        "  for (const event of events) responses.push(await handler(event, {}));\n"
        "  console.log(JSON.stringify(responses));\n"
        "})();\n"
    )


def test_lambda_handler_answers_payload_2_and_rest_api_events(service):
    stdout = feed_api_events(["node", "-e", lambda_script()], cwd=service, env=node_env(APP_VERSION="1.2.3"))
    check_api_event_answers(stdout, SERVICE, "1.2.3")


def test_routes_the_raw_path_alike_on_the_server_and_the_lambda_handler(service):
    port = free_port()
    with running(shlex.split(RUNTIME["start_command"]), cwd=service, env=node_env(PORT=str(port)), stderr=subprocess.PIPE) as server:
        wait_until_serving(server, lambda: get(port, "/health"), timeout=10, interval=0.05)
        check_raw_routing(port)
    stdout = feed_api_events(["node", "-e", lambda_script()], cwd=service, env=node_env(), events=raw_routing_events())
    check_raw_routing_answers(json.loads(stdout.splitlines()[-1]))
