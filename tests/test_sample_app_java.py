"""The Java sample app of a rendered service, run for real.

Maven Central is out of reach here, so the app is built the way Maven would build it
from pom.xml, with the JDK's own tools: javac, then JUnit 5 through Debian's
junit-platform-console-standalone (apt package junit5), then `jar` with the pom's
finalName and Main-Class. The code must compile with --release 17 (the local JDK)
while the pom asks for 21 or 25.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.register_assert_rewrite("app_probe")

from app_probe import (  # noqa: E402
    TEST_IDLE_TIMEOUT_SECONDS,
    COMMON_HEADERS,
    RAW_ROUTING,
    check_common_headers,
    check_full_contract,
    check_graceful_stop,
    check_head_and_allow,
    check_keep_alive,
    check_raw_routing,
    check_raw_routing_answers,
    free_port,
    ask,
    get,
    raw_routing_events,
    request_log,
    running,
    wait_until_serving,
)
from helpers import catalog, render  # noqa: E402

JAVAC = shutil.which("javac")
JUNIT = Path("/usr/share/java/junit-platform-console-standalone.jar")
JAVA_ROW = catalog.RUNTIMES["java"]
SERVICE = "orders-api"
POM = "{http://maven.apache.org/POM/4.0.0}"

needs_jdk = pytest.mark.skipif(
    JAVAC is None or not JUNIT.exists(),
    reason="needs a JDK (javac) and JUnit 5's console launcher (apt install junit5)",
)


# --------------------------------------------------------------------------
# Rendered build files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("version", catalog.runtime_versions("java"))
def test_pom_carries_the_chosen_java_version(render_service, version):
    pom = ET.parse(render_service(runtime="java", runtime_version=version, service_name=SERVICE) / "pom.xml").getroot()
    assert pom.findtext(f"{POM}properties/{POM}maven.compiler.release") == version
    assert pom.findtext(f"{POM}groupId") == "com.example"
    assert pom.findtext(f"{POM}artifactId") == SERVICE


def test_pom_builds_a_self_contained_app_jar(render_service):
    pom = ET.parse(render_service(runtime="java", description="Orders & <returns>") / "pom.xml").getroot()
    assert pom.findtext(f"{POM}description") == "Orders & <returns>"
    # target/app.jar, as the data table's bundle and start command expect.
    assert f"target/{pom.findtext(f'{POM}build/{POM}finalName')}.jar" == JAVA_ROW["start_command"].split()[-1]
    assert pom.findtext(f".//{POM}manifest/{POM}mainClass") == "com.example.app.App"
    # No runtime dependencies: the jar alone runs with `java -jar` and on Lambda.
    scopes = {d.findtext(f"{POM}artifactId"): d.findtext(f"{POM}scope") for d in pom.findall(f"{POM}dependencies/{POM}dependency")}
    assert scopes == {"junit-jupiter": "test"}


def test_java_sources_belong_to_java_services_only(render_service):
    java_service = render_service(runtime="java")
    assert {p.name for p in (java_service / "src/main/java/com/example/app").iterdir()} >= {"App.java", "Router.java", "LambdaHandler.java"}
    assert not list(java_service.glob("*.go"))
    for runtime in ("go", "python", "nodejs"):
        other = render_service(runtime=runtime)
        assert not (other / "pom.xml").exists() and not (other / "src/main/java").exists(), runtime


# --------------------------------------------------------------------------
# Build and run
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(template_dir, tmp_path_factory) -> SimpleNamespace:
    """The rendered service, compiled to target/classes and target/test-classes and packaged as target/app.jar."""
    service = render(template_dir, tmp_path_factory.mktemp("java") / SERVICE, runtime="java", service_name=SERVICE)
    target = service / "target"
    classes, test_classes = target / "classes", target / "test-classes"
    run([JAVAC, "--release", "17", "-Xlint:all", "-Werror", "-d", classes, *sources(service / "src/main/java")])
    run([JAVAC, "--release", "17", "-d", test_classes, "-cp", f"{classes}{os.pathsep}{JUNIT}", *sources(service / "src/test/java")])

    pom = ET.parse(service / "pom.xml").getroot()
    jar = target / f"{pom.findtext(f'{POM}build/{POM}finalName')}.jar"
    main_class = pom.findtext(f".//{POM}manifest/{POM}mainClass")
    run([Path(JAVAC).resolve().parent / "jar", "--create", "--file", jar, "--main-class", main_class, "-C", classes, "."])
    return SimpleNamespace(service=service, classes=classes, test_classes=test_classes, jar=jar)


@needs_jdk
def test_junit_tests_pass(app, tmp_path):
    reports = tmp_path / "reports"
    result = subprocess.run(
        ["java", "-jar", JUNIT, "--disable-banner", "--class-path", f"{app.classes}{os.pathsep}{app.test_classes}",
         "--scan-class-path", "--reports-dir", reports],
        capture_output=True, text=True, timeout=60,
    )
    suite = ET.parse(reports / "TEST-junit-jupiter.xml").getroot()
    totals = {key: int(suite.get(key)) for key in ("tests", "failures", "errors")}
    assert totals["failures"] == totals["errors"] == 0, result.stdout
    assert totals["tests"] > 0
    test_classes = {case.get("classname") for case in suite.iter("testcase")}
    assert {"com.example.app.RouterTest", "com.example.app.LambdaHandlerTest"} <= test_classes
    assert result.returncode == 0, result.stdout


@needs_jdk
def test_server_serves_the_contract_and_stops_on_sigterm(app):
    port = free_port()
    env = server_env(port, APP_VERSION="1.2.3")
    # The data table's start command, run from the service folder: java -jar target/app.jar
    with running(shlex.split(JAVA_ROW["start_command"]), cwd=app.service, env=env, stderr=subprocess.STDOUT) as proc:
        check_full_contract(proc, port, SERVICE, "1.2.3")
        # Before Java 21, HttpServer.stop() waits out the whole 10 s grace period. The JVM
        # reports a SIGTERM exit as 143 (128 + 15) after running the shutdown hook.
        output = check_graceful_stop(proc, port, timeout=20, exit_codes=(0, 143))
    # One JSON line per request, the path without its query string.
    logged = request_log(output)
    assert ("GET", "/health", 200) in logged and ("POST", "/health", 405) in logged, output
    assert ("GET", "/hello", 400) in logged, output
    assert "stopped" in output


def test_idle_timeout_defaults_to_the_catalogs_longer_than_the_load_balancers(render_service):
    assert catalog.APP_IDLE_TIMEOUT_SECONDS > catalog.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS
    app = render_service(runtime="java") / "src/main/java/com/example/app/App.java"
    assert f"    private static final int DEFAULT_IDLE_TIMEOUT_SECONDS = {catalog.APP_IDLE_TIMEOUT_SECONDS};" in app.read_text().splitlines()


@needs_jdk
def test_server_answers_head_and_keeps_idle_connections_for_its_idle_timeout(app):
    port = free_port()
    env = server_env(port, IDLE_TIMEOUT_SECONDS=str(TEST_IDLE_TIMEOUT_SECONDS))
    # HttpServer looks for idle connections every 10 s (sun.net.httpserver.clockTick, which
    # the JDK reads but does not document); every 1/4 s here, so that the check measures
    # the idle timeout itself.
    java, *arguments = shlex.split(JAVA_ROW["start_command"])
    argv = [java, "-Dsun.net.httpserver.clockTick=250", *arguments]
    with running(argv, cwd=app.service, env=env, stderr=subprocess.STDOUT) as proc:
        wait_until_serving(proc, lambda: get(port, "/health"), timeout=15, interval=0.1)
        check_head_and_allow(port)
        # Only the routes' answers: HttpServer writes its own refusals (a request line it cannot
        # parse, a path no context takes) as HTML, with headers no handler can add.
        check_common_headers(port)
        check_keep_alive(port, TEST_IDLE_TIMEOUT_SECONDS, granularity=0.25)


# Events as the Lambda Java runtime passes them to a Map handler (nested Maps, nulls kept).
LAMBDA_CASES = [
    (
        "function URL /health",
        {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/health",
            "rawQueryString": "",
            "headers": {"accept": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
            "requestContext": {
                "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
                "timeEpoch": 1735689600000,
            },
            "isBase64Encoded": False,
        },
        200,
        {"status": "ok", "service": "from-env", "version": "4.5.6"},
    ),
    (
        "function URL /hello with a query",
        {"version": "2.0", "rawPath": "/hello", "rawQueryString": "name=Ada+Lovelace",
         "queryStringParameters": {"name": "Ada Lovelace"}, "requestContext": {"http": {"method": "GET"}}},
        200,
        {"message": "Hello, Ada Lovelace!"},
    ),
    (
        "function URL POST",
        {"version": "2.0", "rawPath": "/hello", "rawQueryString": "", "requestContext": {"http": {"method": "POST"}}},
        405,
        {"error": "method not allowed"},
    ),
    (
        "function URL HEAD: as GET, without a body",
        {"version": "2.0", "rawPath": "/health", "rawQueryString": "", "requestContext": {"http": {"method": "HEAD"}}},
        200,
        None,
    ),
    (
        "function URL unknown path",
        {"version": "2.0", "rawPath": "/nope", "rawQueryString": "", "requestContext": {"http": {"method": "GET"}}},
        404,
        {"error": "not found"},
    ),
    (
        "REST API /hello",
        {"resource": "/{proxy+}", "path": "/hello", "httpMethod": "GET", "queryStringParameters": {"name": "Grace"}},
        200,
        {"message": "Hello, Grace!"},
    ),
    (
        "REST API without a query",
        {"resource": "/{proxy+}", "path": "/hello", "httpMethod": "GET", "queryStringParameters": None},
        200,
        {"message": "Hello, world!"},
    ),
    (
        "REST API with a bad name",
        {"path": "/hello", "httpMethod": "GET", "queryStringParameters": {"name": "../etc"}},
        400,
        {"error": "name may contain only letters, digits, spaces, '-', '_' and '.'"},
    ),
]

PROBE = """\
import java.lang.reflect.Method;
import java.util.HashMap;
import java.util.Map;

