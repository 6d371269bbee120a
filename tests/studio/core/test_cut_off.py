"""Token-limit stops: the finish reason travels from a real HTTP server to the article, the
writer continues once, and an article still cut off says so in every place it is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.base import ChatOptions, drain
from models.openai_compat import OpenAICompatBackend
from storage import repo
from studio.app.cli import main
from studio.app.services import build_services
from studio.app.session import Session, Studio
from studio.app.settings import load_settings
from studio.app.store_adapter import article_from_info
from studio.core.agent import Brief, continue_article, write_article
from studio.core.events import ArticleDone
from tests.judge_server import JudgeServer, Reply

FIRST = "# Rain\n\nRain falls when droplets grow heavy and"
REST = " fall from the cloud.\n\nThat is all."


def services_for(url: str, tmp_path: Path, **overrides: object):
    settings = load_settings(
        data_dir=tmp_path / "data", tools_enabled=["code"], backend="openai", openai_base_url=url, **overrides
    )
    return build_services(settings)


def test_the_finish_reason_is_the_streams_return_value() -> None:
    with JudgeServer([Reply(FIRST, finish_reason="length")], model="m") as server:
        backend = OpenAICompatBackend(server.url, model="m")
        seen: list[str] = []
        assert drain(backend.stream([{"role": "user", "content": "x"}], ChatOptions()), seen.append) == "length"
        assert "".join(seen) == FIRST
        backend.close()


def test_a_length_stop_is_continued_once_with_the_answer_so_far(tmp_path: Path) -> None:
    script = [Reply(FIRST, finish_reason="length"), Reply(REST, finish_reason="stop")]
    with JudgeServer(script, model="m") as server:
        services = services_for(server.url, tmp_path)
        try:
            done = list(write_article(Brief("rain"), services))[-1]
        finally:
            services.close()
        first, second = server.requests
    assert isinstance(done, ArticleDone) and not done.cut_off and done.article.continuations == 1
    assert done.article.to_llmi_text() == FIRST + REST
    assert second["messages"][-1] == {"role": "assistant", "content": FIRST}
    assert second["continue_final_message"] is True and second["add_generation_prompt"] is False
    assert "continue_final_message" not in first


def test_still_cut_off_after_the_bound_is_marked_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    script = [Reply(FIRST, finish_reason="length")]
    with JudgeServer(script, model="m") as server:
        out = tmp_path / "out"
        code = main(
            ["write", "rain", "--out", str(out), "--backend", "openai", "--base-url", server.url, "--model", "m",
             "--tools", "code"]
        )  # fmt: skip
        assert len(server.requests) == 2  # the article and one continuation, both cut off
    assert code == 0
    assert "CUT OFF" in capsys.readouterr().err
    manifest = json.loads((out / "article.json").read_text())
    assert manifest["cut_off"] is True and manifest["continuations"] == 1


def test_the_store_and_a_reopened_article_keep_the_mark_and_continue_can_finish(tmp_path: Path) -> None:
    script = [Reply(FIRST, finish_reason="length"), Reply(REST, finish_reason="stop")]
    with JudgeServer(script, model="m") as server:
        settings = load_settings(
            data_dir=tmp_path / "data", tools_enabled=["code"], backend="openai", openai_base_url=server.url,
            openai_model="m", max_continuations=0,
        )  # fmt: skip
        studio = Studio(settings)
        try:
            session = Session(studio)
            events = [event for event, _view in session.generate(Brief("rain"))]
            assert events[-1].cut_off and session.view.cut_off
            info = repo.open_article(studio.store, session.article_id)
            article, _facts = article_from_info(studio.store, info)
            assert article.cut_off and info.settings["cut_off"] is True
            done = list(continue_article(article, Brief("rain"), studio.services))[-1]
        finally:
            studio.close()
    assert not done.cut_off and done.article.to_llmi_text() == FIRST + REST
