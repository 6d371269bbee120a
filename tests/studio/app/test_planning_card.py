"""The "planning a picture…" card: shown while a tag is open, replaced by the tag's own card when
it closes, gone when the stream ends without one, and never stored (a real SQLite store)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from storage import repo
from studio.app.session import Session, Studio
from studio.app.ui_model import ArticleView, apply_event
from studio.app.ui_page import page, stage
from studio.core.agent import Brief
from studio.core.article import Article
from studio.core.events import ArticleDone, TagOpened, TextDelta, ToolCallInvalid, ToolCallQueued
from tests.render_studio import render_studio

HEAD = "# Owls\n\nOwls hunt at night.\n\n<imgen>{'source': 'diffusion', "
REST = "'description': 'An owl in flight', 'params': {'prompt': 'owl'}}</imgen>\n\nThe end."


def planning_blocks(view: ArticleView) -> list[dict]:
    return [b for b in page(view)["blocks"] if b["kind"] == "planning"]


def test_the_card_shows_while_the_tag_is_open_and_gives_way_to_the_tags_card() -> None:
    view = ArticleView(brief="owls", started=1.0)
    apply_event(view, TextDelta("b1", "Owls hunt at night.\n\n"))
    apply_event(view, TagOpened(0))
    [card] = planning_blocks(view)
    assert card["id"] == "planning-0" and "planning a picture…" in card["body"][0]
    assert [b["id"] for b in page(view)["blocks"]] == ["b1", "planning-0"]  # where the tag is being written
    assert [b.kind for b in view.blocks] == ["text"]  # the card is no block of the article
    assert stage(view) == "planning picture 1"
    apply_event(view, ToolCallQueued("b2", 0, "diffusion", "An owl in flight", {"prompt": "owl"}))
    assert planning_blocks(view) == [] and [b["id"] for b in page(view)["blocks"]] == ["b1", "b2"]


def test_an_invalid_tag_or_the_end_of_the_stream_removes_the_card() -> None:
    view = ArticleView(brief="owls")
    apply_event(view, TagOpened(0))
    apply_event(view, ToolCallInvalid("b1", 0, "<imgen>{", "the tag was never closed"))
    assert planning_blocks(view) == [] and view.block("b1").status == "invalid"
    apply_event(view, TagOpened(1))
    apply_event(view, ArticleDone(Article(), 1.0, "stopped by the user", stopped=True))
    assert planning_blocks(view) == [] and view.planning is None


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    studio = render_studio(tmp_path_factory.mktemp("planning"))
    yield studio
    studio.close()


def held(release: threading.Event) -> Iterator[str]:
    yield HEAD
    release.wait(30)
    yield REST


def test_the_session_shows_the_card_and_the_store_keeps_only_real_blocks(studio: Studio) -> None:
    session = Session(studio)
    release = threading.Event()
    seen: list[list[str]] = []
    for event, view in session.generate(Brief("owls"), response=HEAD + REST, chunks=held(release)):
        if isinstance(event, TagOpened):
            seen.append([b["kind"] for b in page(view)["blocks"]])
            stored = repo.open_article(studio.store, session.article_id)  # type: ignore[arg-type]
            assert [b.kind for b in stored.blocks] == ["text"]  # nothing stored for the open tag
            release.set()
    assert seen == [["text", "planning"]]
    stored = repo.open_article(studio.store, session.article_id)  # type: ignore[arg-type]
    assert [b.kind for b in stored.blocks] == ["text", "image", "text"]
    assert planning_blocks(session.view) == []


def test_stopped_while_the_tag_is_open_no_phantom_block_is_stored(studio: Studio) -> None:
    session = Session(studio)
    release = threading.Event()
    for event, _view in session.generate(Brief("owls"), response=HEAD + REST, chunks=held(release)):
        if isinstance(event, TagOpened):
            studio.stop(session.article_id)  # type: ignore[arg-type]
            release.set()
    info = repo.open_article(studio.store, session.article_id)  # type: ignore[arg-type]
    assert info.status == "interrupted"
    assert [b.kind for b in info.blocks] == ["text"]
    assert planning_blocks(session.view) == [] and all(b.kind == "text" for b in session.view.blocks)