/** Calls the Lambda handler the way the Java runtime does: found by name, a Map in, a Map out. */
public class Probe {{
    static Map<String, Object> map(Object... keysAndValues) {{
        Map<String, Object> map = new HashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {{
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }}
        return map;
    }}

    public static void main(String[] args) throws Exception {{
        String[] handler = args[0].split("::");
        Class<?> type = Class.forName(handler[0]);
        Object instance = type.getConstructor().newInstance();
        Method method = type.getMethod(handler[1], Map.class);
        Object[] events = {{
            {events}
        }};
        for (Object event : events) {{
            Map<?, ?> result = (Map<?, ?>) method.invoke(instance, event);
            Map<?, ?> headers = (Map<?, ?>) result.get("headers");
            System.out.println("RESULT\\t" + result.keySet().size() + "\\t" + (Integer) result.get("statusCode")
                    + "\\t" + headers.get("content-type") + "\\t" + headers.get("allow") + "\\t" + headers.get("x-content-type-options")
                    + "\\t" + headers.get("cache-control") + "\\t" + (String) result.get("body"));
        }}
    }}
}}
"""


def java_literal(value) -> str:
    """A Java expression for a JSON-like value (ASCII strings only)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean.TRUE" if value else "Boolean.FALSE"
    if isinstance(value, int):
        return f"{value}L" if abs(value) > 2**31 - 1 else str(value)
    if isinstance(value, str):
        assert value.isascii()
        return json.dumps(value)
    if isinstance(value, dict):
        return "map(" + ", ".join(f"{java_literal(k)}, {java_literal(v)}" for k, v in value.items()) + ")"
    raise TypeError(value)


