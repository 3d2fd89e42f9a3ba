import pytest

from app import routes


def test_health_reports_the_service_and_its_version(monkeypatch):
    monkeypatch.setenv("APP_VERSION", "1.2.3")
    assert routes.handle("GET", "/health", {}) == (200, {"status": "ok", "service": routes.SERVICE, "version": "1.2.3"})


def test_health_reports_version_dev_without_app_version(monkeypatch):
    monkeypatch.delenv("APP_VERSION", raising=False)
    assert routes.handle("GET", "/health", {})[1]["version"] == "dev"


def test_hello_greets_the_name_given():
    assert routes.handle("GET", "/hello", {"name": "Ada"}) == (200, {"message": "Hello, Ada!"})


@pytest.mark.parametrize("query", [{}, {"name": ""}])
def test_hello_greets_the_world_without_a_name(query):
    assert routes.handle("GET", "/hello", query) == (200, {"message": "Hello, world!"})


@pytest.mark.parametrize("name", ["Ada Lovelace", "r2-d2_v1.0", "x" * 64])
def test_hello_accepts_letters_digits_spaces_dashes_underscores_and_dots(name):
    assert routes.handle("GET", "/hello", {"name": name})[0] == 200


@pytest.mark.parametrize("name", ["x" * 65, "<script>", "Ada!", "a/b", "Zoë", "new\nline"])
def test_hello_rejects_other_names(name):
    status, body = routes.handle("GET", "/hello", {"name": name})
    assert status == 400
    assert body["error"].startswith("name ")


@pytest.mark.parametrize("path", ["/", "/nope", "/health/", "/HEALTH"])
def test_unknown_paths_are_404(path):
    assert routes.handle("GET", path, {}) == (404, {"error": "not found"})


@pytest.mark.parametrize(("path", "query"), [("/health", {}), ("/hello", {"name": "Ada"}), ("/hello", {"name": "<b>"}), ("/nope", {})])
def test_head_answers_as_get_does(path, query):
    assert routes.handle("HEAD", path, query) == routes.handle("GET", path, query)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_on_known_paths_are_405(method):
    assert routes.handle(method, "/hello", {}) == (405, {"error": "method not allowed"})


def test_every_response_is_json_not_sniffed_nor_stored_and_a_405_names_the_allowed_methods():
    common = {"x-content-type-options": "nosniff", "cache-control": "no-store"}
    assert routes.headers(200) == {"content-type": "application/json", **common}
    assert routes.headers(404) == {"content-type": "application/json", **common}
    assert routes.headers(405) == {"content-type": "application/json", **common, "allow": "GET, HEAD"}
