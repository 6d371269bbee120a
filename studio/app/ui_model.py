"""View models for the UI: engine events and stored blocks in, plain values out.

Pure functions, no gradio: the UI (``studio.app.ui``), the API and the tests all use them.
``studio.app.ui_page`` turns a view into the page the browser shows (safe HTML per block).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, assert_never

from models.errors import BlockGone
from models.vocab import ArticleStatus, BlockStatus, finished_article_status
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.events import (
    ArticleDone,
    Event,
    TagOpened,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallInvalid,
    ToolCallQueued,
    ToolCallStarted,
)

CUT_OFF_NOTE = "cut off: the model stopped at its token limit, so the article may end mid-sentence"
ASSET_ROUTE = "/studio-asset"


@dataclass(frozen=True)
class VersionView:
    """One entry of a block's history (or its candidate): enough to show and pick it."""

    number: int
    origin: str
    status: str | None
    error: str | None = None
    sha256: str | None = None
    text: str | None = None
    instruction: str | None = None
    source: str | None = None


@dataclass
class BlockView:
    """One block as the UI shows it (a value: never shared with the engine)."""

    id: str
    kind: str  # "text" | "image"
    text: str = ""
    image_index: int | None = None
    source: str | None = None
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    status: str = BlockStatus.QUEUED
    error: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    image: bytes | None = None
    mime: str = "image/png"
    seconds: float = 0.0
    raw: str = ""
    version: int = 1
    version_count: int = 1
    accepted: bool = False
    sha256: str | None = None  # the image's asset hash: the browser loads it by URL
    alt: str = ""  # alt text (default: the description)
    candidate: VersionView | None = None  # a failed attempt or a rewrite, beside the current version
    history: list[VersionView] = field(default_factory=list)
    notice: str = ""  # the outcome of the last action on this block (plain text)
    notice_error: bool = False
    busy: str = ""  # what is being done to this block right now ("regenerating", ...)
    busy_since: float = 0.0  # wall-clock start (seconds since the epoch), for the elapsed time


@dataclass
class ArticleView:
    """The article being shown; ``apply`` folds one engine event into it."""

    brief: str = ""
    user_images: list[bytes] = field(default_factory=list)
    blocks: list[BlockView] = field(default_factory=list)
    error: str | None = None
    done: bool = False
    cut_off: bool = False  # the model stopped at its token limit
    guard_note: str = ""  # what the stream guards removed ("repetition removed: ...")
    note: str = ""  # e.g. quality mode's candidate and selection reason
    project_id: int | None = None
    article_id: int | None = None
    status: str = ArticleStatus.RUNNING  # the store's article status
    started: float = 0.0  # wall-clock start of the writing, for the elapsed time
    elapsed: float | None = None  # the seconds it took, once done
    stopped: bool = False
    elsewhere: bool = False  # being written by another tab or client: this view follows the store
    notice: str = ""  # the outcome of the last article-wide action (plain text)
    notice_error: bool = False
    undo_block: str = ""  # a block just deleted: the notice offers to undo it (the article's history)
    undo_label: str = ""  # what Undo takes back ("accept version 2 of b4"; "": nothing), storage.history
    redo_label: str = ""  # what Redo does again
    history_block: str = ""  # the one block the last undo / redo changed: its outcome is shown there
    # the writer has opened an <imgen> tag that has not closed yet: the img_index it will have, and
    # since when (the page shows a "planning a picture…" card there; it is never a block)
    planning: int | None = None
    planning_since: float = 0.0

    def block(self, block_id: str) -> BlockView:
        for b in self.blocks:
            if b.id == block_id:
                return b
        raise BlockGone(block_id)

    def image_at(self, index: int) -> bytes | None:
        """The image at a global img_index: user images first, then image blocks in order."""
        if 0 <= index < len(self.user_images):
            return self.user_images[index]
        images = [b for b in self.blocks if b.kind == "image"]
        offset = index - len(self.user_images)
        return images[offset].image if 0 <= offset < len(images) else None

    def apply(self, event: Event) -> None:
        apply_event(self, event)


