import http.client
import json
import threading

import pytest

from app.server import create_server


@pytest.fixture(scope="module")
def server():
    server = create_server("127.0.0.1", 0)  # port 0: any free port
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def request(server, path, method="GET"):
    connection = http.client.HTTPConnection(*server.server_address, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        connection.close()


def test_health_answers_200_with_json(server):
    status, headers, body = request(server, "/health")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body["status"] == "ok"


def test_hello_decodes_the_query_string(server):
    status, _, body = request(server, "/hello?name=Ada%20Lovelace")
    assert status == 200
    assert body == {"message": "Hello, Ada Lovelace!"}


def test_errors_are_json_too(server):
    status, _, body = request(server, "/hello?name=%3Cb%3E")
    assert status == 400
    assert body["error"].startswith("name ")

    status, _, body = request(server, "/nope")
    assert status == 404
    assert body == {"error": "not found"}

    status, headers, body = request(server, "/health", method="POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert body == {"error": "method not allowed"}


def test_head_answers_as_get_without_a_body(server):
    connection = http.client.HTTPConnection(*server.server_address, timeout=5)
    try:
        connection.request("GET", "/health")
        get = connection.getresponse()
        get_body = get.read()
        connection.request("HEAD", "/health")
        head = connection.getresponse()
        assert (head.status, head.read()) == (200, b"")
        assert head.headers["content-type"] == "application/json"
        assert head.headers["content-length"] == str(len(get_body))
        # Had HEAD sent a body, this answer would start with it.
        connection.request("GET", "/hello")
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_keeps_the_connection_alive_between_requests(server):
    connection = http.client.HTTPConnection(*server.server_address, timeout=5)
    try:
        connection.request("GET", "/health")
        first = connection.getresponse()
        first.read()
        assert not first.will_close
        sock = connection.sock
        connection.request("GET", "/hello")
        assert connection.getresponse().status == 200
        assert connection.sock is sock
    finally:
        connection.close()


def test_requests_the_library_rejects_are_json_too(server):
    status, headers, body = request(server, "/health", method="BREW")
    assert status == 501
    assert headers["content-type"] == "application/json"
    assert "error" in body


@pytest.mark.parametrize("path, method", [("/health", "GET"), ("/nope", "GET"), ("/health", "POST"), ("/health", "BREW")])
def test_every_answer_is_neither_sniffed_nor_stored(server, path, method):
    _, headers, _ = request(server, path, method=method)
    assert (headers["x-content-type-options"], headers["cache-control"]) == ("nosniff", "no-store")
    assert len(headers.get_all("cache-control")) == 1
