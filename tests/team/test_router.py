"""STUDIO_OPENAI_BASE_URL pointing at a router or gateway (vLLM's production-stack router, any
OpenAI-compatible gateway): when a model server behind it fails, the studio's message names the
address it talks to, and passes on the router's own words about which server failed."""

from __future__ import annotations

import json

import pytest

from models.base import ChatOptions, complete
from models.errors import ModelError
from models.openai_compat import OpenAICompatBackend
from tests.httpserver import LocalServer
from tests.judge_server import JudgeServer, Reply

UPSTREAM = "upstream http://10.0.0.7:8000 (vllm-2) refused the connection"


def test_router_failures_name_the_router_and_the_server_behind_it() -> None:
    with LocalServer() as router:
        body = json.dumps({"error": {"message": UPSTREAM}}).encode()
        router.route("/v1/models", status=503, body=body, headers={"Content-Type": "application/json"})
        backend = OpenAICompatBackend(router.url("/v1"), model="")
        ok, message = backend.test_connection()
        backend.close()
    assert not ok
    assert router.url("/v1") in message and "HTTP 503" in message and UPSTREAM in message


@pytest.mark.parametrize("reply", [Reply(UPSTREAM, status=502), Reply("", hang_up=True)])
def test_a_failed_answer_names_the_router(reply: Reply) -> None:
    with JudgeServer([reply], model="m") as router:
        backend = OpenAICompatBackend(router.url, model="m")
        with pytest.raises(ModelError) as caught:
            complete(backend, [{"role": "user", "content": "hi"}], ChatOptions(max_tokens=8))
        backend.close()
    assert router.url in str(caught.value)
    if reply.status == 502:
        assert UPSTREAM in str(caught.value)
