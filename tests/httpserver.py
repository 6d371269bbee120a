"""A real HTTP/1.1 server on 127.0.0.1 (random port) for tests, in a background thread.

    with LocalServer() as srv:
        srv.route("/a.png", body=png_bytes, headers={"Content-Type": "image/png"})
        srv.route("/old", status=302, headers={"Location": "/a.png"})
        srv.route("/endless", body=(b"x" * 65536 for _ in iter(int, 1)))   # chunked, no length
        fetch(srv.url("/a.png"))
        assert srv.requests == ["/a.png"]

``body`` is bytes (sent with Content-Length unless ``headers`` sets one) or an iterable of
bytes chunks (sent chunked). Unknown paths answer 404. ``requests`` lists the paths asked for,
in order, so a test can prove that a request never reached the server; ``request_headers`` logs
each request's headers (key-leak tests).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class _Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            self.server.seen.append(path)
            self.server.headers_seen.append((path, dict(self.headers.items())))
            route = self.server.routes.get(path, _Route(404, {"Content-Type": "text/plain"}, b"not found"))
        # The client may hang up early on purpose (size caps); that is not an error here.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(route)

    def _send(self, route: _Route) -> None:
        self.send_response(route.status)
        headers = {k.lower(): v for k, v in route.headers.items()}
        for key, value in route.headers.items():
            self.send_header(key, value)
        if isinstance(route.body, bytes | bytearray):
            if "content-length" not in headers:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in route.body:
            if chunk:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.routes: dict[str, _Route] = {}
        self.seen: list[str] = []
        self.headers_seen: list[tuple[str, dict[str, str]]] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients in these tests hang up mid-response or mid-keep-alive on purpose.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """Context manager owning one ``ThreadingHTTPServer`` bound to 127.0.0.1 on a free port."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="test-http", daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(
        self,
        path: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: bytes | Iterable[bytes] = b"",
    ) -> None:
        with self._server.lock:
            self._server.routes[path] = _Route(status, dict(headers or {}), body)

    @property
    def requests(self) -> list[str]:
        with self._server.lock:
            return list(self._server.seen)

    @property
    def request_headers(self) -> list[tuple[str, dict[str, str]]]:
        """(path, headers) of every request, in order: what a client sent, keys included."""
        with self._server.lock:
            return list(self._server.headers_seen)
