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
body is logged in ``bodies``; ``GET /v1/models`` lists ``model``. A ``threading.Event`` among the
chunks holds the stream there until the test sets it (at most ``HOLD_S``): a model that is slow
at an exact spot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.scripted_http import ScriptedHandler, ScriptedServer, Serving


@dataclass(frozen=True)
class Stream:
    chunks: Sequence[str | threading.Event] = ()
    finish_reason: str | None = "stop"
    error: dict[str, Any] | None = None  # sent after the chunks, instead of the finish and [DONE]
    status: int = 200
    extra_events: Sequence[dict[str, Any]] = field(default_factory=tuple)  # sent before the chunks


HOLD_S = 60.0
Script = Sequence[Stream] | Callable[[int, dict[str, Any]], Stream]


def old_style_error(message: str, code: int = 400) -> dict[str, Any]:
    """The error event older vLLM releases send mid-stream (no "error" key, no choices)."""
    return {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": code}


class _Handler(ScriptedHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        body = self.read_json()
        with self.server.lock:
            index = len(self.server.bodies)
            self.server.bodies.append(body)
        script = self.server.script
        reply = script(index, body) if callable(script) else script[min(index, len(script) - 1)]
        if reply.status >= 400:
            self.send_json(reply.status, {"object": "error", "message": f"scripted HTTP {reply.status}", "code": 400})
            return
        self.start_events()
        model = body.get("model", self.server.model)
        for event in reply.extra_events:
            self.send_event(event)
        self.send_event(self._chunk(model, {"role": "assistant", "content": ""}, None))
        for text in reply.chunks:
            if isinstance(text, threading.Event):
                text.wait(HOLD_S)
                continue
            self.send_event(self._chunk(model, {"content": text}, None))
        if reply.error is not None:
            self.send_event(reply.error)
            return
        self.send_event(self._chunk(model, {}, reply.finish_reason))
        self.end_events()

    @staticmethod
    def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": model, "choices": [choice]}


class _Server(ScriptedServer):
    def __init__(self, script: Script, model: str) -> None:
        super().__init__(_Handler, model)
        self.script = script
        self.bodies: list[dict[str, Any]] = []


class ChatServer(Serving):
    """Context manager: start on enter, stop on exit."""

    def __init__(self, script: Script, *, model: str = "Qwen/Qwen3-8B") -> None:
        if not callable(script) and not script:
            raise ValueError("the script needs at least one stream")
        self._chat = _Server(script, model)
        super().__init__(self._chat, "chat-server")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat requests received so far, in order."""
        with self._chat.lock:
            return list(self._chat.bodies)
