"""Probes for the sample app of a rendered service, shared by tests/test_sample_app_*.py:
free ports, HTTP requests, a server process started and stopped with SIGTERM,
JUnit XML reports and API events for a Lambda handler.

The test files call pytest.register_assert_rewrite("app_probe") before importing
it, so that a failed assert here reports its values as one in a test file does.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, str, dict]:
    """(status, content-type, JSON body) of GET path on 127.0.0.1:port, with http.client."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type"), json.loads(response.read())
    finally:
        connection.close()


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def call(url: str, method: str = "GET") -> tuple[int, str, dict]:
    """(status, content-type, JSON body) of a request with urllib, errors included."""
    try:
        response = _opener.open(urllib.request.Request(url, method=method), timeout=5)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        return response.status, response.headers["Content-Type"], json.loads(response.read())


# --------------------------------------------------------------------------
# A server process
# --------------------------------------------------------------------------


@contextmanager
def running(argv: list[str], *, env: dict[str, str], stderr: int, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """The process argv, text stdout piped, stderr=subprocess.PIPE or subprocess.STDOUT;
    killed on the way out if it still runs."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def wait_until_serving(proc: subprocess.Popen, probe: Callable[[], T], *, timeout: float, interval: float) -> T:
    """probe()'s answer once it stops raising OSError, tried every interval seconds
    until timeout seconds have passed; fails if proc exits first."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = "\n".join(stream for stream in proc.communicate() if stream)
            pytest.fail(f"the app exited with {proc.returncode}:\n{output}")
        try:
            return probe()
        except OSError as error:
            last_error = error
            time.sleep(interval)
    pytest.fail(f"the app did not answer within {timeout} s (last: {last_error!r})")


def stop(proc: subprocess.Popen, *, timeout: float, exit_codes: tuple[int, ...]) -> tuple[str, str | None]:
    """Send SIGTERM, wait up to timeout seconds for the exit, check its code is one of
    exit_codes; (stdout, stderr), stderr None where it went to stdout."""
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode in exit_codes, stdout if stderr is None else stderr
    return stdout, stderr


def check_core_routes(proc: subprocess.Popen, port: int, service: str, version: str) -> None:
    """Wait up to 10 s for /health, then check it and the /hello and 404 answers, asked with get()."""
    health = wait_until_serving(proc, lambda: get(port, "/health"), timeout=10, interval=0.05)
    assert health == (200, "application/json", {"status": "ok", "service": service, "version": version})
    assert get(port, "/hello?name=Ada") == (200, "application/json", {"message": "Hello, Ada!"})
    assert get(port, "/hello") == (200, "application/json", {"message": "Hello, world!"})
    status, content_type, body = get(port, "/hello?name=%3Cscript%3E")
    assert (status, content_type, sorted(body)) == (400, "application/json", ["error"])
    assert get(port, "/nope") == (404, "application/json", {"error": "not found"})


def check_full_contract(proc: subprocess.Popen, port: int, service: str, version: str) -> None:
    """Wait up to 15 s for /health, then check the whole HTTP contract, 400, 404 and 405
    included, asked with call()."""
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, lambda: call(base + "/health"), timeout=15, interval=0.1)

    assert call(base + "/health") == (200, "application/json", {"status": "ok", "service": service, "version": version})
    assert call(base + "/hello") == (200, "application/json", {"message": "Hello, world!"})
    assert call(base + "/hello?name=Ada") == (200, "application/json", {"message": "Hello, Ada!"})
    assert call(base + "/hello?name=Ada+Lovelace") == (200, "application/json", {"message": "Hello, Ada Lovelace!"})
    status, content_type, body = call(base + "/hello?name=" + "a" * 65)
    assert (status, content_type, set(body)) == (400, "application/json", {"error"})
    status, content_type, body = call(base + "/hello?name=%3Cscript%3E")
    assert (status, content_type, set(body)) == (400, "application/json", {"error"})
    assert call(base + "/nope") == (404, "application/json", {"error": "not found"})
    assert call(base + "/health", method="POST") == (405, "application/json", {"error": "method not allowed"})


# --------------------------------------------------------------------------
# Behind a load balancer: HEAD, keep-alive, SIGTERM
# --------------------------------------------------------------------------

