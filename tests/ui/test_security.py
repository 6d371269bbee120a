"""Keys, messages and API errors through the real app: header-logging servers on 127.0.0.1,
gradio_client as the API client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from gradio_client import Client

from models.openai_compat import OpenAICompatBackend
from studio.app.services import build_services
from studio.app.session import Studio
from studio.app.settings import load_settings
from tests.httpserver import LocalServer
from tests.ui.conftest import running_app

SECRET = "sk-studio-" + uuid.uuid4().hex
MODELS = json.dumps({"object": "list", "data": [{"id": "m1", "object": "model"}]}).encode()
HOSTILE_BODY = b"<img src='http://127.0.0.1:9/pixel.png'>" + b"x" * 100_000


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LocalServer, LocalServer]]:
    with LocalServer() as configured, LocalServer() as other:
        configured.route("/v1/models", body=MODELS, headers={"Content-Type": "application/json"})
        other.route("/v1/models", status=500, body=HOSTILE_BODY, headers={"Content-Type": "text/html"})
        yield configured, other


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, servers: tuple[LocalServer, LocalServer]) -> Iterator[str]:
    configured, _ = servers
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("sec"),
        tools_enabled=["code"],
        backend="openai",
        openai_base_url=configured.url("/v1"),
        openai_api_key=SECRET,
    )
    backend = OpenAICompatBackend(configured.url("/v1"), model="m1", api_key=SECRET)
    with running_app(settings, Studio(settings, services=build_services(settings, backend=backend))) as (url, _):
        yield url


def sent_keys(server: LocalServer) -> list[str]:
    return [h.get("Authorization", "") for _, h in server.request_headers]


def test_test_connection_sends_the_key_only_to_its_configured_url(
    app: str, servers: tuple[LocalServer, LocalServer]
) -> None:
    configured, other = servers
    client = Client(app, verbose=False)
    message = client.predict("openai", other.url("/v1"), "", api_name="/test_connection")
    assert other.requests, "the other server was asked"
    assert all(SECRET not in json.dumps(h) for _, h in other.request_headers)
    assert sent_keys(other) and all(k in ("", "Bearer EMPTY") for k in sent_keys(other))
    # the remote error body is cut and shown as text: no markup reaches the page
    assert message.startswith("Not working:") and "<img" not in message and len(message) < 2100
    # the configured server (typed with a trailing slash) gets its own key: the control
    before = len(configured.requests)
    ok = client.predict("openai", configured.url("/v1/"), "m1", api_name="/test_connection")
    assert ok.startswith("OK: "), ok
    assert sent_keys(configured)[before:] == [f"Bearer {SECRET}"]


def test_a_lookalike_url_gets_no_key(app: str, servers: tuple[LocalServer, LocalServer]) -> None:
    configured, _ = servers
    before = len(configured.requests)
    lookalike = configured.url("/v1") + "?x=1"  # same host, not the configured URL
    Client(app, verbose=False).predict("openai", lookalike, "", api_name="/test_connection")
    assert all(SECRET not in k for k in sent_keys(configured)[before:])


def test_user_strings_in_messages_are_plain_text(app: str) -> None:
    client = Client(app, verbose=False)
    name = "![x](http://127.0.0.1:9/a.png) <img src=http://127.0.0.1:9/b.png> **bold**"
    outputs = client.predict(name, api_name="/new_project")
    message = outputs[-2]  # project_msg
    assert "<img" not in message and "&lt;img src=http://127.0.0.1:9/b.png&gt;" in message
    assert "![x](http://127.0.0.1:9/a.png)" in message  # shown as typed, in an HTML (not Markdown) component


@pytest.mark.parametrize(
    ("endpoint", "args", "needle"),
    [
        ("/regenerate", ("b2", "params", "[]", None), "the params must be a JSON object"),
        ("/regenerate", ("b2", "params", "{", None), "the params are not valid JSON"),
        ("/regenerate", ("b2", "params", "[" * 200_000, None), "nested too deeply"),
        ("/revert", ("b2", "9" * 5000), "the version must be a whole number"),
        ("/open_project", ("abc",), "the project id must be a whole number"),
        ("/open_project", ("9" * 5000,), "the project id must be a whole number"),
    ],
)
def test_api_errors_are_sentences(app: str, endpoint: str, args: tuple, needle: str) -> None:
    client = Client(app, verbose=False)
    response = "Text.\n<imgen>{'source': 'code', 'description': 'c', 'params': {'code': 'plt.plot([1])'}}</imgen>"
    client.predict("brief", response, "", api_name="/render")
    with pytest.raises(Exception) as err:  # gradio_client's AppError carries the message
        client.predict(*args, api_name=endpoint)
    text = str(err.value)
    assert needle in text, text
    for raw in ("Traceback", "TypeError", "RecursionError", "OverflowError", "invalid literal", "JSONDecodeError"):
        assert raw not in text
