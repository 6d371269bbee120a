"""A scripted OpenAI-compatible judge on 127.0.0.1 (real HTTP, random port), for tests.

    with JudgeServer([Reply(text_judgement(4, 5)), "garbage", Reply(status=500)]) as srv:
        judge = Judge(srv.url)                      # srv.url ends in /v1
        ...
        assert len(srv.requests) == 2               # JSON bodies of the chat requests, in order

The script says, per chat request, what to answer: a sequence (request i gets item i, the last
item repeats) or a callable ``(index, body) -> Reply | str``. A plain ``str`` is streamed as the
model's answer. A ``Reply`` can also delay, answer an HTTP error status, or hang up without a
response. ``GET /v1/models`` lists ``model``. Helpers write well-formed judgements;
``closed_port_url()`` gives a URL where nothing listens.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.scripted_http import ScriptedHandler, ScriptedServer, Serving


@dataclass(frozen=True)
class Reply:
    text: str = ""  # the model's answer, streamed as server-sent events in a few chunks
    status: int = 200  # >= 400: an OpenAI-style error body instead
    delay_s: float = 0.0  # wait before answering (cut short when the server closes)
    hang_up: bool = False  # close the connection without any response
    chunk_delay_s: float = 0.0  # wait before each streamed chunk (a judge that trickles)
    chunk_chars: int = 0  # > 0: stream in chunks of this many characters (default: three chunks)
    finish_reason: str | None = "stop"  # sent in a last chunk, as OpenAI/vLLM do ("length": cut at max_tokens)


Script = Sequence[Reply | str] | Callable[[int, dict[str, Any]], Reply | str]


def text_judgement(text: int = 4, tags: int = 5, reason: str = "clear and on task") -> str:
    return json.dumps({"text_score": text, "tag_score": tags, "reason": reason})


def image_judgement(quality: int = 4, task: int = 4, text_image: int = 4, reason: str = "fits") -> str:
    return json.dumps(
        {"image_quality": quality, "task_relevance": task, "text_image_relevance": text_image, "reason": reason}
    )


def rubric_judgement(scores: Sequence[int], justification: str = "because") -> str:
    items = [{"criterion": i, "score": s, "justification": f"{justification} {i}"} for i, s in enumerate(scores, 1)]
    return json.dumps({"scores": items})


def closed_port_url() -> str:
    """An http://127.0.0.1:PORT/v1 URL with nothing listening (the port was bound, then freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class _Handler(ScriptedHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        body = self.read_json()
        with self.server.lock:
            index = len(self.server.requests)
            self.server.requests.append(body)
        reply = self.server.reply_for(index, body)
        if reply.delay_s and self.server.closing.wait(reply.delay_s):
            return
        if reply.hang_up:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.status >= 400:
            self.send_json(reply.status, {"error": {"message": reply.text or f"scripted HTTP {reply.status}"}})
            return
        self.start_events()
        step = reply.chunk_chars or max(1, len(reply.text) // 3)
        for i in range(0, len(reply.text), step):
            if reply.chunk_delay_s and self.server.closing.wait(reply.chunk_delay_s):
                return
            try:
                self.send_event({"choices": [{"index": 0, "delta": {"content": reply.text[i : i + step]}}]})
            except OSError:  # the client hung up (stopped): stop sending
                with self.server.lock:
                    self.server.hung_up += 1
                return
        if reply.finish_reason is not None:
            self.send_event({"choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]})
        self.end_events()


class _Server(ScriptedServer):
    def __init__(self, script: Script, model: str) -> None:
        super().__init__(_Handler, model)
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.hung_up = 0  # streams the client closed before their end

    def reply_for(self, index: int, body: dict[str, Any]) -> Reply:
        script = self.script
        item = script(index, body) if callable(script) else script[min(index, len(script) - 1)]
        return Reply(text=item) if isinstance(item, str) else item

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients time out and hang up on purpose in these tests


class JudgeServer(Serving):
    """Context manager: start on enter, stop on exit (pending delays are cut short)."""

    def __init__(self, script: Script, *, model: str = "judge-model") -> None:
        if not callable(script) and not script:
            raise ValueError("the script needs at least one reply")
        self._judge = _Server(script, model)
        super().__init__(self._judge, "judge-server")

    @property
    def requests(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat requests received so far, in order."""
        with self._judge.lock:
            return list(self._judge.requests)

    @property
    def hung_up(self) -> int:
        """How many streamed answers the client closed before their end."""
        with self._judge.lock:
            return self._judge.hung_up


def image_parts_of(body: dict[str, Any]) -> list[str]:
    """The data URLs of every image part in a recorded chat request body."""
    urls: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            urls += [p["image_url"]["url"] for p in content if p.get("type") == "image_url"]
    return urls


def user_text_of(body: dict[str, Any]) -> str:
    """All text the user message(s) of a recorded request carry, joined."""
    texts: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p["text"] for p in content if p.get("type") == "text"]
    return "\n".join(texts)