# The idle timeout the keep-alive checks give the app (IDLE_TIMEOUT_SECONDS): short, so
# that the check takes seconds; the rendered default, catalog.APP_IDLE_TIMEOUT_SECONDS, is
# checked in the app's source.
TEST_IDLE_TIMEOUT_SECONDS = 2


def connect(port: int, timeout: float = 5) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def exchange(sock: socket.socket, method: str, path: str) -> tuple[http.client.HTTPResponse, bytes]:
    """Send one HTTP/1.1 request on sock; (the response, its body)."""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return read_response(sock, method)


def read_response(sock: socket.socket, method: str) -> tuple[http.client.HTTPResponse, bytes]:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    return response, response.read()


def seconds_until_closed(sock: socket.socket, within: float) -> float:
    """How long until the app closes sock; fails if it still holds it after `within` seconds."""
    sock.settimeout(within)
    started = time.monotonic()
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        data = b""
    except TimeoutError:
        pytest.fail(f"the app still holds an idle connection after {within} s")
    assert data == b"", f"unexpected bytes on an idle connection: {data!r}"
    return time.monotonic() - started


def raw_answer(port: int, method: str, path: str) -> tuple[bytes, bytes]:
    """(head, body) of one request, with the bytes exactly as the app sends them until it closes."""
    return raw_exchange(port, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())


def header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


# On every answer of the app, errors included (issue 21, item 6).
COMMON_HEADERS = {"x-content-type-options": "nosniff", "cache-control": "no-store"}

# Requests whose answers come from the app's routes: 200, 400, 404, 405 and HEAD.
ROUTED_REQUESTS = [("GET", "/health"), ("GET", "/hello?name=%3Cb%3E"), ("GET", "/nope"), ("POST", "/health"), ("HEAD", "/health")]


def raw_exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    """(head, body) of the app's answer to the bytes of request, read until it closes."""
    with connect(port) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body


def check_common_headers(port: int, *, rejected: bytes | None = None, rejected_status: int = 400) -> None:
    """Every answer carries COMMON_HEADERS: the ROUTED_REQUESTS' and, given `rejected` (the raw
    bytes of a request the HTTP library itself refuses before routing), that one's too, as JSON."""
    for method, path in ROUTED_REQUESTS:
        head, _ = raw_answer(port, method, path)
        got = {name: header(head, name) for name in COMMON_HEADERS}
        assert got == COMMON_HEADERS, f"{method} {path}: {head.decode('latin-1')}"
    if rejected is not None:
        head, body = raw_exchange(port, rejected)
        assert int(head.split(b" ")[1]) == rejected_status, head
        assert {name: header(head, name) for name in COMMON_HEADERS} == COMMON_HEADERS, head.decode("latin-1")
        assert header(head, "content-type") == "application/json"
        assert set(json.loads(body)) == {"error"}


def request_log(output: str) -> list[tuple[str, str, int]]:
    """(method, path, status) of each request log line in output: each a JSON object with
    exactly method, path, status and ms, the path without its query string."""
    entries = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        assert set(entry) == {"method", "path", "status", "ms"}, line
        assert isinstance(entry["status"], int) and isinstance(entry["ms"], (int, float)), line
        assert "?" not in entry["path"], line
        entries.append((entry["method"], entry["path"], entry["status"]))
    return entries


def check_core_requests_logged_and_stopped(stdout: str) -> None:
    """The server's stdout after check_core_routes and a graceful stop: one JSON line per request
    (the path without its query string), and "stopped" last."""
    logged = request_log(stdout)
    for entry in [("GET", "/health", 200), ("GET", "/hello", 200), ("GET", "/hello", 400), ("GET", "/nope", 404)]:
        assert entry in logged, stdout
    assert stdout.splitlines()[-1] == "stopped", stdout


def check_head_and_allow(port: int) -> None:
    """HEAD answers as GET does, without a body (content-length is the GET body's);
    a 405 allows GET and HEAD."""
    get_head, get_body = raw_answer(port, "GET", "/health")
    head_head, head_body = raw_answer(port, "HEAD", "/health")
    assert head_head.split(b"\r\n")[0] == get_head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert head_body == b""
    assert header(head_head, "content-type") == "application/json"
    assert header(head_head, "content-length") == header(get_head, "content-length") == str(len(get_body))
    assert raw_answer(port, "HEAD", "/nope")[0].split(b" ")[1] == b"404"

    not_allowed, _ = raw_answer(port, "POST", "/health")
    assert not_allowed.split(b" ")[1] == b"405"
    assert header(not_allowed, "allow") == "GET, HEAD"


