"""Orchestrator: ordering, concurrency, edit dependencies, failures as data.

The tools here are scripted (fixed delays, recorded start/end times) because these tests are
about scheduling; the real tools have their own tests and an end-to-end test runs them here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from pydantic import BaseModel

from models.errors import ModelError
from models.vocab import BlockStatus
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.charts import ChartWritingTool
from studio.core.engine import Engine, EngineOptions
from studio.core.events import (
    ArticleDone,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallInvalid,
    ToolCallQueued,
    ToolCallStarted,
)
from studio.core.protocol import format_tag
from studio.core.runner import ToolRunner
from tools.base import Tool, ToolContext, ToolResult
from tools.params import CodeParams, DiffusionParams, EditParams, SearchParams

PNG = b"\x89PNG fake"


class Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.spans: dict[str, tuple[float, float]] = {}

    def now(self) -> float:
        return time.perf_counter() - self.t0


def scripted(source: str, params_cls: type[BaseModel], clock: Clock, delays: dict[str, float], fail=()):
    class Scripted(Tool):
        name = source
        Params = params_cls

        def __init__(self) -> None:
            self.parents: dict[str, bytes | None] = {}

        def run(self, params: BaseModel, context: ToolContext) -> ToolResult:
            key = next(iter(params.model_dump().values())) if source != "edit" else params.prompt
            with clock.lock:
                clock.running += 1
                clock.peak = max(clock.peak, clock.running)
            start = clock.now()
            time.sleep(delays.get(str(key), 0.05))
            with clock.lock:
                clock.running -= 1
            clock.spans[str(key)] = (start, clock.now())
            self.parents[str(key)] = context.parent_image
            if key in fail:
                return ToolResult.failure(f"{key} broke")
            if key == "raise":
                raise RuntimeError("bug in tool")
            return ToolResult.success(PNG + str(key).encode(), {"key": key})

    return Scripted()


def tools(clock: Clock, delays: dict[str, float] | None = None, fail=()) -> dict[str, Tool]:
    d = delays or {}
    return {
        "search": scripted("search", SearchParams, clock, d, fail),
        "diffusion": scripted("diffusion", DiffusionParams, clock, d, fail),
        "code": scripted("code", CodeParams, clock, d, fail),
        "edit": scripted("edit", EditParams, clock, d, fail),
    }


def tag(source: str, **params) -> str:
    return format_tag(source, f"{source} result", params)


def make_engine(the_tools: dict[str, Tool], *, off_reasons=None, **kwargs) -> Engine:
    return Engine(ToolRunner(the_tools, off_reasons=off_reasons), **kwargs)


def run(engine: Engine, chunks, article: Article | None = None) -> list:
    return list(engine.run(chunks, article))


def test_events_and_blocks_in_order() -> None:
    clock = Clock()
    text = "Title\n\n" + tag("search", query="a") + "\n\nMiddle " + tag("code", code="b") + " end"
    events = run(make_engine(tools(clock)), [text[i : i + 7] for i in range(0, len(text), 7)])
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None
    kinds = [b.kind for b in done.article.blocks]
    assert kinds == ["text", "image", "text", "image", "text"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Title\n\n\n\nMiddle  end"
    for block in done.article.image_blocks():
        assert block.status == BlockStatus.OK and block.image
        ids = [type(e) for e in events if getattr(e, "block_id", None) == block.id]
        assert ids == [ToolCallQueued, ToolCallStarted, ToolCallFinished]
    assert done.article.to_llmi_text() == text


def test_tools_start_while_the_model_is_still_streaming() -> None:
    clock = Clock()
    stream_end: list[float] = []

    def slow_stream() -> Iterator[str]:
        yield "intro " + tag("search", query="early")
        for _ in range(5):
            time.sleep(0.1)
            yield " more text"
        stream_end.append(clock.now())

    run(make_engine(tools(clock, {"early": 0.1})), slow_stream())
    start, end = clock.spans["early"]
    assert end < stream_end[0]


def test_concurrency_limit_is_respected() -> None:
    clock = Clock()
    text = "".join(tag("diffusion", prompt=f"p{i}") for i in range(5))
    run(
        make_engine(tools(clock, {f"p{i}": 0.15 for i in range(5)}), options=EngineOptions(max_concurrent_tools=2)),
        [text],
    )
    assert clock.peak == 2
    clock = Clock()
    run(
        make_engine(tools(clock, {f"p{i}": 0.15 for i in range(5)}), options=EngineOptions(max_concurrent_tools=5)),
        [text],
    )
    assert clock.peak == 5


def test_edit_waits_only_for_its_target() -> None:
    clock = Clock()
    the_tools = tools(clock, {"target": 0.4, "other": 0.1, "change": 0.05})
    text = tag("diffusion", prompt="target") + tag("search", query="other") + tag("edit", img_index=0, prompt="change")
    events = run(make_engine(the_tools, options=EngineOptions(max_concurrent_tools=1)), [text])
    assert clock.spans["change"][0] >= clock.spans["target"][1]
    assert clock.spans["other"][0] >= clock.spans["target"][1]  # limit 1: FIFO, edit held no worker
    assert the_tools["edit"].parents["change"] == PNG + b"target"
    assert all(b.status == BlockStatus.OK for b in events[-1].article.image_blocks())

    clock = Clock()
    events = run(
        make_engine(tools(clock, {"target": 0.4, "other": 0.05}), options=EngineOptions(max_concurrent_tools=3)), [text]
    )
    assert clock.spans["other"][1] < clock.spans["target"][1]  # not blocked by the slow target


def test_edit_of_failed_or_invalid_target_fails_with_reason() -> None:
    clock = Clock()
    text = tag("diffusion", prompt="broken") + tag("edit", img_index=0, prompt="e1")
    done = run(make_engine(tools(clock, fail={"broken"})), [text])[-1]
    edit = done.article.image_blocks()[1]
    assert edit.status == BlockStatus.FAILED and "index 0" in edit.error and "broken broke" in edit.error
    assert "e1" not in clock.spans

    text = "<imgen>{'source': 'oops'}</imgen>" + tag("edit", img_index=0, prompt="e2")
    done = run(make_engine(tools(Clock())), [text])[-1]
    invalid, edit = done.article.image_blocks()
    assert invalid.status == BlockStatus.INVALID and "missing key" in invalid.error
    assert edit.status == BlockStatus.FAILED and "index 0" in edit.error


def test_edit_of_a_user_image_gets_its_bytes() -> None:
    clock = Clock()
    the_tools = tools(clock)
    article = Article(brief="b", user_images=[b"USER"])
    done = run(make_engine(the_tools), [tag("edit", img_index=0, prompt="u")], article)[-1]
    assert the_tools["edit"].parents["u"] == b"USER"
    assert done.article.image_blocks()[0].image_index == 1


def test_failures_are_data_and_the_article_continues() -> None:
    clock = Clock()
    text = "a" + tag("search", query="raise") + "b" + tag("code", code="bad") + "c" + tag("search", query="fine") + "d"
    events = run(make_engine(tools(clock, fail={"bad"})), [text])
    crashed, failed, fine = events[-1].article.image_blocks()
    assert crashed.status == BlockStatus.FAILED and "crashed: RuntimeError: bug in tool" in crashed.error
    assert failed.status == BlockStatus.FAILED and failed.error == "bad broke"
    assert fine.status == BlockStatus.OK
    assert sum(isinstance(e, ToolCallFailed) for e in events) == 2
    assert events[-1].article.blocks[-1].text == "d"


def test_unterminated_tag_and_tool_off() -> None:
    text = tag("diffusion", prompt="x") + " then <imgen>{'source': 'code', 'desc"
    engine = make_engine({}, off_reasons={"diffusion": "no weights: set STUDIO_DIFFUSION_MODEL"})
    events = run(engine, [text])
    off, cut = events[-1].article.image_blocks()
    # an off tool's tag becomes a placeholder: not run, its call kept, the reason and the fill said
    assert (
        off.status == BlockStatus.PLACEHOLDER
        and "STUDIO_DIFFUSION_MODEL" in off.error
        and "Upload an image" in off.error
    )
    assert off.params == {"prompt": "x"} and off.description == "diffusion result"
    failed = [e for e in events if isinstance(e, ToolCallFailed)]
    assert len(failed) == 1 and failed[0].placeholder
    assert cut.status == BlockStatus.INVALID and "never closed" in cut.error
    assert any(isinstance(e, ToolCallInvalid) for e in events)


def test_model_stream_error_keeps_what_was_written() -> None:
    def broken() -> Iterator[str]:
        yield "kept text " + tag("search", query="kept")
        raise ModelError("cannot reach the chat server")

    done = run(make_engine(tools(Clock())), broken())[-1]
    assert done.error == "cannot reach the chat server"
    assert isinstance(done.article.blocks[0], TextBlock) and done.article.blocks[0].text == "kept text "
    assert isinstance(done.article.blocks[1], ImageBlock) and done.article.blocks[1].status == BlockStatus.OK


class Writer:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def write(self, description: str, context: str, *, seed: int | None = None, cancel: object = None) -> str:
        self.calls.append(("write", description, context))
        return "bad"

    def repair(self, code: str, error: str, description: str, context: str, *, cancel: object = None) -> str:
        self.calls.append(("repair", code, error))
        return "good"


def test_two_phase_code_is_written_then_repaired_once() -> None:
    writer = Writer()
    text = "Rain falls 1200 mm a year. " + tag("code", code="")
    the_tools = tools(Clock(), fail={"bad"})
    the_tools["code"] = ChartWritingTool(the_tools["code"], writer)  # type: ignore[arg-type]
    done = run(make_engine(the_tools), [text])[-1]
    block = done.article.image_blocks()[0]
    assert writer.calls == [("write", "code result", "Rain falls 1200 mm a year. "), ("repair", "bad", "bad broke")]
    assert block.status == BlockStatus.OK and block.params == {"code": "good"}
    assert "'code': 'good'" in done.article.to_llmi_text()


def test_closing_the_generator_early_stops_cleanly() -> None:
    def endless() -> Iterator[str]:
        while True:
            time.sleep(0.01)
            yield "word "

    events = make_engine(tools(Clock())).run(endless())
    first = next(events)
    assert isinstance(first, TextDelta)
    events.close()


def test_stop_ends_the_stream_and_the_tool_calls_and_keeps_what_was_written() -> None:
    clock = Clock()
    stop = threading.Event()
    closed: list[bool] = []
    sent: list[str] = []

    def endless() -> Iterator[str]:
        try:
            yield "Kept words. " + tag("search", query="slow")
            while True:
                time.sleep(0.02)
                sent.append(" more")
                yield " more"
        finally:
            closed.append(True)

    events = []
    for event in make_engine(tools(clock, {"slow": 5.0})).run(endless(), stop=stop):
        events.append(event)
        if isinstance(event, ToolCallStarted):
            stop.set()
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.stopped and "stopped" in (done.error or "")
    block = done.article.image_blocks()[0]
    assert block.status == BlockStatus.FAILED and "stopped" in (block.error or "")
    failed = [e for e in events if isinstance(e, ToolCallFailed)]
    assert [e.block_id for e in failed] == [block.id]
    assert done.article.blocks[0].text.startswith("Kept words.")
    deadline = time.monotonic() + 2
    while not closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert closed == [True]  # the model stream was closed, not left running
    n = len(sent)
    time.sleep(0.1)
    assert len(sent) == n


class UntilStopped(Tool[CodeParams]):
    """A tool that works until its context says stop (a chart writer on a slow model)."""

    name = "code"
    Params = CodeParams

    def __init__(self) -> None:
        self.ended = threading.Event()

    def run(self, params: CodeParams, context: ToolContext) -> ToolResult:
        deadline = time.monotonic() + 30
        while not context.should_stop() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.ended.set()
        return ToolResult.failure("ended")


def test_stop_reaches_the_running_tool_through_its_context() -> None:
    tool = UntilStopped()
    stop = threading.Event()
    for event in make_engine({"code": tool}).run(["Text. " + tag("code", code="")], stop=stop):
        if isinstance(event, ToolCallStarted):
            stop.set()
    assert tool.ended.wait(2)  # the tool ended its work, not just the article (it would run 30 s)
