"""TagOpened: the engine says a picture is being planned the moment ``<imgen>`` opens.

The model stream here is a generator that holds the rest of the tag back until the test has
seen the event, so "before the tag closes" is a fact of the run, not a timing guess.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from models.vocab import BlockStatus
from studio.core.article import Article
from studio.core.engine import Engine
from studio.core.events import ArticleDone, TagOpened, TextDelta, ToolCallInvalid, ToolCallQueued
from studio.core.protocol import format_tag
from studio.core.runner import ToolRunner
from tools.base import Tool, ToolContext, ToolResult
from tools.params import SearchParams


class Search(Tool):
    name = "search"
    Params = SearchParams

    def run(self, params: SearchParams, context: ToolContext) -> ToolResult:  # type: ignore[override]
        return ToolResult.success(b"\x89PNG " + params.query.encode(), {})


TAG = format_tag("search", "a bee on a flower", {"query": "bee"})
OPEN, REST = TAG[: len("<imgen>") + 3], TAG[len("<imgen>") + 3 :]


def held_stream(seen: threading.Event, head: str, rest: str) -> Iterator[str]:
    yield head
    assert seen.wait(10), "the engine never said the tag was open"
    yield rest


def test_tag_opened_comes_before_the_tag_closes_and_adds_no_block() -> None:
    seen = threading.Event()
    article = Article()
    events = []
    blocks_when_open = None
    for event in Engine(ToolRunner({"search": Search()})).run(
        held_stream(seen, "Bees. " + OPEN, REST + " End."), article
    ):
        events.append(event)
        if isinstance(event, TagOpened):
            blocks_when_open = [b.kind for b in article.blocks]
            seen.set()
    kinds = [type(e) for e in events]
    assert kinds.index(TextDelta) < kinds.index(TagOpened) < kinds.index(ToolCallQueued)
    assert blocks_when_open == ["text"]  # the text before it is out, the picture is not a block yet
    opened = next(e for e in events if isinstance(e, TagOpened))
    queued = next(e for e in events if isinstance(e, ToolCallQueued))
    assert opened.image_index == queued.image_index == 0
    done = events[-1]
    assert isinstance(done, ArticleDone)
    assert [b.kind for b in done.article.blocks] == ["text", "image", "text"]
    assert done.article.image_blocks()[0].status == BlockStatus.OK


def test_index_counts_user_images_and_earlier_pictures() -> None:
    article = Article(user_images=[b"u0", b"u1"])
    text = "A " + TAG + " B " + TAG
    events = list(Engine(ToolRunner({"search": Search()})).run([text], article))
    assert [e.image_index for e in events if isinstance(e, TagOpened)] == [2, 3]
    assert [e.image_index for e in events if isinstance(e, ToolCallQueued)] == [2, 3]


def test_a_tag_that_never_closes_turns_into_an_invalid_block_at_the_same_index() -> None:
    events = list(Engine(ToolRunner({"search": Search()})).run(["Text " + OPEN + "'desc"]))
    opened = [e for e in events if isinstance(e, TagOpened)]
    invalid = [e for e in events if isinstance(e, ToolCallInvalid)]
    assert len(opened) == 1 and len(invalid) == 1 and opened[0].image_index == invalid[0].image_index
    assert "never closed" in invalid[0].reason


def test_stopping_while_a_tag_is_open_leaves_no_phantom_block() -> None:
    stop = threading.Event()
    seen = threading.Event()
    article = Article()
    events = []
    for event in Engine(ToolRunner({"search": Search()})).run(
        held_stream(seen, "Text " + OPEN, REST), article, stop=stop
    ):
        events.append(event)
        if isinstance(event, TagOpened):
            stop.set()
            seen.set()
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.stopped
    assert any(isinstance(e, TagOpened) for e in events)
    assert not any(isinstance(e, (ToolCallQueued, ToolCallInvalid)) for e in events)
    assert done.article.image_blocks() == []


def test_stray_open_marker_in_text_says_nothing() -> None:
    events = list(Engine(ToolRunner({})).run(["a <imgen b and <im", "age> here"]))
    assert not any(isinstance(e, TagOpened) for e in events)
