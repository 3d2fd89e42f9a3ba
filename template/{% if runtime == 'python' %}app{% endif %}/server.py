"""HTTP server for EC2 and ECS: `python -m app.server`, port from PORT (default 8080)."""

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from app import routes


class Handler(BaseHTTPRequestHandler):
    # Requests the standard library rejects before routing (bad syntax, unknown
    # method) are answered in JSON too; "explain" is the library's fixed text.
    error_content_type = "application/json"
    error_message_format = '{"error": "%(explain)s"}'

    def route(self) -> None:
        started = time.perf_counter()
        path, _, search = self.path.partition("?")
        status, body = routes.handle(self.command, path, dict(parse_qsl(search, keep_blank_values=True)))
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in routes.headers(status).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        # The path only: query strings can carry personal data.
        print(f"{self.command} {path} {status} {(time.perf_counter() - started) * 1000:.1f}ms", flush=True)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = route

    def log_request(self, code="-", size="-") -> None:
        """Replaced by the one line route() prints per request."""

    def version_string(self) -> str:
        """The Server header names the service, not the Python version."""
        return routes.SERVICE


def create_server(host: str = "0.0.0.0", port: int = 8080) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    port = int(os.environ.get("PORT") or 8080)
    server = create_server(port=port)

    # ECS and systemd stop the app with SIGTERM: stop accepting connections, let the
    # requests in flight finish, exit with code 0. shutdown() waits for
    # serve_forever() to return, so it must not run on the thread serving.
    def stop(signum, frame):
        print("SIGTERM received, shutting down", flush=True)
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"{routes.SERVICE} listening on port {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()  # waits for the request threads
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
