import json

from app.lambda_handler import handler


def v2_event(method, raw_path, raw_query_string=""):
    """Function URL / HTTP API event, payload format 2.0 (only the fields the handler reads)."""
    return {
        "version": "2.0",
        "rawPath": raw_path,
        "rawQueryString": raw_query_string,
        "requestContext": {"http": {"method": method, "path": raw_path}},
    }


def v1_event(method, path, query_string_parameters=None):
    """REST API event, payload format 1.0."""
    return {"httpMethod": method, "path": path, "queryStringParameters": query_string_parameters, "requestContext": {}}


def invoke(event):
    response = handler(event, None)
    assert isinstance(response["body"], str)
    return {**response, "body": json.loads(response["body"])}


def test_answers_a_payload_2_event_for_health():
    response = invoke(v2_event("GET", "/health"))
    assert response["statusCode"] == 200
    assert response["headers"] == {"content-type": "application/json", "x-content-type-options": "nosniff", "cache-control": "no-store"}
    assert response["body"]["status"] == "ok"


def test_logs_one_json_line_without_the_query_string(capsys):
    handler(v2_event("GET", "/hello", "name=Ada"), None)
    entry = json.loads(capsys.readouterr().out)
    assert {key: entry[key] for key in ("method", "path", "status")} == {"method": "GET", "path": "/hello", "status": 200}
    assert set(entry) == {"method", "path", "status", "ms"}


def test_reads_the_query_string_of_a_payload_2_event():
    response = invoke(v2_event("GET", "/hello", "name=Ada%20L"))
    assert response["statusCode"] == 200
    assert response["body"] == {"message": "Hello, Ada L!"}


def test_falls_back_to_query_string_parameters_without_raw_query_string():
    event = v2_event("GET", "/hello")
    del event["rawQueryString"]
    event["queryStringParameters"] = {"name": "Ada"}
    assert invoke(event)["body"] == {"message": "Hello, Ada!"}


def test_answers_a_payload_1_rest_api_event():
    response = invoke(v1_event("GET", "/hello", {"name": "Grace"}))
    assert response["statusCode"] == 200
    assert response["body"] == {"message": "Hello, Grace!"}
    assert invoke(v1_event("GET", "/hello"))["body"] == {"message": "Hello, world!"}


def test_passes_errors_through_with_their_status():
    assert invoke(v2_event("GET", "/hello", "name=%3Cscript%3E"))["statusCode"] == 400
    assert invoke(v2_event("GET", "/missing"))["statusCode"] == 404
    not_allowed = invoke(v1_event("POST", "/health"))
    assert not_allowed["statusCode"] == 405
    assert not_allowed["headers"]["allow"] == "GET, HEAD"


def test_answers_head_as_get_without_a_body():
    get = handler(v2_event("GET", "/health"), None)
    assert handler(v2_event("HEAD", "/health"), None) == {**get, "body": ""}
    assert handler(v1_event("HEAD", "/nope"), None)["statusCode"] == 404
