"""OpenAICompatBackend against real servers on 127.0.0.1.

The happy paths run against llama.cpp's own OpenAI-compatible server (SmolLM2, session fixture);
the failure paths against a tiny http.server that answers exactly what each test needs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from models.base import ChatBackend, ChatOptions, Message, complete
from models.errors import ModelError
from models.openai_compat import OpenAICompatBackend
from tests.scripted_http import ScriptedHandler, ScriptedServer, Serving

HELLO: list[Message] = [{"role": "user", "content": "Say hello."}]
FAST = ChatOptions(max_tokens=24, temperature=0.0, seed=1)


# ------------------------------------------------------------------------- real llama.cpp server
def test_streams_chunks_that_join_into_text(llama_server: str) -> None:
    backend = OpenAICompatBackend(llama_server)
    assert isinstance(backend, ChatBackend)
    chunks = list(backend.stream(HELLO, FAST))
    assert len(chunks) > 3, chunks  # really streamed, not one blob
    assert all(isinstance(c, str) and c for c in chunks)
    assert "".join(chunks).strip()
    assert complete(backend, HELLO, FAST) == "".join(chunks)  # seed + temperature 0: same text


def test_grammar_constrains_output(llama_server: str) -> None:
    backend = OpenAICompatBackend(llama_server)
    messages: list[Message] = [{"role": "user", "content": "Is the sky blue? Answer yes or no."}]
    for seed in (1, 2, 3):
        opts = ChatOptions(max_tokens=8, temperature=1.0, seed=seed, grammar='root ::= "yes" | "no"')
        assert complete(backend, messages, opts) in {"yes", "no"}


def test_json_schema_constrains_output(llama_server: str) -> None:
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 2}},
        "required": ["score"],
    }
    backend = OpenAICompatBackend(llama_server)
    text = complete(backend, HELLO, ChatOptions(max_tokens=16, temperature=0.0, json_schema=schema))
    assert json.loads(text)["score"] in {0, 1, 2}


def test_stop_sequence_and_max_tokens_are_honoured(llama_server: str) -> None:
    backend = OpenAICompatBackend(llama_server)
    counted = list(backend.stream(HELLO, ChatOptions(max_tokens=5, temperature=0.0)))
    assert 1 <= len(counted) <= 5
    text = complete(backend, HELLO, ChatOptions(max_tokens=16, grammar='root ::= "ab" "cd" "ef"', stop=("cd",)))
    assert text == "ab"


def test_empty_model_is_discovered_from_models_endpoint(llama_server: str) -> None:
    backend = OpenAICompatBackend(llama_server, model="")
    assert "first listed" in backend.describe()
    model = backend.resolve_model()
    assert model.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert model in backend.describe()
    ok, msg = backend.test_connection()
    assert ok and llama_server in msg


def test_test_connection_names_an_unknown_model() -> None:
    with _fake_server(lambda h: _json(h, 200, {"object": "list", "data": [{"id": "served-model"}]})) as url:
        ok, msg = OpenAICompatBackend(url, model="other").test_connection()
    assert not ok
    assert "served-model" in msg and "STUDIO_OPENAI_MODEL" in msg


# ------------------------------------------------------------------------------- failure paths
def test_server_down_is_a_fast_model_error_saying_what_to_start() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    backend = OpenAICompatBackend(url, model="m")
    start = time.monotonic()
    with pytest.raises(ModelError) as err:
        list(backend.stream(HELLO, FAST))
    assert time.monotonic() - start < 3
    assert url in str(err.value)
    assert "vllm serve" in str(err.value) and "STUDIO_OPENAI_BASE_URL" in str(err.value)
    ok, msg = backend.test_connection()
    assert not ok and "cannot reach" in msg


def test_read_timeout_names_the_setting() -> None:
    stalled = threading.Event()

    def stall(handler: ScriptedHandler) -> None:
        stalled.wait(5)  # accept the request, then say nothing

    with _fake_server(stall) as url:
        backend = OpenAICompatBackend(url, model="m", read_timeout_s=0.3)
        start = time.monotonic()
        with pytest.raises(ModelError) as err:
            list(backend.stream(HELLO, FAST))
        stalled.set()
    assert time.monotonic() - start < 3
    assert "STUDIO_OPENAI_READ_TIMEOUT_S" in str(err.value) and "0.3 s" in str(err.value)


def test_http_500_carries_the_server_message() -> None:
    body = {"error": {"message": "KV cache exploded", "code": 500}}  # llama.cpp / OpenAI error shape
    with _fake_server(lambda h: _json(h, 500, body)) as url, pytest.raises(ModelError) as err:
        list(OpenAICompatBackend(url, model="m").stream(HELLO, FAST))
    assert "HTTP 500" in str(err.value) and "KV cache exploded" in str(err.value)


def test_http_401_hints_at_the_api_key() -> None:
    seen: list[str] = []

    def deny(handler: ScriptedHandler) -> None:
        seen.append(handler.headers.get("Authorization", ""))
        _json(handler, 401, {"message": "invalid api key", "object": "error"})  # vLLM's error shape

    with _fake_server(deny) as url, pytest.raises(ModelError) as err:
        list(OpenAICompatBackend(url, model="m", api_key="sk-wrong").stream(HELLO, FAST))
    assert seen == ["Bearer sk-wrong"]
    assert "invalid api key" in str(err.value) and "STUDIO_OPENAI_API_KEY" in str(err.value)


def test_http_404_hints_at_the_model_name() -> None:
    body = {"detail": "The model `nope` does not exist."}  # FastAPI error shape
    with _fake_server(lambda h: _json(h, 404, body)) as url, pytest.raises(ModelError) as err:
        list(OpenAICompatBackend(url, model="nope").stream(HELLO, FAST))
    assert "does not exist" in str(err.value) and "STUDIO_OPENAI_MODEL" in str(err.value)


def test_mid_stream_error_event_becomes_model_error() -> None:
    def half(handler: ScriptedHandler) -> None:
        _sse(handler, ['{"choices":[{"delta":{"content":"Hel"}}]}', '{"error":{"message":"slot crashed"}}'])

    with _fake_server(half) as url:
        got: list[str] = []
        with pytest.raises(ModelError, match="slot crashed"):
            for chunk in OpenAICompatBackend(url, model="m").stream(HELLO, FAST):
                got.append(chunk)
    assert got == ["Hel"]


def test_request_body_carries_options_and_extra_wins() -> None:
    bodies: list[dict] = []

    def record(handler: ScriptedHandler) -> None:
        length = int(handler.headers["Content-Length"])
        bodies.append(json.loads(handler.rfile.read(length)))
        _sse(handler, ['{"choices":[{"delta":{"role":"assistant"}}]}', '{"choices":[{"delta":{"content":"ok"}}]}'])

    opts = ChatOptions(seed=7, stop=("END",), grammar='root ::= "x"', extra={"guided_grammar": "g", "top_p": 0.5})
    with _fake_server(record) as url:
        assert complete(OpenAICompatBackend(url, model="m"), HELLO, opts) == "ok"
        assert complete(OpenAICompatBackend(url, model="m"), HELLO, ChatOptions()) == "ok"
    with_opts, plain = bodies
    assert with_opts["stream"] is True and with_opts["model"] == "m" and with_opts["messages"] == HELLO
    assert with_opts["seed"] == 7 and with_opts["stop"] == ["END"] and with_opts["grammar"] == 'root ::= "x"'
    assert with_opts["guided_grammar"] == "g" and with_opts["top_p"] == 0.5
    assert "grammar" not in plain and "seed" not in plain and "stop" not in plain


# ------------------------------------------------------------------------------------- helpers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _json(handler: ScriptedHandler, status: int, obj: dict[str, object]) -> None:
    handler.send_json(status, obj)


def _sse(handler: ScriptedHandler, payloads: list[str]) -> None:
    """Send each payload as it is (raw JSON text, so a test can send malformed events), then [DONE]."""
    handler.start_events()
    for payload in payloads:
        handler.wfile.write(f"data: {payload}\n\n".encode())
        handler.wfile.flush()
    handler.end_events()
    handler.close_connection = True


@contextmanager
def _fake_server(answer: Callable[[ScriptedHandler], None]) -> Iterator[str]:
    """A throwaway server on 127.0.0.1 whose every request is answered by `answer`; yields its /v1 URL."""

    class Handler(ScriptedHandler):
        def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
            answer(self)

        do_POST = do_GET

    with Serving(ScriptedServer(Handler), "fake-openai") as serving:
        yield serving.url


def test_a_surrogate_pair_split_over_two_events_is_joined_and_a_lone_one_replaced() -> None:
    """Each event is valid JSON on its own; the pair's halves (and a lone half) are ``\\u`` escapes."""
    events = [
        {"choices": [{"delta": {"content": "smile \ud83d"}}]},
        {"choices": [{"delta": {"content": "\ude00 and \udc00 lone"}}]},
        {"choices": [{"delta": {"content": " end \ud800"}, "finish_reason": "stop"}]},
    ]
    with _fake_server(lambda handler: _sse(handler, [json.dumps(e) for e in events])) as url:
        text = "".join(OpenAICompatBackend(url, model="m").stream(HELLO, FAST))
    assert text == "smile \U0001f600 and \ufffd lone end \ufffd"
    text.encode("utf-8")
