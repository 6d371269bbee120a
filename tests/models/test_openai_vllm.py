"""OpenAICompatBackend against a scripted vLLM-shaped streaming server on 127.0.0.1: where the
grammar goes, chat_template_kwargs, <think> blocks split across chunks, old-style error events,
errors that name the server."""

from __future__ import annotations

import pytest

from models.base import ChatOptions, Message, complete
from models.errors import ModelError
from models.openai_compat import OpenAICompatBackend
from tests.chat_server import ChatServer, Stream, old_style_error

HELLO: list[Message] = [{"role": "user", "content": "Write about bees."}]
GRAMMAR = 'root ::= "# " [a-z]{1,10}'


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("structured_outputs", {"structured_outputs": {"grammar": GRAMMAR}}),
        ("guided_grammar", {"guided_grammar": GRAMMAR}),
        ("grammar", {"grammar": GRAMMAR}),
    ],
)
def test_grammar_goes_where_the_server_reads_it(field: str, expected: dict) -> None:
    with ChatServer([Stream(["# bees"])]) as srv:
        backend = OpenAICompatBackend(srv.url, grammar_field=field)
        assert complete(backend, HELLO, ChatOptions(grammar=GRAMMAR)) == "# bees"
        assert complete(backend, HELLO, ChatOptions()) == "# bees"
    constrained, free = srv.bodies
    for key in ("structured_outputs", "guided_grammar", "grammar"):
        assert constrained.get(key) == expected.get(key)
        assert key not in free
    with pytest.raises(ValueError, match="grammar_field"):
        OpenAICompatBackend(srv.url, grammar_field="guided_regex")


def test_chat_template_kwargs_are_sent_when_configured() -> None:
    with ChatServer([Stream(["ok"])]) as srv:
        complete(OpenAICompatBackend(srv.url, chat_template_kwargs={"enable_thinking": False}), HELLO, ChatOptions())
        complete(OpenAICompatBackend(srv.url), HELLO, ChatOptions())
    assert srv.bodies[0]["chat_template_kwargs"] == {"enable_thinking": False}
    assert "chat_template_kwargs" not in srv.bodies[1]
    assert srv.bodies[0]["model"] == "Qwen/Qwen3-8B"  # discovered from /v1/models


def test_think_blocks_never_reach_the_text_whatever_the_chunks() -> None:
    chunks = [
        "<th",
        "ink>Okay, the user wants",
        " an article. I will use <imgen> tags.</thi",
        "nk>\n\n# Be",
        "es\n\nText.",
    ]
    with ChatServer([Stream(chunks)]) as srv:
        got = list(OpenAICompatBackend(srv.url).stream(HELLO, ChatOptions()))
    assert "".join(got) == "# Bees\n\nText."
    assert not any("think" in c or "imgen" in c for c in got)


def test_old_style_error_event_is_a_clear_error_naming_the_server() -> None:
    error = old_style_error("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.")
    with ChatServer([Stream(["# Bees\n\nHalf"], error=error)]) as srv:
        got: list[str] = []
        with pytest.raises(ModelError) as err:
            for chunk in OpenAICompatBackend(srv.url).stream(HELLO, ChatOptions()):
                got.append(chunk)
    assert got == ["# Bees\n\nHalf"]
    message = str(err.value)
    assert "maximum context length is 4096 tokens" in message
    assert srv.url in message and "Qwen/Qwen3-8B" in message and "failed mid-answer" in message


def test_http_errors_name_the_server_and_the_embedded_label() -> None:
    with ChatServer([Stream(status=500)]) as srv:
        with pytest.raises(ModelError) as err:
            complete(OpenAICompatBackend(srv.url, model="m"), HELLO, ChatOptions())
        assert f"the chat server at {srv.url} answered HTTP 500" in str(err.value)
        label = "the embedded llama.cpp server"
        with pytest.raises(ModelError, match=f"{label} at {srv.url}"):
            complete(OpenAICompatBackend(srv.url, model="m", server_label=label), HELLO, ChatOptions())


def test_an_answer_that_is_only_unfinished_thinking_is_an_error_that_says_what_to_change() -> None:
    thinking = Stream(["<think>Let me think about bees", " for a very long time"], finish_reason="length")
    with ChatServer([thinking]) as srv, pytest.raises(ModelError) as err:
        list(OpenAICompatBackend(srv.url).stream(HELLO, ChatOptions(max_tokens=16)))
    message = str(err.value)
    assert "spent the whole answer thinking" in message and "'length'" in message
    assert "STUDIO_MAX_TOKENS" in message and "STUDIO_OPENAI_ENABLE_THINKING=false" in message and srv.url in message