def check_keep_alive(port: int, idle_timeout: float, *, granularity: float = 0) -> None:
    """A keep-alive connection idle for half of idle_timeout still serves, and the app
    closes it once it has been idle for idle_timeout seconds, never sooner (and at most
    `granularity` + 1 s later: the app's idle timer may tick coarsely)."""
    with connect(port) as sock:
        response, _ = exchange(sock, "GET", "/health")
        assert (response.status, response.will_close) == (200, False), "the app closes the connection after an answer"
        time.sleep(idle_timeout / 2)
        response, _ = exchange(sock, "GET", "/hello")
        assert (response.status, response.will_close) == (200, False)
        idle = seconds_until_closed(sock, within=idle_timeout + granularity + 1)
    assert idle >= idle_timeout - 0.25, f"the app closed an idle connection after {idle:.2f} s, before its {idle_timeout} s"


def check_slow_client_times_out(port: int, timeout: float) -> None:
    """The app closes a connection whose request stalls half sent after timeout seconds."""
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        waited = seconds_until_closed(sock, within=timeout + 1)
    assert waited >= timeout - 0.25, f"the app closed a slow client's connection after {waited:.2f} s, before its {timeout} s"


def check_graceful_stop(proc: subprocess.Popen, port: int, *, timeout: float, exit_codes: tuple[int, ...]) -> str:
    """SIGTERM while a request is half sent and another connection idles: the request is
    still answered, the idle connection closed, and the app exits within timeout seconds
    with one of exit_codes. Returns its stdout (with stderr, where the test merged them)."""
    output = OutputReader(proc)
    with connect(port, timeout) as idle, connect(port, timeout) as busy:
        assert exchange(idle, "GET", "/health")[0].status == 200
        busy.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # not yet the blank line that ends it
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        output.wait_for("shutting down", timeout=5)
        time.sleep(0.6)  # the app has stopped listening by now
        busy.sendall(b"\r\n")
        response, body = read_response(busy, "GET")
        assert response.status == 200 and json.loads(body)["status"] == "ok"
        seconds_until_closed(idle, within=timeout)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the app did not exit within {timeout} s of SIGTERM:\n{output.text()}")
    assert proc.returncode in exit_codes, output.text()
    return output.text()


class OutputReader:
    """Reads a process's stdout on a thread, so that a test can wait for a line."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: any(text in line for line in self.lines), timeout):
                pytest.fail(f"the app did not log {text!r} within {timeout} s:\n{''.join(self.lines)}")

    def text(self) -> str:
        self.thread.join(timeout=5)
        return "".join(self.lines)


# --------------------------------------------------------------------------
# Routing on the raw path, alike on the server and through the Lambda handler
# --------------------------------------------------------------------------

# (method, request target, status, keys of the JSON body): routes match the path as the
# client sent it, never decoded (/h%65alth is not /health) nor read as a host
# (//evil.com/health); a bad %-escape stays as it is, so /hello refuses the name.
RAW_ROUTING = [
    ("GET", "/health", 200, {"status", "service", "version"}),
    ("GET", "/h%65alth", 404, {"error"}),
    ("GET", "//evil.com/health", 404, {"error"}),
    ("GET", "/hello?name=%ZZ", 400, {"error"}),
    ("GET", "/hello?x=%ZZ&name=Ada", 200, {"message"}),
    ("OPTIONS", "*", 404, {"error"}),
]


def ask(port: int, method: str, target: str) -> tuple[int, str | None, bytes]:
    """(status, content-type, body) of one request with http.client, which sends the target as given."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, target)
        response = connection.getresponse()
        return response.status, response.getheader("content-type"), response.read()
    finally:
        connection.close()


def check_raw_routing(port: int, *, skip: tuple[str, ...] = ()) -> None:
    """The server answers RAW_ROUTING (but the targets in skip) with its status and a JSON body."""
    for method, target, status, keys in RAW_ROUTING:
        if target in skip:
            continue
        got_status, content_type, body = ask(port, method, target)
        assert (got_status, content_type) == (status, "application/json"), f"{method} {target}: {body!r}"
        assert set(json.loads(body)) == keys, f"{method} {target}: {body!r}"