def run_probe(app: SimpleNamespace, tmp_path: Path, events: list[dict]) -> tuple[list[list[str]], str]:
    """(the RESULT rows, stdout) of the Lambda handler given events, through PROBE."""
    probe = tmp_path / "Probe.java"
    probe.write_text(PROBE.format(events=",\n            ".join(java_literal(event) for event in events)))
    run([JAVAC, "--release", "17", "-d", tmp_path, probe])

    env = {**os.environ, "SERVICE_NAME": "from-env", "APP_VERSION": "4.5.6"}
    result = subprocess.run(
        ["java", "-cp", f"{app.jar}{os.pathsep}{tmp_path}", "Probe", JAVA_ROW["lambda_handler"]],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line.split("\t")[1:] for line in result.stdout.splitlines() if line.startswith("RESULT\t")], result.stdout


# HttpServer refuses these before any handler sees them, in HTML, with these statuses: a
# target that java.net.URI cannot parse (a bad %-escape anywhere: 400, "URISyntaxException
# thrown", where the other runtimes greet Ada for the second) and one that no context's path
# prefixes ("*": 404, "No context found for request").
REFUSED_BY_HTTPSERVER = {"/hello?name=%ZZ": 400, "/hello?x=%ZZ&name=Ada": 400, "*": 404}


