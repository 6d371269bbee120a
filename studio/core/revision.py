"""Revising a whole article: the writer's messages, and its answer read as a written article.

The answer is hostile model output like any article: it goes through the same lexer, stream
guards, tag parser and validation (``Engine.run``), on a runner with no tools, so a valid tag
becomes an image block that has not run yet (it runs only once the writer accepts its block) and
a bad tag an invalid block with its reason. The blocks are then ``block_diff`` pieces.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from models.base import Message
from models.vocab import WRITTEN_PARAMS, BlockStatus
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.block_diff import Piece, image_piece, text_piece
from studio.core.engine import Engine, EngineOptions
from studio.core.events import ArticleDone, Event, TextDelta, ToolCallInvalid, ToolCallQueued
from studio.core.guards import TextGuard
from studio.core.runner import ToolRunner
from tools.params import SOURCES

REVISE_RULES = (
    "Now you revise an article you wrote. The user gives the whole article and one instruction "
    "for all of it. Answer with the complete revised article in the same format: Markdown text "
    "with the image tags. Copy every image tag you keep exactly as it is, character for "
    "character; write a new tag only for a new or changed picture; leave a tag out to remove its "
    "picture. Change only what the instruction asks for. No preamble and no notes: only the article."
)
NOT_RUN = "not run yet: it runs when you accept its block"
PARTIAL_EVERY_S = 0.25  # at most this often a partial answer while the writer streams
_FENCE_OPEN = re.compile(r"\A\s*```(markdown|md|text|)[ \t]*\n", re.IGNORECASE)
_FENCE_CLOSE = re.compile(r"\n?```\s*\Z")


def revision_messages(system: str, article: Article, instruction: str) -> list[Message]:
    """The writer's own system prompt (it knows the tags) plus the revision rules; the article
    as it stands (current versions) and the instruction."""
    user = f"The article:\n\n{article.to_llmi_text().strip()}\n\nInstruction: {instruction.strip()}"
    return [{"role": "system", "content": f"{system}\n\n{REVISE_RULES}"}, {"role": "user", "content": user}]


def revision_guard(messages: list[Message], article: Article, instruction: str) -> TextGuard:
    """The writer's stream guards, where copying the article and the instruction is not an echo."""
    prompts = [m["content"] for m in messages if isinstance(m["content"], str)]
    return TextGuard(prompts=prompts, brief=f"{article.brief}\n{article.to_llmi_text()}\n{instruction}")


def current_pieces(article: Article) -> list[Piece]:
    """The stored article as diff pieces (an image by the call that ran and the call as written)."""
    out = []
    for b in article.blocks:
        if isinstance(b, TextBlock):
            out.append(text_piece(b.text, b.id))
            continue
        written = b.provenance.get(WRITTEN_PARAMS) if b.provenance else None
        invalid = b.status == BlockStatus.INVALID or b.source is None
        out.append(image_piece(b.to_tag(), b.source, b.description, b.params, block_id=b.id,
                               error=(b.error or "invalid tag") if invalid else None,
                               written=written if isinstance(written, dict) else None))  # fmt: skip
    return out


def _new_image(block: ImageBlock) -> Piece:
    bad = block.status in (BlockStatus.INVALID, BlockStatus.FAILED) or block.source is None
    error = (block.error or "the tag is not valid") if bad else None
    return image_piece(block.raw or block.to_tag(), block.source, block.description, block.params, error=error)


@dataclass(frozen=True)
class RevisionRead:
    """The answer so far as pieces; ``done`` carries the final event (error, cut off, removals)."""

    pieces: list[Piece]
    done: ArticleDone | None = None


def _fold(blocks: dict[str, Piece], order: list[str], event: Event) -> None:
    """A partial answer from the engine's events (the engine's own article is read only at the end)."""
    match event:
        case TextDelta(block_id=key, text=text):
            if key not in blocks:
                order.append(key)
            blocks[key] = text_piece((blocks[key].text if key in blocks else "") + text)
        case ToolCallQueued(block_id=key, source=source, description=description, params=params, raw=raw):
            order.append(key)
            blocks[key] = image_piece(raw, source, description, params)
        case ToolCallInvalid(block_id=key, raw=raw, reason=reason, source=source, description=description):
            order.append(key)
            blocks[key] = image_piece(raw, source, description, {}, error=reason)
        case _:
            pass


def read_revision(
    chunks: Iterable[str],
    article: Article,
    *,
    guard: TextGuard | None = None,
    stop: threading.Event | None = None,
    max_tags: int = 200,
) -> Iterator[RevisionRead]:
    """The writer's answer as pieces: partial ones while it streams (every ``PARTIAL_EVERY_S``
    or at a tag), then the whole answer with its ``ArticleDone``."""
    runner = ToolRunner({}, off_reasons=dict.fromkeys(SOURCES, NOT_RUN))
    engine = Engine(runner, options=EngineOptions(max_concurrent_tools=1, max_tags=max_tags))
    revised = Article(brief=article.brief, user_images=list(article.user_images))
    blocks: dict[str, Piece] = {}
    order: list[str] = []
    last = 0.0
    for event in engine.run(chunks, revised, stop=stop, guard=guard):
        if isinstance(event, ArticleDone):
            final = [text_piece(b.text) if isinstance(b, TextBlock) else _new_image(b) for b in event.article.blocks]
            yield RevisionRead(unwrap_fence(final), event)
            return
        _fold(blocks, order, event)
        now = time.monotonic()
        if isinstance(event, ToolCallQueued | ToolCallInvalid) or now - last >= PARTIAL_EVERY_S:
            last = now
            yield RevisionRead(unwrap_fence([blocks[k] for k in order]))


def unwrap_fence(pieces: list[Piece]) -> list[Piece]:
    """The answer without a code fence around all of it (chat models often send the article as
    a ```markdown block): the fence's opening line and a closing line at the very end go."""
    texts = [i for i, p in enumerate(pieces) if p.kind == "text" and p.text.strip()]
    if not texts or not _FENCE_OPEN.match(pieces[texts[0]].text) or not _FENCE_CLOSE.search(pieces[texts[-1]].text):
        return pieces  # a code block at the start of the article is the article's own
    out = list(pieces)
    out[texts[0]] = text_piece(_FENCE_OPEN.sub("", pieces[texts[0]].text, count=1))
    last = out[texts[-1]]
    out[texts[-1]] = text_piece(_FENCE_CLOSE.sub("", last.text, count=1))
    return out
