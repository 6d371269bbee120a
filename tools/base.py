"""One Tool shape: a name, a pydantic Params, ``run(params, context) -> ToolResult``.

A tool never raises for a failure of the work itself (bad code, no search hit, missing
weights): it returns ``ToolResult.failure(reason)`` so the reason lands on the article block.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from models.errors import ToolError
from models.vocab import BlockStatus
from tools.params import PARAMS_BY_SOURCE


@dataclass(frozen=True)
class ToolResult:
    """The value a tool returns. ``image`` is PNG (or JPEG/WebP for search) bytes."""

    ok: bool
    image: bytes | None = None
    mime: str = "image/png"
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    # The params actually run, when a wrapper filled them in (two-phase chart code); None: the call's.
    params: dict[str, Any] | None = None
    # Not run at all: the block keeps its call as a placeholder (the tool is off, or the request
    # is not one this tool may draw); ``error`` says why and how to fill it.
    placeholder: bool = False

    @classmethod
    def success(
        cls, image: bytes, provenance: dict[str, Any], *, mime: str = "image/png", seconds: float = 0.0
    ) -> ToolResult:
        return cls(ok=True, image=image, mime=mime, provenance=provenance, seconds=seconds)

    @classmethod
    def failure(cls, error: str, provenance: dict[str, Any] | None = None, *, seconds: float = 0.0) -> ToolResult:
        return cls(ok=False, error=error, provenance=provenance or {}, seconds=seconds)

    @classmethod
    def placeholder_for(cls, reason: str, provenance: dict[str, Any] | None = None) -> ToolResult:
        """A call that was not run: the block becomes a placeholder the user can fill."""
        return cls(ok=False, error=reason, provenance=provenance or {}, placeholder=True)

    def with_seconds(self, seconds: float) -> ToolResult:
        return dataclasses.replace(self, seconds=seconds)

    def with_params(self, params: dict[str, Any]) -> ToolResult:
        return dataclasses.replace(self, params=params)


@dataclass(frozen=True)
class Outcome:
    """What a finished call means for its block: its status and, unless ok, the reason shown."""

    status: BlockStatus
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == BlockStatus.OK


def outcome_of(result: ToolResult, source: str | None = None) -> Outcome:
    """The one rule turning a tool's result into a block status: ok only with an image; a call not
    run is a placeholder; anything else failed, with the tool's reason (or that it gave no image).
    Used by the engine, regeneration and the session's edits."""
    if result.ok and result.image:
        return Outcome(BlockStatus.OK)
    status = BlockStatus.PLACEHOLDER if result.placeholder else BlockStatus.FAILED
    tool = f"the {source} tool" if source else "the tool"
    return Outcome(status, result.error or f"{tool} returned no image")


@dataclass(frozen=True)
class ToolContext:
    """What a run may need beyond its params.

    parent_image: for edit, the image that ``img_index`` points at (resolved by the caller).
    seed: a fixed seed (regenerate-with-new-seed passes one); None lets the tool choose and record it.
    style: an article-wide style phrase to carry into generative prompts ("" for none).
    result_offset: for search regenerate, skip this many hits (the "next hit").
    description: the tag's description (the picture asked for), for tools that write their own
        params from it (two-phase chart code).
    text_before: the article text before the block, already cut to a context window.
    cancel: set when the caller no longer wants the result (the user pressed Stop, the article
        was abandoned); a tool that works in steps checks it between steps and ends early.
    deadline: ``time.monotonic()`` past which the runner gives up on the call (its time limit);
        a tool with a cheap fallback (the chart writer) uses what is left to fall back in time.
    brief: the article's brief (the chart writer looks for the chart's numbers there first).
    code_from: where the numbers of code given in the call came from, when the caller knows:
        "response" (a pasted LLM-I response), "author" (the user's own data in the call editor),
        or a kept chart's own record ("brief", "text", "illustrative") when it is redrawn.
    """

    parent_image: bytes | None = None
    seed: int | None = None
    style: str = ""
    result_offset: int = 0
    description: str = ""
    text_before: str = ""
    cancel: threading.Event | None = field(default=None, compare=False)
    deadline: float | None = None
    brief: str = ""
    code_from: str = ""

    def cancelled(self) -> bool:
        """The caller stopped (Stop pressed): no result is wanted, not even a fallback."""
        return self.cancel is not None and self.cancel.is_set()

    def should_stop(self) -> bool:
        """Cancelled, or past the deadline: end the current step now."""
        return self.cancelled() or (self.deadline is not None and time.monotonic() >= self.deadline)


@dataclass(frozen=True)
class Availability:
    """Whether a tool can work right now, and if not, why and how to turn it on."""

    ok: bool
    reason: str = ""

    @classmethod
    def on(cls) -> Availability:
        return cls(True, "")

    @classmethod
    def off(cls, reason: str) -> Availability:
        return cls(False, reason)


P = TypeVar("P", bound=BaseModel)


class Tool(ABC, Generic[P]):
    """Base of the four tools, generic over the params type (``class CodeTool(Tool[CodeParams])``).

    Subclasses set ``name`` and ``Params``; both are checked at class creation so a mis-declared
    tool fails at import, not mid-article. Callers validate params with ``Params`` before ``run``
    (the runner does), so ``run`` gets the typed model and checks nothing again."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a shared base that declares abstract methods of its own is checked in its subclasses
        # (ABCMeta sets __abstractmethods__ only after this hook runs, so look at the class body)
        if any(getattr(member, "__isabstractmethod__", False) for member in vars(cls).values()):
            return
        expected = PARAMS_BY_SOURCE.get(getattr(cls, "name", ""))
        if expected is None:
            raise ToolError(f"{cls.__name__}.name must be one of {sorted(PARAMS_BY_SOURCE)}")
        if getattr(cls, "Params", None) is not expected:
            raise ToolError(f"{cls.__name__}.Params must be tools.params.{expected.__name__}")

    def availability(self) -> Availability:
        """Cheap check used at start-up to decide whether the prompt offers this tool."""
        return Availability.on()

    @abstractmethod
    def run(self, params: P, context: ToolContext) -> ToolResult:
        """Do the work. Return ToolResult.failure(reason) instead of raising."""

    def close(self) -> None:  # noqa: B027 - optional hook, most tools hold nothing
        """Release workers, pipelines, sockets."""


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` holds the elapsed seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start