def raw_routing_events() -> list[dict]:
    """RAW_ROUTING as function URL events (payload 2.0), the path in rawPath as AWS passes it."""
    events = []
    for method, target, _, _ in RAW_ROUTING:
        path, _, query = target.partition("?")
        events.append({
            "version": "2.0",
            "rawPath": path,
            "rawQueryString": query,
            "requestContext": {"http": {"method": method, "path": path}},
            "isBase64Encoded": False,
        })
    return events


def check_raw_routing_answers(responses: list[dict]) -> None:
    """A Lambda handler's responses to raw_routing_events(): RAW_ROUTING's statuses and JSON bodies."""
    assert len(responses) == len(RAW_ROUTING)
    for (method, target, status, keys), response in zip(RAW_ROUTING, responses):
        got = (response["statusCode"], response["headers"]["content-type"], set(json.loads(response["body"])))
        assert got == (status, "application/json", keys), f"{method} {target}: {response}"


# --------------------------------------------------------------------------
# Test reports
# --------------------------------------------------------------------------


def junit_counts(report: Path) -> tuple[int, int, int]:
    """(test cases, failed or errored, skipped) in a JUnit XML report."""
    cases = list(ElementTree.parse(report).getroot().iter("testcase"))
    failed = [case for case in cases if case.find("failure") is not None or case.find("error") is not None]
    skipped = [case for case in cases if case.find("skipped") is not None]
    return len(cases), len(failed), len(skipped)


# --------------------------------------------------------------------------
# A Lambda handler
# --------------------------------------------------------------------------


def api_events() -> list[dict]:
    """Function URL events (payload 2.0), as AWS sends them, and REST API events (payload 1.0):
    GET /health, GET /hello twice, POST /health (405) and HEAD /health, in that order."""
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
    head_v2 = {**v2, "requestContext": {**v2["requestContext"], "http": {**v2["requestContext"]["http"], "method": "HEAD"}}}
    return [v2, hello_v2, v1, {**v1, "httpMethod": "POST", "path": "/health", "queryStringParameters": None}, head_v2]


def feed_api_events(argv: list[str], *, cwd: Path, env: dict[str, str], events: list[dict] | None = None) -> str:
    """The stdout of argv run with events (api_events() by default) as JSON on stdin, within 30 s, once it exits 0."""
    events = api_events() if events is None else events
    proc = subprocess.run(argv, cwd=cwd, env=env, input=json.dumps(events), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def check_api_event_answers(stdout: str, service: str, version: str) -> None:
    """Check a handler's stdout for api_events(): a log line per event, then the JSON list of its responses."""
    *log_lines, last = stdout.splitlines()
    *responses, head = json.loads(last)

    assert [(r["statusCode"], r["headers"]["content-type"], json.loads(r["body"])) for r in responses] == [
        (200, "application/json", {"status": "ok", "service": service, "version": version}),
        (200, "application/json", {"message": "Hello, Ada!"}),
        (200, "application/json", {"message": "Hello, Grace!"}),
        (405, "application/json", {"error": "method not allowed"}),
    ]
    assert responses[3]["headers"]["allow"] == "GET, HEAD"
    for response in responses:
        assert {name: response["headers"].get(name) for name in COMMON_HEADERS} == COMMON_HEADERS, response
    # HEAD answers as GET does, without a body.
    assert head == {**responses[0], "body": ""}
    # One JSON line per request.
    assert request_log("\n".join(log_lines)) == [
        ("GET", "/health", 200), ("GET", "/hello", 200), ("GET", "/hello", 200), ("POST", "/health", 405), ("HEAD", "/health", 200)
    ]
    assert all(line.startswith("{") for line in log_lines), log_lines


class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with `reply` (bytes, then closes),
    or, when `reply` is None, reads the request and never answers: a broken or hung app."""

    def __init__(self, reply: bytes | None):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)
            connection.recv(65536)
            if self.reply is not None:
                connection.sendall(self.reply)
                connection.close()

    def __enter__(self) -> "RawServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()
