"""The studio's shared words, declared once: block statuses, article statuses, tool sources and
the title rule. Bottom layer (imports nothing of the studio), so the core, the exporters, the
app and the store all import the same names; ``storage`` may import this module.

The enums are ``StrEnum``s: a member equals its string (``BlockStatus.OK == "ok"``) and is stored
as that string, so the database columns, the migrations, article.json and the templates that
render a status keep their values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any


class BlockStatus(StrEnum):
    """Where an image block stands."""

    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    INVALID = "invalid"
    # not run (its tool is off, or code was asked for a photo); the block keeps the call and the
    # reason, and an upload or a later run fills it
    PLACEHOLDER = "placeholder"


# still on its way: Stop fails these, a studio restart marks them interrupted
IN_FLIGHT: tuple[BlockStatus, ...] = (BlockStatus.QUEUED, BlockStatus.RUNNING)
FINAL_STATUSES: tuple[BlockStatus, ...] = (
    BlockStatus.OK,
    BlockStatus.FAILED,
    BlockStatus.INVALID,
    BlockStatus.PLACEHOLDER,
)
# what a tool call that ran (or was refused to run) ends as: see tools.base.outcome_of
OUTCOMES: tuple[BlockStatus, ...] = (BlockStatus.OK, BlockStatus.FAILED, BlockStatus.PLACEHOLDER)
# attempts without an image: kept beside the current version as a candidate, never shown in its place
NO_IMAGE: tuple[BlockStatus, ...] = (BlockStatus.FAILED, BlockStatus.INVALID, BlockStatus.PLACEHOLDER)


class ArticleStatus(StrEnum):
    """Where an article's writing stands (the store's ``articles.status``)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the model stream broke; the blocks written so far stay
    INTERRUPTED = "interrupted"  # the user stopped it, or the studio stopped while it ran


# not stored: how an article list shows a done article the model ended at its token limit
LISTED_CUT_OFF = "cut off"


def finished_article_status(*, error: str | None, stopped: bool) -> ArticleStatus:
    """How a finished run leaves its article: stopped by the user, broken stream, or done."""
    if stopped:
        return ArticleStatus.INTERRUPTED
    return ArticleStatus.FAILED if error else ArticleStatus.DONE


class Source(StrEnum):
    """The tools a tag may name (the protocol's ``source``); tools.params holds each one's Params."""

    SEARCH = "search"
    DIFFUSION = "diffusion"
    CODE = "code"
    EDIT = "edit"


SOURCES: tuple[Source, ...] = tuple(Source)


def block_status(value: object, default: BlockStatus = BlockStatus.FAILED) -> BlockStatus:
    """A stored or loaded status as the enum; an unknown value (an old or hand-edited file) is
    ``default``."""
    try:
        return BlockStatus(str(value))
    except ValueError:
        return default


# --- the call as the writer wrote it -----------------------------------------------------------

WRITTEN_PARAMS = "written_params"  # provenance key: the params the writer wrote, where a tool filled them in


def note_written_params(
    provenance: Mapping[str, Any] | None, written: Mapping[str, Any] | None, ran: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Provenance that keeps the call as written (``written``) where a tool ran other params
    (``ran``: two-phase charts, whose writer left the code empty), for honest reward data; the
    provenance as given otherwise. The one bookkeeping the recorder and regeneration share."""
    if written is None or not ran or dict(ran) == dict(written):
        return None if provenance is None else dict(provenance)
    return {**(provenance or {}), WRITTEN_PARAMS: dict(written)}


# --- the title rule ------------------------------------------------------------------------------

_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
TITLE_CHARS = 120
BRIEF_TITLE_CHARS = 80
UNTITLED = "Untitled"


def article_title(texts: Iterable[str], brief: str) -> str:
    """An article's title, the one rule for its file name, its page title and its list entry: the
    first Markdown heading of its text blocks, else the first line of its brief, else "Untitled"."""
    for text in texts:
        match = _HEADING_RE.search(text or "")
        if match:
            heading = " ".join(match.group(1).split())
            if heading:
                return heading[:TITLE_CHARS]
    lines = [line for line in brief.splitlines() if line.strip()]
    first = " ".join(lines[0].split()) if lines else ""
    return first[:BRIEF_TITLE_CHARS] or UNTITLED
