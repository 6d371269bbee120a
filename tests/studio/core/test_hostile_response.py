"""Hostile responses through the real engine and the real chart sandbox: malformed tags become
invalid blocks with their reasons, the charts after them still run, per-article caps hold, and a
tool that never returns fails its block at the time limit without holding a worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from studio.core.engine import Engine, EngineOptions
from studio.core.events import ArticleDone, Event
from studio.core.runner import ToolRunner
from tools.base import Availability, Tool, ToolContext, ToolResult
from tools.code import CodeTool
from tools.params import CodeParams, SearchParams

CHART = "<imgen>{'source': 'code', 'description': 'ok', 'params': {'code': 'plt.plot([1, 2, 3])'}}</imgen>"
BAD_TAGS = [
    "<imgen>{'source': ['code'], 'description': 'x', 'params': {'code': ''}}</imgen>",
    "<imgen>{'source': 'edit', 'description': 'x', 'params': {'img_index': 0x"
    + "f" * 4000
    + ", 'prompt': 'p'}}</imgen>",
    "<imgen>{'source': 'code', 'description': 'x', 'params': {'code': '" + "1" * 100_000 + "'}}</imgen>",
    "<imgen>" + "[" * 30_000 + "</imgen>",
    "<imgen>{'source': 'code', 'description': 5, 'params': []}</imgen>",
]


@pytest.fixture(scope="module")
def code_tool() -> Iterator[CodeTool]:
    tool = CodeTool(timeout_s=20)
    yield tool
    tool.close()


def finish(events: Iterator[Event]) -> ArticleDone:
    done = [e for e in events if isinstance(e, ArticleDone)]
    assert len(done) == 1
    return done[0]


def test_malformed_tags_are_invalid_blocks_and_the_charts_after_them_run(code_tool: CodeTool) -> None:
    response = "Intro. " + " text ".join(BAD_TAGS) + " Then a chart: " + CHART + " And another " + CHART + " end."
    chunks = [response[i : i + 997] for i in range(0, len(response), 997)]
    done = finish(Engine(ToolRunner({"code": code_tool})).run(chunks))
    images = done.article.image_blocks()
    assert done.error is None
    assert [b.status for b in images] == ["invalid"] * len(BAD_TAGS) + ["ok", "ok"]
    reasons = [b.error or "" for b in images[: len(BAD_TAGS)]]
    assert "unknown source ['code']" in reasons[0]
    assert "an integer of 16000 bits" in reasons[1]
    assert "over the 64 KB limit" in reasons[2]
    assert "nested too deeply" in reasons[3] or "not a Python or JSON dict" in reasons[3]
    assert "must be a string" in reasons[4]
    assert all(len(b.raw) < 70_000 for b in images)
    texts = [b.text for b in done.article.blocks if hasattr(b, "text")]
    assert texts[-1].endswith(" end.")


def test_a_huge_response_is_cut_at_the_article_cap_and_keeps_what_came_before() -> None:
    options = EngineOptions(max_response_chars=50_000, max_tags=3)
    many = "x" * 10_000_000  # one 10 MB chunk, as /render would pass it
    done = finish(Engine(ToolRunner({}), options=options).run(["before ", many]))
    assert done.error is not None and "50,000-character limit" in done.error
    text = "".join(b.text for b in done.article.blocks if hasattr(b, "text"))
    assert text.startswith("before ") and len(text) == 50_000
    tags = " ".join(["<imgen>{}</imgen>"] * 10)
    done = finish(Engine(ToolRunner({}), options=options).run([tags]))
    assert done.error is not None and "more than 3 tags" in done.error
    assert len(done.article.image_blocks()) == 3


class NeverReturns(Tool[SearchParams]):
    """A tool whose run blocks until the test ends (a hung server, a stuck library)."""

    name = "search"
    Params = SearchParams

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0

    def availability(self) -> Availability:
        return Availability.on()

    def run(self, params: SearchParams, context: ToolContext) -> ToolResult:
        self.started += 1
        self.release.wait()
        return ToolResult.failure("released")


def test_a_tool_that_never_returns_fails_its_block_at_the_limit_and_frees_the_worker(code_tool: CodeTool) -> None:
    hung = NeverReturns()
    try:
        runner = ToolRunner({"search": hung, "code": code_tool}, timeout_s=1.0)
        search = "<imgen>{'source': 'search', 'description': 's', 'params': {'query': 'q'}}</imgen>"
        # one worker: the chart after the hung searches runs only if the hung calls let go of it
        engine = Engine(runner, options=EngineOptions(max_concurrent_tools=1))
        done = finish(engine.run([search, search, CHART]))
        statuses = [(b.status, b.error) for b in done.article.image_blocks()]
        assert statuses[0][0] == statuses[1][0] == "failed"
        assert "took longer than 1 s and was stopped" in (statuses[0][1] or "")
        assert statuses[2] == ("ok", None)
        assert hung.started == 2
    finally:
        hung.release.set()


def test_code_params_are_the_same_model_the_engine_validates() -> None:
    assert CodeParams.model_validate({"code": "x"}).code == "x"