@needs_jdk
def test_routes_the_raw_path_alike_on_the_server_and_the_lambda_handler(app, tmp_path):
    port = free_port()
    with running(shlex.split(JAVA_ROW["start_command"]), cwd=app.service, env=server_env(port), stderr=subprocess.STDOUT) as proc:
        wait_until_serving(proc, lambda: get(port, "/health"), timeout=15, interval=0.1)
        check_raw_routing(port, skip=tuple(REFUSED_BY_HTTPSERVER))
        for method, target, _, _ in RAW_ROUTING:
            if target in REFUSED_BY_HTTPSERVER:
                assert ask(port, method, target)[:2] == (REFUSED_BY_HTTPSERVER[target], "text/html"), target
    rows, _ = run_probe(app, tmp_path, raw_routing_events())
    check_raw_routing_answers([{"statusCode": int(row[1]), "headers": {"content-type": row[2]}, "body": row[6]} for row in rows])


@needs_jdk
@pytest.mark.xfail(strict=True, reason="HttpServer answers these itself, in HTML, before any handler (issue 21, item 4)")
def test_server_answers_what_httpserver_refuses_in_json(app):
    port = free_port()
    with running(shlex.split(JAVA_ROW["start_command"]), cwd=app.service, env=server_env(port), stderr=subprocess.STDOUT) as proc:
        wait_until_serving(proc, lambda: get(port, "/health"), timeout=15, interval=0.1)
        check_raw_routing(port)


@needs_jdk
def test_lambda_handler_answers_function_url_and_rest_events(app, tmp_path):
    rows, stdout = run_probe(app, tmp_path, [event for _, event, _, _ in LAMBDA_CASES])
    result = SimpleNamespace(stdout=stdout)
    assert len(rows) == len(LAMBDA_CASES)
    for (name, _, status, body), (keys, got_status, content_type, allow, nosniff, cache, got_body) in zip(LAMBDA_CASES, rows):
        # Exactly statusCode, headers and body; a 405 allows GET and HEAD; HEAD has no body (None here).
        want_allow = "GET, HEAD" if status == 405 else "null"
        got = (keys, int(got_status), content_type, allow, {"x-content-type-options": nosniff, "cache-control": cache},
               json.loads(got_body) if got_body else None)
        assert got == ("3", status, "application/json", want_allow, COMMON_HEADERS, body), name
    # One JSON line per request.
    assert [entry[2] for entry in request_log(result.stdout)] == [status for _, _, status, _ in LAMBDA_CASES], result.stdout


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def server_env(port: int, **extra: str) -> dict[str, str]:
    """This environment for the server on port, without SERVICE_NAME (the rendered default counts), plus extra."""
    env = {k: v for k, v in os.environ.items() if k != "SERVICE_NAME"}
    return {**env, "PORT": str(port), **extra}


def sources(root: Path) -> list[Path]:
    return sorted(root.rglob("*.java"))


def run(args: list) -> None:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"
