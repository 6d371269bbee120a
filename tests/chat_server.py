"""A scripted OpenAI-compatible streaming chat server on 127.0.0.1 (real HTTP), shaped like vLLM.

    with ChatServer([Stream(["<thi", "nk>plan</think>", "# Title\\n\\nText"], finish_reason="length")]) as srv:
        backend = OpenAICompatBackend(srv.url)             # srv.url ends in /v1
        ...
        assert srv.bodies[0]["structured_outputs"]["grammar"].startswith("root ::=")

Request i gets script item i (the last repeats); an item may also be a callable
``(index, body) -> Stream``. A ``Stream`` sends each of ``chunks`` as one SSE event (so a test
chooses the chunk boundaries exactly), then an optional mid-stream ``error`` payload (vLLM's old
style is ``{"object": "error", "message": ...}``), then a last chunk carrying ``finish_reason``
and ``data: [DONE]``. ``status >= 400`` answers vLLM's HTTP error body instead. Every request
body is logged in ``bodies``; ``GET /v1/models`` lists ``model``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Stream:
    chunks: Sequence[str] = ()
    finish_reason: str | None = "stop"
    error: dict[str, Any] | None = None  # sent after the chunks, instead of the finish and [DONE]
    status: int = 200
    extra_events: Sequence[dict[str, Any]] = field(default_factory=tuple)  # sent before the chunks


Script = Sequence[Stream] | Callable[[int, dict[str, Any]], Stream]


def old_style_error(message: str, code: int = 400) -> dict[str, Any]:
    """The error event older vLLM releases send mid-stream (no "error" key, no choices)."""
    return {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": code}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the stream ends when the connection closes
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": self.server.model, "object": "model"}]})
        else:
            self._json(404, {"object": "error", "message": f"no route {self.path}", "code": 404})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        with self.server.lock:
            index = len(self.server.bodies)
            self.server.bodies.append(body)
        script = self.server.script
        reply = script(index, body) if callable(script) else script[min(index, len(script) - 1)]
        if reply.status >= 400:
            self._json(reply.status, {"object": "error", "message": f"scripted HTTP {reply.status}", "code": 400})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        model = body.get("model", self.server.model)
        for event in reply.extra_events:
            self._event(event)
        self._event(self._chunk(model, {"role": "assistant", "content": ""}, None))
        for text in reply.chunks:
            self._event(self._chunk(model, {"content": text}, None))
        if reply.error is not None:
            self._event(reply.error)
            return
        self._event(self._chunk(model, {}, reply.finish_reason))
        self.wfile.write(b"data: [DONE]\n\n")

    @staticmethod
    def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": model, "choices": [choice]}

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script, model: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.model = model
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []


class ChatServer:
    """Context manager: start on enter, stop on exit."""

    def __init__(self, script: Script, *, model: str = "Qwen/Qwen3-8B") -> None:
        if not callable(script) and not script:
            raise ValueError("the script needs at least one stream")
        self._server = _Server(script, model)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="chat-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat requests received so far, in order."""
        with self._server.lock:
            return list(self._server.bodies)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
