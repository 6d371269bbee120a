"""Ask about a selection through gradio_client: the real app on 127.0.0.1, a scripted
OpenAI-compatible model server on 127.0.0.1 (real HTTP, streamed), a real SQLite store.

``/suggest`` streams the tracked change; ``/suggest_decide`` keeps some, all or none of its
changes. The stored text, the versions and the preference events (with the TRL rows made from
them) are checked after each decision; hostile model output never reaches the block.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from gradio_client import Client

from storage import list_preference_events, repo
from storage.pref_rows import preference_rows
from studio.app.session import Studio
from studio.app.settings import load_settings
from tests.judge_server import JudgeServer, Reply
from tests.ui.conftest import running_app

SENTENCE = "The quick brown fox jumps over the lazy dog."
ARTICLE = f"# Foxes\n\n{SENTENCE} Foxes live in **many cities** today.\n\nThe end."
SHORT = "The fox jumps over the dog."
HOSTILE = (
    "Here is the shorter text:\n\nFoxes live in <b>cities</b> "
    "<imgen>{'source': 'search', 'description': 'x', 'params': {'query': 'x'}}</imgen>"
    "[now](http://evil.example/x)."
)


def model(index: int, body: dict[str, Any]) -> Reply | str:
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if "selected passage" not in system:
        return ARTICLE  # the article writer
    if "take your time" in user:
        return Reply("Foxes " * 60, chunk_chars=3, chunk_delay_s=0.2)  # about 24 s unless stopped
    if "Foxes live in" in user.split("<<<")[-1]:
        return Reply(HOSTILE, chunk_chars=9)
    return Reply(SHORT, chunk_chars=4, chunk_delay_s=0.05)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio, JudgeServer]]:
    with JudgeServer(model) as server:
        data = tmp_path_factory.mktemp("suggest")
        settings = load_settings(data_dir=data, tools_enabled=["code"], backend="openai",
                                 openai_base_url=server.url, openai_model="judge-model")  # fmt: skip
        with running_app(settings) as (url, studio):
            yield url, studio, server


def written(client: Client) -> tuple[int, str]:
    out = client.predict("Foxes", ARTICLE, "", api_name="/render")
    final = out[1] if isinstance(out, tuple) else out
    block = next(b["id"] for b in final["article"]["blocks"] if SENTENCE in b.get("text", ""))
    return int(final["article_id"]), block


def test_suggest_streams_a_tracked_change_and_a_partial_accept_is_stored_with_its_event(
    app: tuple[str, Studio, JudgeServer],
) -> None:
    url, studio, server = app
    client = Client(url, verbose=False)
    article_id, block = written(client)
    before = repo.open_article(studio.store, article_id).block(block)
    job = client.submit(block, SENTENCE, "Foxes", "shorten", "", api_name="/suggest")
    final = job.result()
    states = [o for o in job.outputs() if isinstance(o, dict)]
    assert any(s["streaming"] for s in states) and not final["streaming"]
    assert final["suggestion"] == SHORT and final["selection"] == SENTENCE
    assert final["changes"] == ["c1", "c2"]
    changes = [(s["old"], s["new"]) for s in final["segments"] if s["kind"] == "change"]
    assert changes == [("quick brown ", ""), ("lazy ", "")]
    sent = server.requests[-1]["messages"][-1]["content"]
    assert f"<<<\n{SENTENCE}\n>>>" in sent and "Make it shorter" in sent

    # reject the first change, accept the rest
    out = client.predict(final["id"], "c2", api_name="/suggest_decide")
    assert out["message"] == "Suggestion 1 of 2 changes accepted: saved as version 3."
    stored = repo.open_article(studio.store, article_id).block(block)
    expected = before.current.text.replace(SENTENCE, "The quick brown fox jumps over the dog.")  # type: ignore[union-attr]
    assert stored.current.text == expected and stored.current_version == 3
    versions = repo.list_versions(studio.store, article_id, block)
    assert [(v.number, v.origin) for v in versions][-2:] == [(2, "suggest"), (3, "suggest")]
    assert SHORT in (versions[-2].text or "")  # the whole suggestion is kept as the version it beat
    event = list_preference_events(studio.store, kind="accept")[-1]
    s = event.context["suggestion"]
    assert (s["decision"], s["selection"], s["suggested"], s["action"]) == ("partial", SENTENCE, SHORT, "shorten")
    assert s["kept"] == "The quick brown fox jumps over the dog." and "Make it shorter" in s["instruction"]
    assert [(c["id"], c["accepted"]) for c in s["changes"]] == [("c1", False), ("c2", True)]
    assert event.context["chosen"]["number"] == 3 and event.context["rejected"]["number"] == 2
    rows, _ = preference_rows([event])
    assert rows[0]["origin"] == "suggestion" and "jumps over the dog." in rows[0]["chosen_text"]
    assert SHORT in rows[0]["rejected_text"]


def test_reject_all_keeps_the_text_and_logs_a_revert(app: tuple[str, Studio, JudgeServer]) -> None:
    url, studio, _ = app
    client = Client(url, verbose=False)
    article_id, block = written(client)
    text = repo.open_article(studio.store, article_id).block(block).current.text
    final = client.predict(block, SENTENCE, "", "ask", "shorter please", api_name="/suggest")
    out = client.predict(final["id"], "none", api_name="/suggest_decide")
    assert out["message"] == "Suggestion rejected; the text stays as it was."
    stored = repo.open_article(studio.store, article_id).block(block)
    assert stored.current.text == text and stored.current_version == 1
    event = list_preference_events(studio.store, kind="revert")[-1]
    assert event.context["suggestion"]["decision"] == "reject"
    assert event.context["suggestion"]["instruction"] == "shorter please"
    assert event.context["chosen"]["text"] == text and SHORT in event.context["rejected"]["text"]
    with pytest.raises(Exception, match="not waiting any more"):  # decided once only
        client.predict(final["id"], "all", api_name="/suggest_decide")


def test_hostile_output_is_cleaned_and_markup_in_the_selection_is_kept_whole(
    app: tuple[str, Studio, JudgeServer],
) -> None:
    url, studio, _ = app
    client = Client(url, verbose=False)
    article_id, block = written(client)
    # selected on the page as rendered text: the **markers** are found around it
    final = client.predict(block, "Foxes live in many cities today.", "", "shorten", "", api_name="/suggest")
    assert final["selection"] == "Foxes live in **many cities** today."
    assert final["suggestion"] == "Foxes live in cities now."
    out = client.predict(final["id"], "all", api_name="/suggest_decide")
    assert out["message"] == "Suggestion accepted: saved as version 2."
    text = repo.open_article(studio.store, article_id).block(block).current.text or ""
    assert "Foxes live in cities now." in text and "<" not in text and "evil" not in text
    assert list_preference_events(studio.store, kind="accept")[-1].context["suggestion"]["decision"] == "accept"


def test_refusals_say_what_to_do(app: tuple[str, Studio, JudgeServer]) -> None:
    url, studio, _ = app
    client = Client(url, verbose=False)
    article_id, block = written(client)
    with pytest.raises(Exception, match="not in this paragraph any more: select it again"):
        client.predict(block, "Wolves howl.", "", "shorten", "", api_name="/suggest")
    with pytest.raises(Exception, match="use one of shorten"):
        client.predict(block, SENTENCE, "", "explode", "", api_name="/suggest")
    with pytest.raises(Exception, match="write what the model should do"):
        client.predict(block, SENTENCE, "", "ask", "", api_name="/suggest")
    final = client.predict(block, SENTENCE, "", "shorten", "", api_name="/suggest")
    with pytest.raises(Exception, match="no change c9 in this suggestion"):
        client.predict(final["id"], "c9", api_name="/suggest_decide")
    # the paragraph changed before the decision: nothing is spliced into text it was not made for
    current = repo.open_article(studio.store, article_id).block(block).current.text or ""
    client.predict(block, current.strip() + " One more line.", api_name="/edit_text")
    with pytest.raises(Exception, match="changed since the suggestion was made"):
        client.predict(final["id"], "all", api_name="/suggest_decide")
    assert "One more line." in (repo.open_article(studio.store, article_id).block(block).current.text or "")


def test_the_endpoints_are_listed(app: tuple[str, Studio, JudgeServer]) -> None:
    url, _, _ = app
    api = Client(url, verbose=False).view_api(print_info=False, return_format="dict")
    suggest = api["named_endpoints"]["/suggest"]
    assert [p["parameter_name"] for p in suggest["parameters"]] == ["block", "text", "before", "action", "detail"]
    decide = api["named_endpoints"]["/suggest_decide"]
    assert [p["parameter_name"] for p in decide["parameters"]] == ["suggestion", "accept"]


def test_cancelling_the_call_closes_the_model_stream(app: tuple[str, Studio, JudgeServer]) -> None:
    url, _, server = app
    client = Client(url, verbose=False)
    _, block = written(client)
    hung_up = server.hung_up
    job = client.submit(block, SENTENCE, "", "ask", "take your time", api_name="/suggest")
    deadline = time.monotonic() + 30
    while not any(isinstance(o, dict) and o.get("suggestion") for o in job.outputs()):
        assert time.monotonic() < deadline, "the suggestion never started streaming"
        time.sleep(0.1)
    job.cancel()
    while server.hung_up == hung_up:
        assert time.monotonic() < deadline + 10, "the model stream was not closed"
        time.sleep(0.1)
    assert server.hung_up == hung_up + 1