def apply_event(view: ArticleView, event: Event) -> ArticleView:
    """Fold one event into ``view`` (in place, returned for chaining)."""
    if not isinstance(event, TagOpened):
        view.planning = None  # the open tag closed (its block follows here) or the stream ended
    match event:
        case TagOpened():
            view.planning, view.planning_since = event.image_index, time.time()
        case TextDelta():
            last = view.blocks[-1] if view.blocks else None
            if last is None or last.id != event.block_id:
                last = BlockView(event.block_id, "text")
                view.blocks.append(last)
            last.text += event.text
        case ToolCallQueued():
            view.blocks.append(
                BlockView(
                    event.block_id,
                    "image",
                    image_index=event.image_index,
                    source=event.source,
                    description=event.description,
                    params=dict(event.params),
                )
            )
        case ToolCallInvalid():
            view.blocks.append(
                BlockView(
                    event.block_id,
                    "image",
                    image_index=event.image_index,
                    source=event.source,
                    description=event.description,
                    status=BlockStatus.INVALID,
                    error=event.reason,
                    raw=event.raw,
                )
            )
        case ToolCallStarted():
            view.block(event.block_id).status = BlockStatus.RUNNING
        case ToolCallFinished() | ToolCallFailed():
            b = view.block(event.block_id)
            b.seconds, b.provenance = event.seconds, dict(event.provenance)
            if event.params:
                b.params = dict(event.params)
            if isinstance(event, ToolCallFinished):
                b.status, b.image, b.mime, b.error = BlockStatus.OK, event.image, event.mime, None
                b.sha256 = hashlib.sha256(event.image).hexdigest() if event.image else None
            else:
                b.status, b.error = (BlockStatus.PLACEHOLDER if event.placeholder else BlockStatus.FAILED), event.error
        case ArticleDone():
            view.done, view.error, view.stopped, view.cut_off = True, event.error, event.stopped, event.cut_off
            view.guard_note = event.article.guard_note()
            view.elapsed = event.seconds
            view.status = finished_article_status(error=event.error, stopped=event.stopped)
        case _:
            assert_never(event)
    return view


def view_from_article(article: Article) -> ArticleView:
    """A view of a whole article (after a run, or rebuilt from the store)."""
    view = ArticleView(brief=article.brief, user_images=list(article.user_images), error=article.error, done=True)
    view.status = finished_article_status(error=article.error, stopped=False)
    view.cut_off = article.cut_off
    view.guard_note = article.guard_note()
    for block in article.blocks:
        if isinstance(block, TextBlock):
            view.blocks.append(BlockView(block.id, "text", text=block.text))
        else:
            view.blocks.append(block_view_of_image(block))
    return view


def block_view_of_image(block: ImageBlock) -> BlockView:
    return BlockView(
        block.id,
        "image",
        image_index=block.image_index,
        source=block.source,
        description=block.description,
        params=dict(block.params),
        status=block.status,
        error=block.error,
        provenance=dict(block.provenance),
        image=block.image,
        mime=block.mime,
        seconds=block.seconds,
        raw=block.raw,
        sha256=block.image_sha256,
        alt=str(block.provenance.get("alt") or ""),
    )


def image_url(sha256: str | None) -> str | None:
    """Where the browser fetches an image: the content-hash asset route (``studio.app.ui``)."""
    return f"{ASSET_ROUTE}/{sha256}" if sha256 else None


# --- JSON for the API ---------------------------------------------------------------------------


def event_dict(event: Event) -> dict[str, Any]:
    """An event as JSON-able data (images as sha256 + size; the final article carries them)."""
    if isinstance(event, ArticleDone):
        return {
            "type": "done",
            "seconds": round(event.seconds, 3),
            "error": event.error,
            "cut_off": event.cut_off,
            "guard_note": event.article.guard_note(),
        }
    data: dict[str, Any] = {"type": type(event).__name__}
    for key, value in vars(event).items():
        if isinstance(value, bytes):
            data["image_sha256"] = hashlib.sha256(value).hexdigest()
            data["image_bytes"] = len(value)
        elif key == "seconds":
            data[key] = round(float(value), 3)
        else:
            data[key] = value
    return data


def view_dict(view: ArticleView) -> dict[str, Any]:
    """The article as JSON: blocks with their current version; images as data URLs."""
    blocks: list[dict[str, Any]] = []
    for b in view.blocks:
        if b.kind == "text":
            blocks.append({"id": b.id, "kind": "text", "text": b.text, "version": b.version})
            continue
        blocks.append(
            {
                "id": b.id,
                "kind": "image",
                "image_index": b.image_index,
                "source": b.source,
                "description": b.description,
                "params": b.params,
                "status": b.status,
                "error": b.error,
                "provenance": b.provenance,
                "image": image_url(b.sha256) if b.status == BlockStatus.OK else None,
                "image_sha256": b.sha256 if b.status == BlockStatus.OK else None,
                "version": b.version,
                "version_count": b.version_count,
                "accepted": b.accepted,
            }
        )
    return {
        "brief": view.brief,
        "error": view.error,
        "done": view.done,
        "status": view.status,
        "stopped": view.stopped,
        "cut_off": view.cut_off,
        "guard_note": view.guard_note,
        "undo": view.undo_label,  # the article's history: what /undo and /redo would do ("": nothing)
        "redo": view.redo_label,
        "blocks": blocks,
    }
