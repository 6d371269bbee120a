"""The one tool runner: every path that runs a tool call goes through ``ToolRunner.run``.

The engine (tags while the article streams), block regeneration and quality-mode polish all
call it, so they agree on what running a call means:

1. the call's params are validated with the tool's strict Params model (a dict or a model);
2. a tool that is off gives a *placeholder* result (``ToolResult.placeholder``): the block keeps
   its call, says why the tool is off and how to turn it on, and can be filled later by an upload
   or by running it again once the tool is on;
3. an edit's parent image is resolved (``resolve_parent``) unless the context carries it;
4. the run is bounded by ``timeout_s``: the tool sees the deadline in its context (and the
   caller's Stop as ``context.cancel``) and ends early on it; one that has not ended
   ``FINISH_GRACE_S`` later fails with the reason and its thread is abandoned (tools bound their
   own work too: the sandbox kills its child, the downloader has a deadline), so no caller waits
   forever;
5. an exception from a tool becomes a failed result with a readable reason, and the traceback
   goes to the log.

The runner knows no tool by name. Tool-specific behaviour lives in tool wrappers: two-phase
chart writing (``studio.core.charts.ChartWritingTool``), ranked search and best-of-seeds
(``studio.quality.ranking``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from studio.core.article import Article
from tools.base import Tool, ToolContext, ToolResult
from tools.deadline import call_with_deadline
from tools.params import PARAMS_BY_SOURCE, param_problem

log = logging.getLogger(__name__)

# How long past its deadline a tool may take to end cleanly (close a model stream, draw a
# fallback) before the runner abandons it.
FINISH_GRACE_S = 15.0

# img_index -> (the image, None) or (None, why there is none)
ParentResolver = Callable[[int], tuple[bytes | None, str | None]]


def text_before(article: Article, block_id: str) -> str:
    """The article text before a block, cut to the shared context window."""
    return article.text_around(block_id)[0]


def validate_params(source: str, params: Mapping[str, Any] | BaseModel) -> tuple[BaseModel | None, str | None]:
    """The strict Params model for a call, or a sentence saying what is wrong."""
    model = PARAMS_BY_SOURCE.get(source)
    if model is None:
        return None, f"unknown tool {source!r}: choose one of {', '.join(PARAMS_BY_SOURCE)}"
    if isinstance(params, model):
        return params, None
    raw = params.model_dump() if isinstance(params, BaseModel) else dict(params)
    try:
        return model(**raw), None
    except ValidationError as exc:
        return None, f"the {source} params are not valid: {param_problem(exc, source)}"


def placeholder_reason(source: str, off: str) -> str:
    """The placeholder's sentence: why the tool is off, how to turn it on, how to fill it now."""
    off = off.removeprefix(f"{source} is off: ").rstrip(". ")
    return (
        f"the {source} tool is off: {off}. Upload an image for this block, or run it again once the "
        f"{source} tool is on."
    )


class ToolRunner:
    """Runs validated calls on the tools that are on (see the module docstring).

    tools: the tools that work now, by source. off_reasons: why each other source is off.
    timeout_s: the wall-clock bound of one call (STUDIO_TOOL_TIMEOUT_S); None or 0 for none.
    grace_s: how long past that a tool may take to end cleanly before it is abandoned.
    """

    def __init__(
        self,
        tools: Mapping[str, Tool[Any]],
        *,
        off_reasons: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        grace_s: float = FINISH_GRACE_S,
    ) -> None:
        self.tools = dict(tools)
        self.off_reasons = dict(off_reasons or {})
        self.timeout_s = timeout_s or None
        self.grace_s = grace_s

    def with_tools(self, tools: Mapping[str, Tool[Any]]) -> ToolRunner:
        """The same runner over other (e.g. wrapped) tools."""
        return ToolRunner(tools, off_reasons=self.off_reasons, timeout_s=self.timeout_s, grace_s=self.grace_s)

    def sources(self) -> list[str]:
        return list(self.tools)

    def off_reason(self, source: str) -> str | None:
        """None when the source can run, else why not and how to turn it on."""
        if source in self.tools:
            return None
        return self.off_reasons.get(source, "it is not enabled")

    def run(
        self,
        source: str,
        params: Mapping[str, Any] | BaseModel,
        context: ToolContext | None = None,
        *,
        resolve_parent: ParentResolver | None = None,
    ) -> ToolResult:
        """Run one call. Never raises: every failure is a ToolResult with a readable ``error``."""
        started = time.perf_counter()
        result = self._run(source, params, context or ToolContext(), resolve_parent)
        return result.with_seconds(result.seconds or time.perf_counter() - started)

    def _run(
        self,
        source: str,
        params: Mapping[str, Any] | BaseModel,
        context: ToolContext,
        resolve_parent: ParentResolver | None,
    ) -> ToolResult:
        validated, problem = validate_params(source, params)
        if validated is None:
            return ToolResult.failure(problem or "the params are not valid")
        off = self.off_reason(source)
        if off is not None:
            return ToolResult.placeholder_for(placeholder_reason(source, off), {"placeholder": "tool_off"})
        index = getattr(validated, "img_index", None)
        if isinstance(index, int) and context.parent_image is None and resolve_parent is not None:
            image, missing = resolve_parent(index)
            if image is None:
                return ToolResult.failure(missing or f"the image to edit (index {index}) has no image")
            context = dataclasses.replace(context, parent_image=image)
        return self._bounded(source, self.tools[source], validated, context)

    def _bounded(self, source: str, tool: Tool[Any], params: BaseModel, context: ToolContext) -> ToolResult:
        if self.timeout_s is None:
            return _guarded(source, tool, params, context)
        deadline = time.monotonic() + self.timeout_s
        if context.deadline is None or context.deadline > deadline:
            context = dataclasses.replace(context, deadline=deadline)
        # The tool sees the deadline (``ToolContext.deadline``) and gets ``grace_s`` past it to end
        # cleanly (the chart writer closes its model stream and draws its plain fallback); after
        # that its thread is abandoned, so the caller's worker is free again, and the tool's own
        # limits end the work itself.
        try:
            return call_with_deadline(
                lambda: _guarded(source, tool, params, context), self.timeout_s + self.grace_s, name=f"tool-{source}"
            )
        except TimeoutError:
            log.warning("the %s tool passed its %.0f s limit; abandoned", source, self.timeout_s)
            return ToolResult.failure(
                f"the {source} tool took longer than {self.timeout_s:g} s and was stopped "
                "(raise STUDIO_TOOL_TIMEOUT_S to allow more)",
                seconds=self.timeout_s,
            )


def _guarded(source: str, tool: Tool[Any], params: BaseModel, context: ToolContext) -> ToolResult:
    try:
        return tool.run(params, context)
    except Exception as exc:  # a tool bug becomes data on its block; the traceback goes to the log
        log.exception("the %s tool crashed", source)
        return ToolResult.failure(f"the {source} tool crashed: {type(exc).__name__}: {exc}")
