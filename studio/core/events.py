"""The typed event stream: the spine every consumer reads (UI, CLI, store, bench, tests).

Events carry block ids and values, never references into the engine's internals, except
``ArticleDone.article``, the finished article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.vocab import BlockStatus
from studio.core.article import Article


@dataclass(frozen=True)
class TextDelta:
    block_id: str
    text: str


@dataclass(frozen=True)
class TagOpened:
    """The writer has just opened an ``<imgen>`` tag: a picture is being planned at this spot.

    Nothing is in the article yet (no block, nothing to store): the tag's ToolCallQueued or
    ToolCallInvalid with the same ``image_index`` follows when it closes, or the stream ends
    (ArticleDone) without one, e.g. when the user stopped it or a cap was reached.
    """

    image_index: int  # the img_index the picture will have


@dataclass(frozen=True)
class ToolCallQueued:
    """A tag closed and parsed valid; it waits for a worker (or for its edit target)."""

    block_id: str
    image_index: int
    source: str
    description: str
    params: dict[str, Any]
    raw: str = ""  # the tag exactly as the writer wrote it (two-phase charts: code still empty)


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
    # Not run: the block is a placeholder (the tool is off, or code was asked for a photo); it
    # keeps its call and ``error`` says why and how to fill it (upload, or run it when on).
    placeholder: bool = False


@dataclass(frozen=True)
class ArticleDone:
    article: Article
    seconds: float
    error: str | None = None  # the model stream broke; the blocks written so far are kept
    cut_off: bool = False  # the model stopped at its token limit: the article may end mid-sentence
    stopped: bool = False  # the user stopped the article (error says so); what was written is kept


Event = (
    TextDelta
    | TagOpened
    | ToolCallQueued
    | ToolCallInvalid
    | ToolCallStarted
    | ToolCallFinished
    | ToolCallFailed
    | ArticleDone
)


def replay_events(article: Article, seconds: float = 0.0) -> list[Event]:
    """The events that build a finished article, in order: how a result made elsewhere (quality
    mode picks one of several candidates) reaches the consumers that only read events (store, UI)."""
    events: list[Event] = []
    for block in article.blocks:
        if block.kind == "text":
            events.append(TextDelta(block.id, block.text))
            continue
        if block.status == BlockStatus.INVALID:
            events.append(
                ToolCallInvalid(
                    block.id, block.image_index, block.raw, block.error or "", block.source, block.description
                )
            )
            continue
        source = block.source or ""
        events.append(ToolCallQueued(block.id, block.image_index, source, block.description, block.params, block.raw))
        if block.status == BlockStatus.OK and block.image:
            events.append(
                ToolCallFinished(
                    block.id, source, block.seconds, block.provenance, block.image, block.mime, block.params
                )
            )
        else:
            error = block.error or f"the {source} tool returned no image"
            events.append(
                ToolCallFailed(
                    block.id,
                    source,
                    error,
                    block.seconds,
                    block.provenance,
                    block.params,
                    placeholder=block.status == BlockStatus.PLACEHOLDER,
                )
            )
    events.append(ArticleDone(article, seconds, article.error, article.cut_off))
    return events
