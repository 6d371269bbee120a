"""The article: ordered text and image blocks with stable ids.

An image block keeps its call (source, description, params, the raw tag), its result
(image bytes, provenance), a status and the error reason. Blocks are mutated only by the
engine; consumers read them through events or ``Article.to_dict``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from models.errors import NotFound
from models.vocab import SOURCES, BlockStatus
from studio.core.protocol import InvalidTag, ParsedTag, ToolCall, format_tag

CONTEXT_CHARS = 1500  # how much text either side of a block its writers see

REPETITION = "repetition"  # the kinds of text the stream guards remove (studio.core.guards)
REMOVAL_KINDS = (REPETITION, "echo", "tool_talk")
REPETITION_NOTE = "repetition removed: the model began repeating itself, so the article ends at its last full sentence"
# An outlined article (studio.core.outline) ends only the looping section and goes on with the next.
SECTION_ENDED = "; that section ends at its last full sentence and the next one begins"
# ... unless nothing of it was kept yet: then the same section is asked for once more.
SECTION_RETRIED = "; that section had no full sentence yet, so it was asked for once more"
# An article that owed pictures when it looped (studio.core.owed) gets them after its last sentence.
OWED_PICTURES = "; the pictures the brief asks for that were not written yet follow it"
OWED_PICTURES_NOTE = "; the pictures the brief asks for follow it"
SECTION_REPETITION_NOTE = "repetition removed: a section began repeating itself, so it ends at its last full sentence"


@dataclass(frozen=True)
class Removal:
    """Text a stream guard kept out of the article, and why (never removed silently)."""

    kind: str  # one of REMOVAL_KINDS
    text: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: object) -> Removal | None:
        """A stored removal (article.json, the store); None for anything malformed."""
        if not isinstance(data, dict) or data.get("kind") not in REMOVAL_KINDS:
            return None
        return cls(str(data["kind"]), str(data.get("text", ""))[:2000], str(data.get("reason", ""))[:500])


@dataclass
class TextBlock:
    id: str
    text: str = ""
    kind: Literal["text"] = "text"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "text", "text": self.text}


@dataclass
class ImageBlock:
    id: str
    image_index: int  # position in the img_index list (user images first)
    source: str | None
    description: str
    params: dict[str, Any]
    raw: str
    status: BlockStatus = BlockStatus.QUEUED
    error: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    image: bytes | None = None
    mime: str = "image/png"
    seconds: float = 0.0
    kind: Literal["image"] = "image"

    @classmethod
    def from_tag(cls, block_id: str, image_index: int, tag: ParsedTag) -> ImageBlock:
        if isinstance(tag, ToolCall):
            return cls(block_id, image_index, tag.source, tag.description, tag.params_dict(), tag.raw)
        assert isinstance(tag, InvalidTag)
        return cls(
            block_id,
            image_index,
            tag.source,
            tag.description,
            {},
            tag.raw,
            status=BlockStatus.INVALID,
            error=tag.reason,
        )

    @property
    def image_sha256(self) -> str | None:
        return hashlib.sha256(self.image).hexdigest() if self.image else None

    def to_tag(self) -> str:
        """The block as an LLM-I tag (the raw text where the tag was invalid)."""
        if self.status == BlockStatus.INVALID or self.source is None:
            return self.raw
        return format_tag(self.source, self.description, self.params)

    def data_url(self) -> str | None:
        if not self.image:
            return None
        return f"data:{self.mime};base64,{base64.b64encode(self.image).decode('ascii')}"

    def to_dict(self, image_path: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "image",
            "image_index": self.image_index,
            "source": self.source,
            "description": self.description,
            "params": self.params,
            "status": self.status,
            "error": self.error,
            "provenance": self.provenance,
            "seconds": round(self.seconds, 3),
            "image": image_path,
            "image_sha256": self.image_sha256,
            "mime": self.mime if self.image else None,
            "raw": self.raw,
        }


Block = TextBlock | ImageBlock


def stored_removals(data: object) -> list[Removal]:
    """The removals kept in article.json or the store (malformed entries are skipped)."""
    items = data if isinstance(data, list) else []
    return [r for r in (Removal.from_dict(item) for item in items) if r is not None]


@dataclass
class Article:
    brief: str = ""
    user_images: list[bytes] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    error: str | None = None  # set when the model stream itself broke; blocks stay
    # The model stopped at its token limit (finish_reason "length") after any continuations:
    # the article may end mid-sentence. Said in article.json, the CLI, the store and the UI.
    cut_off: bool = False
    continuations: int = 0  # continuation requests made after token-limit stops
    # What the stream guards kept out (studio.core.guards): a repetition (the model was stopped and
    # the article ends at its last full sentence), prompt echoes, talk about the tools.
    removed: list[Removal] = field(default_factory=list)
    _next_id: int = 0

    @property
    def repetition_removed(self) -> bool:
        return any(r.kind == REPETITION for r in self.removed)

    def guard_note(self) -> str:
        """The article's visible note on what the guards removed ("" when nothing)."""
        loops = [r for r in self.removed if r.kind == REPETITION]
        redirected = (SECTION_ENDED, SECTION_RETRIED)  # the writer went on after these loops
        ended = loops and not all(r.reason.endswith(redirected) for r in loops)  # the last one stopped the model
        owed = any(r.reason.endswith(OWED_PICTURES) for r in loops)
        notes = [REPETITION_NOTE + (OWED_PICTURES_NOTE if owed else "")] if ended else []
        notes = notes or ([SECTION_REPETITION_NOTE] if loops else [])
        others = sum(r.kind != REPETITION for r in self.removed)
        if others:
            notes.append(f"{others} sentence{'s' if others != 1 else ''} about the tools or echoing the prompt removed")
        return "; ".join(notes)

    def new_id(self) -> str:
        self._next_id += 1
        return f"b{self._next_id}"

    def add_text(self) -> TextBlock:
        block = TextBlock(self.new_id())
        self.blocks.append(block)
        return block

    def add_image(self, tag: ParsedTag) -> ImageBlock:
        index = len(self.user_images) + len(self.image_blocks())
        block = ImageBlock.from_tag(self.new_id(), index, tag)
        self.blocks.append(block)
        return block

    def block(self, block_id: str) -> Block:
        for block in self.blocks:
            if block.id == block_id:
                return block
        raise NotFound(f"block {block_id} not found")

    def image_blocks(self) -> list[ImageBlock]:
        return [b for b in self.blocks if isinstance(b, ImageBlock)]

    def image_at(self, index: int) -> ImageBlock | None:
        """The generated image block at a global img_index (None for user images)."""
        offset = index - len(self.user_images)
        images = self.image_blocks()
        return images[offset] if 0 <= offset < len(images) else None

    def parent_image(self, index: int) -> tuple[bytes | None, str | None]:
        """The image an edit at ``index`` changes, or (None, why there is none): the one parent
        lookup the engine and regeneration share (the article's current images)."""
        if 0 <= index < len(self.user_images):
            return self.user_images[index], None
        parent = self.image_at(index)
        if parent is None:
            return None, f"there is no image at index {index}"
        if parent.status != BlockStatus.OK or not parent.image:
            return None, f"the image to edit (index {index}) has no image: {parent.error or parent.status}"
        return parent.image, None

    def text_around(self, block_id: str, chars: int = CONTEXT_CHARS) -> tuple[str, str]:
        """The text before and after a block (current versions), the ``chars`` nearest it on each
        side: the one context window the chart writer, regeneration and quality mode share."""
        position = [b.id for b in self.blocks].index(block_id)
        before = "".join(b.text for b in self.blocks[:position] if isinstance(b, TextBlock))
        after = "".join(b.text for b in self.blocks[position + 1 :] if isinstance(b, TextBlock))
        return (before[-chars:] if chars else ""), after[:chars]

    def to_llmi_text(self) -> str:
        """The article in the LLM-I response format (text with tags)."""
        return "".join(b.text if isinstance(b, TextBlock) else b.to_tag() for b in self.blocks)

    def source_stats(self) -> dict[str, dict[str, float]]:
        """Per source {total, success, success_rate, placeholder}, as the reference reports, except
        that placeholders (never run) are left out of the success rate and counted apart."""
        stats: dict[str, dict[str, float]] = {}
        for source in SOURCES:
            blocks = [b for b in self.image_blocks() if b.source == source]
            ok = sum(b.status == BlockStatus.OK for b in blocks)
            waiting = sum(b.status == BlockStatus.PLACEHOLDER for b in blocks)
            run = len(blocks) - waiting  # a placeholder was never run: it is no execution failure
            stats[str(source)] = {
                "total": len(blocks),
                "success": ok,
                "success_rate": ok / run if run else 1.0,
                "placeholder": waiting,
            }
        return stats

    def to_dict(self, image_paths: dict[str, str] | None = None) -> dict[str, Any]:
        paths = image_paths or {}
        return {
            "brief": self.brief,
            "error": self.error,
            "cut_off": self.cut_off,
            "continuations": self.continuations,
            "repetition_removed": self.repetition_removed,
            "removed": [r.to_dict() for r in self.removed],
            "blocks": [b.to_dict() if isinstance(b, TextBlock) else b.to_dict(paths.get(b.id)) for b in self.blocks],
            "stats": self.source_stats(),
        }
