"""The one tool runner: validation, off tools, edit parents, the time bound, crashes as data."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.runner import ToolRunner, text_before, validate_params
from tools.base import Tool, ToolContext, ToolResult
from tools.params import CodeParams, EditParams

PNG = b"\x89PNG fake"


class Recording(Tool[EditParams]):
    name = "edit"
    Params = EditParams

    def __init__(self) -> None:
        self.contexts: list[ToolContext] = []

    def run(self, params: EditParams, context: ToolContext) -> ToolResult:
        self.contexts.append(context)
        if params.prompt == "raise":
            raise RuntimeError("bug in tool")
        return ToolResult.success(PNG, {"prompt": params.prompt})


class Hanging(Tool[CodeParams]):
    name = "code"
    Params = CodeParams

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self, params: CodeParams, context: ToolContext) -> ToolResult:
        self.release.wait(30)  # a tool that never returns (within the test)
        return ToolResult.success(PNG, {})


def test_params_are_validated_before_the_tool_runs() -> None:
    tool = Recording()
    result = ToolRunner({"edit": tool}).run("edit", {"img_index": 0, "prompt": "x", "extra": 1})
    assert not result.ok and "the edit params are not valid" in (result.error or "") and "extra" in result.error
    wrong = ToolRunner({"edit": tool}).run("edit", CodeParams(code="1"))
    assert not wrong.ok and "img_index" in (wrong.error or "")
    assert ToolRunner({}).run("video", {}).error == "unknown tool 'video': choose one of search, diffusion, code, edit"
    assert tool.contexts == []
    typed, problem = validate_params("code", {"code": "x=1"})
    assert isinstance(typed, CodeParams) and problem is None


def test_an_off_tool_gives_a_placeholder_with_its_reason() -> None:
    runner = ToolRunner({}, off_reasons={"code": "disabled: add 'code' to STUDIO_TOOLS_ENABLED"})
    result = runner.run("code", {"code": "x=1"})
    assert result.placeholder and not result.ok and result.provenance == {"placeholder": "tool_off"}
    assert result.error == (
        "the code tool is off: disabled: add 'code' to STUDIO_TOOLS_ENABLED. "
        "Upload an image for this block, or run it again once the code tool is on."
    )
    assert runner.off_reason("code") and runner.off_reason("search") == "it is not enabled"


def test_edit_parent_is_resolved_unless_given() -> None:
    tool = Recording()
    runner = ToolRunner({"edit": tool})
    ok = runner.run("edit", {"img_index": 1, "prompt": "p"}, resolve_parent=lambda i: (b"parent%d" % i, None))
    assert ok.ok and tool.contexts[-1].parent_image == b"parent1"
    given = runner.run("edit", {"img_index": 1, "prompt": "p"}, ToolContext(parent_image=b"mine"),
                       resolve_parent=lambda i: (b"other", None))  # fmt: skip
    assert given.ok and tool.contexts[-1].parent_image == b"mine"
    missing = runner.run("edit", {"img_index": 3, "prompt": "p"}, resolve_parent=lambda i: (None, "no image at 3"))
    assert missing.error == "no image at 3" and len(tool.contexts) == 2


def test_a_crash_is_a_failed_result_with_the_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="studio.core.runner"):
        result = ToolRunner({"edit": Recording()}).run("edit", {"img_index": 0, "prompt": "raise"}, ToolContext(b"x"))
    assert not result.ok and result.error == "the edit tool crashed: RuntimeError: bug in tool"
    record = next(r for r in caplog.records if r.name == "studio.core.runner")
    assert record.exc_info is not None and "bug in tool" in caplog.text and "Traceback" in caplog.text


def test_a_tool_that_never_returns_is_abandoned_at_the_limit() -> None:
    tool = Hanging()
    started = time.perf_counter()
    result = ToolRunner({"code": tool}, timeout_s=0.3, grace_s=0.2).run("code", {"code": "x=1"})
    waited = time.perf_counter() - started
    tool.release.set()
    assert not result.ok and "longer than 0.3 s" in (result.error or "") and "STUDIO_TOOL_TIMEOUT_S" in result.error
    assert waited < 5  # the caller is free again long before the tool's own 30 s


class FallsBackAtTheDeadline(Tool[CodeParams]):
    """Works until its context says stop, then ends cleanly with a cheap result of its own."""

    name = "code"
    Params = CodeParams

    def run(self, params: CodeParams, context: ToolContext) -> ToolResult:
        while not context.should_stop():
            time.sleep(0.01)
        if context.cancelled():
            return ToolResult.failure("stopped by the user")
        return ToolResult.success(PNG, {"fallback": "out of time"})


def test_a_tool_sees_the_deadline_and_ends_cleanly_within_the_grace() -> None:
    started = time.perf_counter()
    result = ToolRunner({"code": FallsBackAtTheDeadline()}, timeout_s=0.3, grace_s=10).run("code", {"code": "x"})
    waited = time.perf_counter() - started
    assert result.ok and result.provenance == {"fallback": "out of time"}
    assert 0.3 <= waited < 5  # it ended at the deadline, not at the end of the grace


def test_the_callers_cancel_reaches_the_tool() -> None:
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.perf_counter()
    result = ToolRunner({"code": FallsBackAtTheDeadline()}, timeout_s=60).run(
        "code", {"code": "x"}, ToolContext(cancel=stop)
    )
    assert result.error == "stopped by the user" and time.perf_counter() - started < 5


def test_text_before_is_the_shared_window() -> None:
    article = Article()
    article.blocks = [TextBlock("b1", "x" * 2000), ImageBlock("b2", 0, "code", "d", {"code": ""}, "")]
    assert text_before(article, "b2") == "x" * 1500
    assert article.text_around("b1") == ("", "")
