"""A block named for people: what the undo history, its buttons and refusals say instead of an id.

Block ids ("b3") are the engine's; a writer never sees them. A text block is named by its kind
and its first words in quotes (``paragraph "Cities build bike lanes, and…"``, ``heading
"Origins"``), an image block by what made it and its caption (``chart "Sales by brand…"``,
``photo "…"``, ``illustration "…"``, ``edited image "…"``, ``your image "…"``). Callers name the
block as it stands when the step starts, so a label stays true after later edits (the history
stores it).

This module lives in the bottom layer because the store (history labels, refusals) and the studio
(refusals) both name blocks; it reads plain values only. The text is untrusted: control and bidi
characters are dropped (they could make a label lie about its order); callers escape for HTML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from models.provenance import origin_of

WORDS = 5  # the first words that name a text block
WIDTH = 36  # at most this many columns inside the quotes (a CJK character takes two)
ELLIPSIS = "…"

# what made an image, as a writer says it (models.provenance.origin_of's origins)
IMAGE_KINDS: dict[str, str] = {
    "chart": "chart",
    "search": "photo",
    "generated": "illustration",
    "edited": "edited image",
    "upload": "your image",
    "url": "your image",
    "": "image",
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # zero-width, bidi
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url), ![alt](url): the text
_EMPHASIS = re.compile(r"\*{1,3}|_{2,3}|`+|~~")
_HEADING = re.compile(r"^#{1,6}(\s|$)")
_LIST = re.compile(r"^([-*+]|\d{1,3}[.)])\s")
_QUOTE = re.compile(r"^>\s?")
_TRAILING = ",;:.!?-–—(\"'“‘«「『（"


def block_name(
    kind: str,
    *,
    text: str | None = None,
    source: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> str:
    """The block as people call it: ``kind`` is the block's ("text" or "image"), the rest its
    version's fields (a text block's ``text``; an image's tool ``source``, ``provenance`` and
    caption ``description``)."""
    if kind == "image":
        return image_name(source, provenance, description)
    return text_name(text or "")


def name_for(block: Any) -> str:
    """A block object that carries its version's fields itself (``studio.core.article``'s
    ``TextBlock`` / ``ImageBlock``)."""
    return block_name(
        getattr(block, "kind", "text"),
        text=getattr(block, "text", None),
        source=getattr(block, "source", None),
        provenance=getattr(block, "provenance", None),
        description=getattr(block, "description", None),
    )


def capitalised(name: str) -> str:
    """A name that starts a sentence (a refusal): ``Paragraph "…" is already the first block``."""
    return name[:1].upper() + name[1:]


def text_name(text: str) -> str:
    """``paragraph "first words…"``, ``heading "…"``, ``list "…"``, ``quote "…"``; an empty text is
    ``empty paragraph``."""
    lines = [line.strip() for line in text.splitlines() if _plain(line)]
    if not lines:
        return "empty paragraph"
    first = lines[0]
    if _HEADING.match(first):  # a heading is named by its own line; what follows is its section
        words = _plain(first.lstrip("#").rstrip("#"))
        return f'heading "{quoted(words)}"' if words else "empty heading"
    kind = "paragraph"
    if _LIST.match(first):
        kind = "list"
    elif _QUOTE.match(first):
        kind = "quote"
    items = (_plain(_LIST.sub("", _QUOTE.sub("", line))) for line in lines)
    body = (", " if kind == "list" else " ").join(item for item in items if item)
    return f'{kind} "{quoted(body)}"' if body.strip() else f"empty {kind}"


def image_name(source: str | None, provenance: Mapping[str, Any] | None, description: str | None) -> str:
    """``chart "caption…"`` and the like; only the kind when there is no caption."""
    kind = IMAGE_KINDS.get(origin_of(source, provenance), "image")
    caption = _plain(description or "")
    return f'{kind} "{quoted(caption)}"' if caption else kind


def quoted(text: str, words: int = WORDS, width: int = WIDTH) -> str:
    """The start of ``text`` to quote: its first ``words`` words, at most ``width`` columns, cut at
    a word where there is one (CJK text has no spaces: it is cut by columns), ``…`` when cut."""
    parts = text.split()
    head = " ".join(parts[:words])
    cut = len(parts) > words
    if _columns(head) > width:
        cut = True
        kept = ""
        for char in head:
            if _columns(kept + char) > width - 1:
                break
            kept += char
        # a cut inside a word goes back to the word's start, unless that leaves almost nothing
        space = kept.rfind(" ")
        head = kept[:space] if space >= width // 3 and not head[len(kept)].isspace() else kept
    if not cut:
        return head
    return head.rstrip().rstrip(_TRAILING).rstrip() + ELLIPSIS


def _plain(text: str) -> str:
    """One line of Markdown as the words a reader sees (links by their text, no emphasis marks)."""
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    text = _LINK.sub(r"\1", text)
    return " ".join(_EMPHASIS.sub("", text).split())


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)
