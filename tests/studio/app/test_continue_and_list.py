"""The article list names each article by its URL id and title; a stopped article can be
continued, and the continuation goes on in the paragraph the stop cut; an over-long brief gets a
sentence with the limit. A real store and a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import repo
from studio.app.continuing import continue_writing
from studio.app.session import Session, Studio
from studio.app.settings import load_settings
from studio.app.ui_page import head_html
from studio.core.agent import Brief
from tests.judge_server import JudgeServer, Reply

WRITTEN = "# Rain\n\nRain falls when droplets grow heavy and then more words keep coming for a long while."
REST = " fall from the cloud.\n\nThat is all."


def studio_for(url: str, tmp_path: Path) -> Studio:
    # no stream guards: they hold text back to its sentence end, and this stop must cut a sentence
    settings = load_settings(data_dir=tmp_path / "data", tools_enabled=["code"], backend="openai",
                             openai_base_url=url, openai_model="m", max_continuations=0,
                             stream_guards=False)  # fmt: skip
    return Studio(settings)


def test_a_stopped_article_continues_in_the_paragraph_it_stopped_in(tmp_path: Path) -> None:
    script = [Reply(WRITTEN, chunk_chars=6, chunk_delay_s=0.2), Reply(REST)]
    with JudgeServer(script, model="m") as server:
        studio = studio_for(server.url, tmp_path)
        try:
            sess = Session(studio)
            for _event, view in sess.generate(Brief("rain")):
                if "droplets" in "".join(b.text for b in view.blocks) and sess.article_id is not None:
                    studio.stop(sess.article_id)
            sess.reload()
            stopped = sess.view.blocks[-1].text
            assert sess.view.status == "interrupted" and not stopped.endswith((".", "\n"))
            assert "Continue writing" in head_html(sess.view)
            blocks_before = [b.id for b in sess.view.blocks]
            for _ in continue_writing(sess):
                pass
            info = repo.open_article(studio.store, sess.article_id)  # type: ignore[arg-type]
        finally:
            studio.close()
    assert server.requests[1]["messages"][-1]["content"] == stopped  # the model goes on from the cut
    assert [b.key for b in info.blocks] == blocks_before  # no new block: the same paragraph goes on
    assert info.blocks[-1].current.text == stopped + REST and info.status == "done"


def test_the_list_shows_url_ids_and_titles_and_an_empty_stopped_article_as_empty(tmp_path: Path) -> None:
    with JudgeServer([Reply("unused", delay_s=5)], model="m") as server:
        studio = studio_for(server.url, tmp_path)
        try:
            sess = Session(studio)
            list(sess.generate(Brief("about tides"), response="# Tides and moons\n\nThe moon pulls."))
            titled = sess.article_id
            list(sess.generate(Brief("a brief without a heading"), response="Just text."))
            plain = sess.article_id
            for _event, _view in sess.generate(Brief("stopped at once")):
                studio.stop(sess.article_id)  # type: ignore[arg-type]
            empty = sess.article_id
            listed = sess.articles()
            sess.reload()
            assert "Continue writing" not in head_html(sess.view)
            with pytest.raises(ValueError, match="nothing was written"):
                next(continue_writing(sess))
        finally:
            studio.close()
    assert listed == [
        (empty, f"{empty}. (empty)", "interrupted"),
        (plain, f"{plain}. a brief without a heading", "done"),
        (titled, f"{titled}. Tides and moons", "done"),
    ]


def test_an_over_long_brief_is_refused_with_the_limit(tmp_path: Path) -> None:
    studio = Studio(load_settings(data_dir=tmp_path / "data", tools_enabled=["code"], backend="openai"))
    try:
        sess = Session(studio)
        with pytest.raises(ValueError, match=r"20,000 characters long; the limit is 4,000 \(STUDIO_MAX_BRIEF_CHARS\)"):
            next(sess.generate(Brief("x" * 20_000)))
        assert sess.projects() == []  # refused before anything was made
    finally:
        studio.close()
