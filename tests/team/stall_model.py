"""An OpenAI-compatible chat server on 127.0.0.1 that sends the first part of its answer at once,
then stalls (until closed): an article caught mid-stream, for the kill -9 test."""

from __future__ import annotations

from tests.scripted_http import ScriptedHandler, ScriptedServer, Serving


class _Handler(ScriptedHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        self.read_json()
        self.start_events()
        self.send_event({"choices": [{"index": 0, "delta": {"content": self.server.first}}]})
        if self.server.closing.wait(600):
            return
        self.send_event({"choices": [{"index": 0, "delta": {"content": self.server.rest}}]})
        self.end_events()


class _Server(ScriptedServer):
    def __init__(self, first: str, rest: str) -> None:
        super().__init__(_Handler)
        self.first, self.rest = first, rest


class StallingModel(Serving):
    def __init__(self, first: str, rest: str = "The end.") -> None:
        super().__init__(_Server(first, rest), "stalling-model")
