"""The Go sample app of a rendered service, run for real.

`go vet` and the app's own tests pass; the binary built with the data table's build
command serves the HTTP contract and stops cleanly on SIGTERM; and the same binary,
started as a Lambda bootstrap, answers invocations from a fake Runtime API.

The local toolchain may be older than the go.mod line (Debian's Go 1.19 here):
before Go 1.21 a newer `go` line only matters when compilation fails, so the app
sticks to what Go 1.19 compiles and the rendered go.mod is used unchanged.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.register_assert_rewrite("app_probe")

from app_probe import (  # noqa: E402
    TEST_IDLE_TIMEOUT_SECONDS,
    COMMON_HEADERS,
    check_common_headers,
    check_full_contract,
    check_graceful_stop,
    check_head_and_allow,
    check_keep_alive,
    check_raw_routing,
    check_raw_routing_answers,
    free_port,
    get,
    raw_routing_events,
    request_log,
    running,
    stop,
    wait_until_serving,
)
from helpers import catalog, render  # noqa: E402

GO = shutil.which("go") or next((p for p in ("/usr/lib/go/bin/go", "/usr/local/go/bin/go") if Path(p).exists()), None)
GO_ROW = catalog.RUNTIMES["go"]
SERVICE = "orders-api"

needs_go = pytest.mark.skipif(GO is None, reason="no Go toolchain (go) on this machine")


# --------------------------------------------------------------------------
# Rendered build files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("version", catalog.runtime_versions("go"))
def test_go_mod_carries_the_chosen_go_version(render_service, version):
    go_mod = (render_service(runtime="go", runtime_version=version, service_name=SERVICE) / "go.mod").read_text()
    assert go_mod.splitlines() == [f"module example.com/{SERVICE}", "", f"go {version}"]


def test_go_files_belong_to_go_services_only(render_service):
    go_service = render_service(runtime="go")
    assert {p.name for p in go_service.glob("*.go")} == {"main.go", "app.go", "lambda.go", "app_test.go", "lambda_test.go"}
    assert not (go_service / "pom.xml").exists()
    for runtime in ("java", "python", "nodejs"):
        other = render_service(runtime=runtime)
        assert not list(other.glob("*.go")) and not (other / "go.mod").exists(), runtime


# --------------------------------------------------------------------------
# Build and run
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(template_dir, tmp_path_factory) -> Path:
    return render(template_dir, tmp_path_factory.mktemp("go") / SERVICE, runtime="go", service_name=SERVICE)


@pytest.fixture(scope="module")
def go_env(tmp_path_factory) -> dict[str, str]:
    """A hermetic Go environment: no network, no toolchain switch, caches in tmp."""
    home = tmp_path_factory.mktemp("gohome")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO") and k != "CGO_ENABLED"}
    env.update(
        HOME=str(home),
        GOCACHE=str(home / "cache"),
        GOPATH=str(home / "gopath"),
        GOENV="off",
        GOFLAGS="-mod=mod",
        GOPROXY="off",
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
    )
    return env


def go(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([GO, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"go {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def binary(service, go_env) -> Path:
    """bin/app, built by the data table's build command with its build environment."""
    (command,) = GO_ROW["build_commands"]
    args = shlex.split(command)
    assert args[0] == "go"
    go(args[1:], service, {**go_env, **GO_ROW["build_env"]})
    return service / "bin" / "app"


@needs_go
def test_vet_and_unit_tests_pass(service, go_env):
    go(["vet", "./..."], service, go_env)
    result = go(["test", "-json", "-count=1", "./..."], service, go_env, check=False)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    output = "".join(e.get("Output", "") for e in events) + result.stderr
    assert result.returncode == 0, output
    passed = {e["Test"] for e in events if e.get("Action") == "pass" and "Test" in e}
    assert {"TestRoute", "TestServeHTTP", "TestHandleEvent", "TestRunLambda"} <= passed, output


@needs_go
def test_server_serves_the_contract_and_stops_on_sigterm(service, binary, go_env):
    port = free_port()
    env = server_env(go_env, port, APP_VERSION="1.2.3")
    assert GO_ROW["start_command"] == "bin/app"
    with running([str(service / GO_ROW["start_command"])], cwd=service, env=env, stderr=subprocess.STDOUT) as proc:
        check_full_contract(proc, port, SERVICE, "1.2.3")
        output = check_graceful_stop(proc, port, timeout=5, exit_codes=(0,))
    # One JSON line per request, the path without its query string.
    logged = request_log(output)
    assert ("GET", "/health", 200) in logged and ("POST", "/health", 405) in logged, output
    assert ("GET", "/hello", 400) in logged, output
    assert "stopped" in output


def test_idle_timeout_defaults_to_the_catalogs_longer_than_the_load_balancers(service):
    assert catalog.APP_IDLE_TIMEOUT_SECONDS > catalog.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS
    default = f"const defaultIdleTimeout = {catalog.APP_IDLE_TIMEOUT_SECONDS} * time.Second"
    assert default in (service / "main.go").read_text().splitlines()


@needs_go
def test_server_answers_head_and_keeps_idle_connections_for_its_idle_timeout(binary, go_env):
    port = free_port()
    env = server_env(go_env, port, IDLE_TIMEOUT_SECONDS=str(TEST_IDLE_TIMEOUT_SECONDS))
    with running([str(binary)], env=env, stderr=subprocess.STDOUT) as proc:
        wait_until_serving(proc, lambda: get(port, "/health"), timeout=10, interval=0.05)
        check_head_and_allow(port)
        # Only the routes' answers: net/http writes its own refusals (400, 431, 505) as plain
        # text, with headers no handler can add.
        check_common_headers(port)
        check_keep_alive(port, TEST_IDLE_TIMEOUT_SECONDS)


