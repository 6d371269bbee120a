"""The typed event stream: the spine every consumer reads (UI, CLI, store, bench, tests).

Events carry block ids and values, never references into the engine's internals, except
``ArticleDone.article``, the finished article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.article import Article


@dataclass(frozen=True)
class TextDelta:
    block_id: str
    text: str


@dataclass(frozen=True)
class ToolCallQueued:
    """A tag closed and parsed valid; it waits for a worker (or for its edit target)."""

    block_id: str
    image_index: int
    source: str
    description: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ToolCallInvalid:
    block_id: str
    image_index: int
    raw: str
    reason: str
    source: str | None = None
    description: str = ""


@dataclass(frozen=True)
class ToolCallStarted:
    block_id: str
    source: str


@dataclass(frozen=True)
class ToolCallFinished:
    block_id: str
    source: str
    seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)
    image: bytes | None = None
    mime: str = "image/png"
    params: dict[str, Any] = field(default_factory=dict)  # final params (chart code filled in)


@dataclass(frozen=True)
class ToolCallFailed:
    block_id: str
    source: str
    error: str
    seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArticleDone:
    article: Article
    seconds: float
    error: str | None = None  # the model stream broke; the blocks written so far are kept


Event = TextDelta | ToolCallQueued | ToolCallInvalid | ToolCallStarted | ToolCallFinished | ToolCallFailed | ArticleDone
