"""What the scripted OpenAI-compatible test servers share: a quiet handler that answers JSON and
server-sent events, a threading server on 127.0.0.1 (random port) with a lock and a ``closing``
event, and a context manager that serves it from a background thread.

tests/chat_server.py (vLLM-shaped streams), tests/judge_server.py (judges that delay, fail or
hang up) and tests/team/stall_model.py (a stream that stalls) build on these.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class ScriptedServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1; ``closing`` is set when the test leaves the server."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], model: str = "scripted") -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.model = model
        self.lock = threading.Lock()
        self.closing = threading.Event()


class ScriptedHandler(BaseHTTPRequestHandler):
    """JSON and SSE answers, ``GET /v1/models`` listing the server's model, no log lines."""

    protocol_version = "HTTP/1.0"  # the body ends when the connection closes: simple streaming
    server: ScriptedServer

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": self.server.model, "object": "model"}]})
        else:
            message = f"no route {self.path}"  # both error shapes: vLLM's flat one and OpenAI's nested one
            self.send_json(404, {"object": "error", "message": message, "error": {"message": message}, "code": 404})

    def read_json(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

    def start_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

    def send_event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def end_events(self) -> None:
        self.wfile.write(b"data: [DONE]\n\n")

    def send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


class Serving:
    """Context manager: serve on enter; on exit set ``closing`` (cuts pending waits short) and stop."""

    def __init__(self, server: ScriptedServer, name: str) -> None:
        self._server = server
        # A short poll keeps shutdown (and so every test using the server) fast.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        """The server's OpenAI-style base URL (ends in /v1)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