@needs_go
def test_routes_the_raw_path_alike_on_the_server_and_the_lambda_bootstrap(binary, go_env):
    port = free_port()
    with running([str(binary)], env=server_env(go_env, port), stderr=subprocess.STDOUT) as proc:
        wait_until_serving(proc, lambda: get(port, "/health"), timeout=10, interval=0.05)
        # net/http answers "OPTIONS *" itself (an empty 200) before any handler; only
        # http.Server.DisableGeneralOptionsHandler (Go 1.20) hands it on, and the Go that CI and
        # this machine test with (Debian's) may be older.
        check_raw_routing(port, skip=("*",))

    events = raw_routing_events()
    api = FakeRuntimeAPI([(f"req-{i}", json.dumps(event)) for i, event in enumerate(events)])
    env = {k: v for k, v in go_env.items() if k not in ("SERVICE_NAME", "PORT")}
    env.update(AWS_LAMBDA_RUNTIME_API=api.address, _HANDLER=GO_ROW["lambda_handler"])
    try:
        with running([str(binary)], env=env, stderr=subprocess.STDOUT) as proc:
            posted = [api.results.get(timeout=10) for _ in events]
            stop(proc, timeout=10, exit_codes=(0,))
    finally:
        api.close()
    by_id = {request_id: body for request_id, _, body in posted}
    check_raw_routing_answers([by_id[f"req-{i}"] for i in range(len(events))])


@needs_go
def test_binary_is_a_lambda_bootstrap(binary, go_env):
    """The same binary serves Lambda invocations when AWS_LAMBDA_RUNTIME_API is set."""
    v2_health = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {"http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"}},
        "isBase64Encoded": False,
    }
    v1_hello = {"resource": "/{proxy+}", "path": "/hello", "httpMethod": "GET", "queryStringParameters": {"name": "Grace"}}
    v2_head = {**v2_health, "requestContext": {"http": {**v2_health["requestContext"]["http"], "method": "HEAD"}}}
    v1_post = {"resource": "/{proxy+}", "path": "/health", "httpMethod": "POST"}
    api = FakeRuntimeAPI([
        ("req-health", json.dumps(v2_health)),
        ("req-hello", json.dumps(v1_hello)),
        ("req-bad", "not json"),
        ("req-head", json.dumps(v2_head)),
        ("req-post", json.dumps(v1_post)),
    ])
    env = {k: v for k, v in go_env.items() if k not in ("SERVICE_NAME", "PORT")}
    env.update(AWS_LAMBDA_RUNTIME_API=api.address, APP_VERSION="7", _HANDLER=GO_ROW["lambda_handler"])
    try:
        with running([str(binary)], env=env, stderr=subprocess.STDOUT) as proc:
            posted = [api.results.get(timeout=10) for _ in range(5)]
            # Lambda stops an idle environment with SIGTERM while /next is waiting.
            output, _ = stop(proc, timeout=10, exit_codes=(0,))
    finally:
        api.close()

    by_id = {request_id: (kind, body) for request_id, kind, body in posted}
    kind, health = by_id["req-health"]
    assert kind == "response"
    assert health["statusCode"] == 200
    assert health["headers"] == {"content-type": "application/json", **COMMON_HEADERS}
    assert json.loads(health["body"]) == {"status": "ok", "service": SERVICE, "version": "7"}

    kind, hello = by_id["req-hello"]
    assert (kind, hello["statusCode"], json.loads(hello["body"])) == ("response", 200, {"message": "Hello, Grace!"})

    kind, error = by_id["req-bad"]
    assert kind == "error" and error["errorType"] == "InvalidEvent"

    # HEAD answers as GET does, without a body; a 405 allows both.
    assert by_id["req-head"] == ("response", {**health, "body": ""})
    kind, not_allowed = by_id["req-post"]
    assert (not_allowed["statusCode"], not_allowed["headers"]["allow"]) == (405, "GET, HEAD")

    assert request_log(output) == [("GET", "/health", 200), ("GET", "/hello", 200), ("HEAD", "/health", 200), ("POST", "/health", 405)]
    assert {name: not_allowed["headers"].get(name) for name in COMMON_HEADERS} == COMMON_HEADERS


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def server_env(go_env: dict[str, str], port: int, **extra: str) -> dict[str, str]:
    """go_env for the server on port, without SERVICE_NAME (the rendered default counts), plus extra."""
    env = {k: v for k, v in go_env.items() if k != "SERVICE_NAME"}
    return {**env, "PORT": str(port), **extra}


class FakeRuntimeAPI:
    """Plays the Lambda Runtime API: hands out queued invocations, collects results.

    When the queue is empty, /next is held open, as Lambda does between invocations.
    """

    def __init__(self, invocations: list[tuple[str, str]]):
        self.pending: queue.Queue = queue.Queue()
        for invocation in invocations:
            self.pending.put(invocation)
        self.results: queue.Queue = queue.Queue()  # (request id, "response" | "error", JSON body)
        self._released = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                try:
                    request_id, payload = api.pending.get_nowait()
                except queue.Empty:
                    api._released.wait(30)
                    return
                body = payload.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:orders-api")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                match = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
                if not match:
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                api.results.put((match[1], match[2], json.loads(body)))
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "16")
                self.end_headers()
                self.wfile.write(b'{"status":"OK"}\n')

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
