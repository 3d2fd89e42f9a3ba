"""AWS Lambda entry point (handler "app.lambda_handler.handler").

Accepts function URL and HTTP API events (payload format 2.0) and REST API events
(payload format 1.0) and answers them with the same routes as the HTTP server.
"""

import json
import time
from urllib.parse import parse_qsl

from app import routes


def handler(event, context=None):
    started = time.perf_counter()
    http = (event.get("requestContext") or {}).get("http")  # only in payload format 2.0
    if http:
        method, path = http.get("method"), event.get("rawPath") or "/"
    else:
        method, path = event.get("httpMethod"), event.get("path") or "/"
    if isinstance(event.get("rawQueryString"), str):
        query = dict(parse_qsl(event["rawQueryString"], keep_blank_values=True))
    else:
        query = event.get("queryStringParameters") or {}

    status, body = routes.handle(method, path, query)
    # One JSON line per request, as the server logs; the path only: query strings can carry personal data.
    print(json.dumps({"method": method, "path": path, "status": status, "ms": round((time.perf_counter() - started) * 1000, 1)}), flush=True)
    # HEAD answers as GET does, without a body.
    return {"statusCode": status, "headers": routes.headers(status), "body": "" if method == "HEAD" else json.dumps(body)}
