"""The stream guards end to end: a real OpenAI-compatible HTTP server (tests/chat_server.py)
streams a looping article with tool talk; the article ends at its last full sentence with the
note, and the removals reach the store, article.json, the CLI and the UI status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage import repo
from studio.app.cli import main
from studio.app.services import build_services
from studio.app.session import Session, Studio
from studio.app.settings import load_settings
from studio.app.store_adapter import article_from_info
from studio.app.ui_page import head_html
from studio.core.agent import Brief, write_article
from studio.core.article import REPETITION
from studio.core.events import ArticleDone, TextDelta
from tests.chat_server import ChatServer, Stream

KEPT = (
    "# Tea in China\n\nTea has been drunk in China for thousands of years. "
    "Tea culture is an important part of Chinese culture.\n\n"
)
TALK = "The chart uses search and diffusion to generate images. "
LOOP = "Tea culture is an important part of Chinese culture. "
TAIL = LOOP * 12 + "And the model never stops"


def looping(chunk: int = 7) -> Stream:
    text = KEPT + TALK + TAIL
    return Stream([text[i : i + chunk] for i in range(0, len(text), chunk)], finish_reason="length")


def settings_for(url: str, tmp_path: Path, **overrides: object):
    return load_settings(
        data_dir=tmp_path / "data", tools_enabled=["code"], backend="openai", openai_base_url=url,
        openai_model="m", **overrides,
    )  # fmt: skip


def test_a_looping_article_ends_at_its_last_full_sentence_with_the_note(tmp_path: Path) -> None:
    with ChatServer([looping()], model="m") as server:
        services = build_services(settings_for(server.url, tmp_path))
        try:
            events = list(write_article(Brief("An article about tea in China"), services))
        finally:
            services.close()
        assert len(server.bodies) == 1  # the loop ended it: no continuation despite finish_reason "length"
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None and not done.cut_off
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown.rstrip() == KEPT.rstrip() and done.article.to_llmi_text().rstrip() == KEPT.rstrip()
    kinds = [r.kind for r in done.article.removed]
    assert kinds == ["tool_talk", REPETITION]
    assert done.article.removed[0].text == TALK.strip()
    assert "repetition removed" in done.article.guard_note()


def test_the_removals_reach_the_store_and_the_ui_status(tmp_path: Path) -> None:
    with ChatServer([looping(5)], model="m") as server:
        studio = Studio(settings_for(server.url, tmp_path))
        try:
            session = Session(studio)
            events = [event for event, _view in session.generate(Brief("An article about tea in China"))]
            assert isinstance(events[-1], ArticleDone)
            info = repo.open_article(studio.store, session.article_id)
            stored = info.settings["removed"]
            assert [r["kind"] for r in stored] == ["tool_talk", REPETITION]
            article, _facts = article_from_info(studio.store, info)
            assert article.repetition_removed
            session.reload()
            assert "repetition removed" in session.view.guard_note
            assert "repetition removed" in str(head_html(session.view))
        finally:
            studio.close()


def test_article_json_and_the_cli_say_what_was_removed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with ChatServer([looping(11)], model="m") as server:
        out = tmp_path / "out"
        code = main(
            ["write", "tea in China", "--out", str(out), "--backend", "openai", "--base-url", server.url,
             "--model", "m", "--tools", "code"]
        )  # fmt: skip
    assert code == 0
    assert "NOTE: repetition removed" in capsys.readouterr().err
    manifest = json.loads((out / "article.json").read_text())
    assert manifest["repetition_removed"] is True
    assert [r["kind"] for r in manifest["removed"]] == ["tool_talk", REPETITION]
    from studio.export.load import load_article_dir

    assert load_article_dir(out).repetition_removed


def test_guards_off_lets_the_text_through(tmp_path: Path) -> None:
    with ChatServer([Stream([KEPT + TALK + LOOP * 3])], model="m") as server:
        services = build_services(settings_for(server.url, tmp_path, stream_guards=False))
        try:
            done = list(write_article(Brief("tea"), services))[-1]
        finally:
            services.close()
    assert isinstance(done, ArticleDone) and done.article.removed == []
    assert done.article.to_llmi_text() == KEPT + TALK + LOOP * 3


def test_penalties_go_out_under_vllm_names_by_default_and_llama_cpp_names_when_asked(tmp_path: Path) -> None:
    with ChatServer([Stream(["# Tea\n\nTea is old.\n"])], model="m") as server:
        for fields, extra in (
            ("vllm", {}),
            ("llama.cpp", {}),
            ("vllm", {"repeat_penalty": 1.1, "presence_penalty": 0.4}),
        ):
            services = build_services(settings_for(server.url, tmp_path, openai_sampler_fields=fields, **extra))
            try:
                list(write_article(Brief("tea"), services))
            finally:
                services.close()
        plain, llama, penalised = server.bodies
    assert not {"dry_multiplier", "repetition_penalty", "presence_penalty", "repeat_penalty"} & set(plain)
    assert (llama["dry_multiplier"], llama["dry_base"], llama["dry_allowed_length"]) == (0.8, 1.75, 2)
    assert "repeat_penalty" not in llama  # None: the server's default stands
    assert penalised["repetition_penalty"] == 1.1 and penalised["presence_penalty"] == 0.4
    assert "dry_multiplier" not in penalised and "repeat_penalty" not in penalised
