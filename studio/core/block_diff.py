"""A revised article against the current one, block by block, and the merge of the blocks a
writer accepts (pure: no store, no model, no gradio).

Both articles are lists of ``Piece`` values: a text block's Markdown, or an image block's call.
``diff_blocks`` aligns them (``difflib`` over the blocks: text compared with its spacing
normalised, an image by its call: source, caption and params) and says for each block whether
it is the ``same``, ``changed`` (text only: a changed image tag is a new image, so its current
picture is never replaced behind the writer's back), ``added`` or ``removed``. ``word_marks``
gives the word-level marks inside a changed text block. ``merge_plan`` turns the accepted change
ids into the steps that make the merged article, ``merged_pieces`` is that article.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["same", "changed", "added", "removed"]
Kind = Literal["text", "image"]
MAX_MARK_TOKENS = 20_000  # longer texts are marked as one deletion and one insertion (the diff is quadratic)
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_FENCE = re.compile(r"^\s*(```|~~~)")
_WORD = re.compile(r"\w+")
PAIR_SIMILARITY = 0.4  # share of words two paragraphs have in common to be one changed paragraph


def call_key(source: str | None, description: str, params: dict[str, Any] | None) -> str:
    """An image call's identity: the same tool, caption (spacing aside) and params."""
    return json.dumps([source or "", " ".join(description.split()), params or {}], sort_keys=True, default=str)


@dataclass(frozen=True)
class Piece:
    """One block of either article as the diff sees it.

    ``text``: a text block's Markdown, or an image block's tag as written. ``keys``: an image's
    identities (``call_key`` of the call that ran and of the call as written, or its raw tag when
    it is invalid). ``block_id``: the stored block (current article only). ``error``: why a new
    tag is invalid (it is shown on its block and it never runs)."""

    kind: Kind
    text: str = ""
    keys: tuple[str, ...] = ()
    block_id: str | None = None
    source: str | None = None
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    part: int = 0  # a paragraph: its number in its text block (1, 2, ...)


def text_piece(text: str, block_id: str | None = None) -> Piece:
    return Piece("text", text, block_id=block_id)


def image_piece(
    tag: str,
    source: str | None,
    description: str,
    params: dict[str, Any] | None,
    *,
    block_id: str | None = None,
    error: str | None = None,
    written: dict[str, Any] | None = None,
) -> Piece:
    """An image block; ``written``: the call as the writer wrote it, when a tool filled it in."""
    if error is not None or source is None:
        keys: tuple[str, ...] = ("raw:" + " ".join(tag.split()),)
    else:
        keys = tuple(dict.fromkeys([call_key(source, description, params)] + ([
            call_key(source, description, written)] if written is not None else [])))  # fmt: skip
    return Piece("image", tag, keys, block_id, source, description, dict(params or {}), error)


@dataclass(frozen=True)
class Change:
    """One block of the diff, in article order. ``old``: the current block (None when added);
    ``new``: the revised block (None when removed)."""

    id: str
    op: Op
    kind: Kind
    old: Piece | None
    new: Piece | None

    @property
    def decidable(self) -> bool:
        return self.op != "same"

    def marks(self) -> list[tuple[str, str]]:
        """Word-level marks of a changed text block (see ``word_marks``); the whole text otherwise."""
        if self.op == "changed" and self.old is not None and self.new is not None:
            return word_marks(self.old.text, self.new.text)
        piece = self.new or self.old
        sign = {"added": "+", "removed": "-"}.get(self.op, "=")
        return [(sign, piece.text)] if piece is not None else []


def _norm(text: str) -> str:
    return " ".join(text.split())


def _key(piece: Piece, aliases: dict[str, str]) -> tuple[str, str]:
    if piece.kind == "text":
        return ("text", _norm(piece.text))
    return ("image", next((aliases[k] for k in piece.keys if k in aliases), piece.keys[0] if piece.keys else ""))


def paragraphs(text: str) -> list[str]:
    """A text block's paragraphs: split at blank lines, never inside a fenced code block."""
    out: list[str] = []
    lines: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        if not line.strip() and not fenced:
            if lines:
                out.append("\n".join(lines))
            lines = []
            continue
        lines.append(line)
    if lines:
        out.append("\n".join(lines))
    return out


def _paragraph_pieces(piece: Piece) -> list[Piece]:
    if piece.kind != "text":
        return [piece]
    return [dataclasses.replace(piece, text=para, part=i) for i, para in enumerate(paragraphs(piece.text), 1)]


def diff_blocks(old: Sequence[Piece], new: Sequence[Piece]) -> list[Change]:
    """Every paragraph and image of both articles once, in the merged order, as same / changed /
    added / removed. Text blocks are compared paragraph by paragraph (``Piece.part``: which
    paragraph of its block), so a new section is added paragraphs, not a changed block."""
    old = [q for p in old for q in _paragraph_pieces(p)]
    new = [q for p in new for q in _paragraph_pieces(p)]
    aliases = {k: p.keys[0] for p in old if p.kind == "image" for k in p.keys}  # a call as written or as ran
    a, b = [_key(p, aliases) for p in old], [_key(p, aliases) for p in new]
    pairs: list[tuple[Op, Piece | None, Piece | None]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs += [("same", o, n) for o, n in zip(old[i1:i2], new[j1:j2], strict=True)]
        elif tag == "delete":
            pairs += [("removed", o, None) for o in old[i1:i2]]
        elif tag == "insert":
            pairs += [("added", None, n) for n in new[j1:j2]]
        else:
            pairs += _pair(list(old[i1:i2]), list(new[j1:j2]))
    out = []
    for number, (op, o, n) in enumerate(pairs, 1):
        kind: Kind = (o or n).kind  # type: ignore[union-attr] # one side is always there
        out.append(Change(f"c{number}", op, kind, o, n))
    return out


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _WORD.findall(a.lower()), _WORD.findall(b.lower()), autojunk=False).ratio()


def _text_pairs(old: list[Piece], new: list[Piece]) -> dict[int, int]:
    """Which old text each new text replaces (new index -> old index), keeping their order: as
    many on both sides, in order; otherwise each old text takes the most similar new text after
    the last one taken (at least ``PAIR_SIMILARITY`` of its words), so an inserted section does
    not pass for a changed paragraph."""
    olds = [i for i, p in enumerate(old) if p.kind == "text"]
    news = [j for j, p in enumerate(new) if p.kind == "text"]
    if len(olds) == len(news):
        return dict(zip(news, olds, strict=True))
    pairs: dict[int, int] = {}
    start = 0
    for i in olds:
        scored = [(_similarity(old[i].text, new[j].text), -j, j) for j in news if j >= start]
        best = max(scored, default=None)
        if best is not None and best[0] >= PAIR_SIMILARITY:
            pairs[best[2]] = i
            start = best[2] + 1
    return pairs


def _pair(old: list[Piece], new: list[Piece]) -> list[tuple[Op, Piece | None, Piece | None]]:
    """A replaced stretch: a new text takes the old text it replaces (changed, see
    ``_text_pairs``); images and what is left over are removed or added, each where it stood."""
    pairs = _text_pairs(old, new)
    out: list[tuple[Op, Piece | None, Piece | None]] = []
    at = 0  # the next old piece not yet placed
    for j, piece in enumerate(new):
        if j in pairs:
            out += [("removed", o, None) for o in old[at : pairs[j]]]
            out.append(("changed", old[pairs[j]], piece))
            at = pairs[j] + 1
            continue
        while piece.kind == "image" and at < len(old) and old[at].kind == "image":
            out.append(("removed", old[at], None))  # a replaced picture: the old one, then the new
            at += 1
        out.append(("added", None, piece))
    out += [("removed", o, None) for o in old[at:]]
    return out


def word_marks(old: str, new: str) -> list[tuple[str, str]]:
    """``(op, text)`` runs from ``old`` to ``new`` word by word: ``=`` kept, ``-`` deleted, ``+``
    inserted (spaces and punctuation are tokens of their own, so nothing is lost)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) + len(b) > MAX_MARK_TOKENS:
        return [("-", old), ("+", new)]
    runs: list[tuple[str, str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if runs and runs[-1][0] == op:
            runs[-1] = (op, runs[-1][1] + text)
        else:
            runs.append((op, text))

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            add("=", "".join(a[i1:i2]))
        if tag in ("delete", "replace"):
            add("-", "".join(a[i1:i2]))
        if tag in ("insert", "replace"):
            add("+", "".join(b[j1:j2]))
    return runs


# --- merging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One change to the stored article.

    ``set_text``: the block's new paragraphs (``text``, joined by blank lines); ``delete``: the
    block goes (all its paragraphs, or its image, were removed); ``insert_text`` /
    ``insert_image``: a new block (``text`` / ``piece``) after ``after``: ``("block", id)`` a
    stored block, ``("change", id)`` the block an earlier step inserted, None at the start.
    ``changes``: the change ids it carries out."""

    op: Literal["set_text", "insert_text", "insert_image", "delete"]
    changes: tuple[str, ...]
    block_id: str | None = None
    text: str = ""
    piece: Piece | None = None
    after: tuple[str, str] | None = None

    @property
    def key(self) -> str:
        """The id an inserted block is known by until it is stored (its first change)."""
        return self.changes[0]


class UnknownChange(ValueError):
    """An accepted id that is not a change of this revision (the message lists the valid ones)."""


def check_accepted(changes: Sequence[Change], accepted: Collection[str]) -> set[str]:
    valid = [c.id for c in changes if c.decidable]
    unknown = sorted(set(accepted) - set(valid))
    if unknown:
        raise UnknownChange(
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a change of this revision; "
            f"the changes are {', '.join(valid) or 'none'}"
        )
    return set(accepted)


@dataclass
class _Slot:
    """One piece of the merged article and the block it belongs to: ``("block", id)`` a stored
    block, ``("new", change id)`` a block to insert."""

    owner: tuple[str, str]
    piece: Piece
    change: str


def _slots(changes: Sequence[Change], chosen: set[str]) -> tuple[list[_Slot], list[str]]:
    """The merged article as slots (new paragraphs joined to the text block before them, else to
    the one right after them, else a new block), and the stored images removed."""
    slots: list[_Slot] = []
    removed_images: list[str] = []
    for c in changes:
        take = c.id in chosen
        if c.op == "removed" and take:
            if c.kind == "image" and c.old is not None and c.old.block_id:
                removed_images.append(c.old.block_id)
            continue
        piece = c.new if (c.op == "added" or (c.op == "changed" and take)) else c.old
        if piece is None or (c.op == "added" and not take):
            continue
        if c.old is not None and c.old.block_id is not None:
            slots.append(_Slot(("block", c.old.block_id), piece, c.id))
        else:
            slots.append(_Slot(("new", c.id), piece, c.id))
    for i, slot in enumerate(slots):  # a new paragraph joins a text block next to it
        if slot.owner[0] != "new" or slot.piece.kind != "text":
            continue
        before = slots[i - 1] if i else None
        after = slots[i + 1] if i + 1 < len(slots) else None
        if before is not None and before.piece.kind == "text":
            slot.owner = before.owner
        elif after is not None and after.piece.kind == "text" and after.owner[0] == "block":
            slot.owner = after.owner
    return slots, removed_images


def block_texts(changes: Sequence[Change], accepted: Collection[str]) -> dict[str, str | None]:
    """Each stored text block's paragraphs after the merge, joined (None: all of them removed)."""
    slots, _ = _slots(changes, check_accepted(changes, accepted))
    out: dict[str, str | None] = {}
    for c in changes:
        if c.kind == "text" and c.old is not None and c.old.block_id is not None:
            out.setdefault(c.old.block_id, None)
    for slot in slots:
        if slot.owner[0] == "block" and slot.piece.kind == "text":
            out[slot.owner[1]] = "\n\n".join(p for p in (out[slot.owner[1]], slot.piece.text.strip()) if p)
    return out


def merge_plan(changes: Sequence[Change], accepted: Collection[str]) -> list[Step]:
    """The steps that turn the current article into the merged one: accepted changes applied,
    the rest left as they are. Unchanged blocks have no step (an unchanged image keeps its
    picture); inserts come in article order before the deletes (an insert may follow a block
    that goes)."""
    chosen = check_accepted(changes, accepted)
    slots, removed_images = _slots(changes, chosen)
    original = block_texts(changes, [])
    merged = block_texts(changes, chosen)
    touched: dict[str, list[str]] = {}
    for c in changes:
        if c.id in chosen and c.old is not None and c.old.block_id is not None:
            touched.setdefault(c.old.block_id, []).append(c.id)
    for slot in slots:
        if slot.change in chosen and slot.owner[0] == "block" and slot.change not in touched.get(slot.owner[1], []):
            touched.setdefault(slot.owner[1], []).append(slot.change)  # a new paragraph joined to it
    steps: list[Step] = []
    for block_id, text in merged.items():
        if block_id in touched and text is not None and text != original[block_id]:
            steps.append(Step("set_text", tuple(touched[block_id]), block_id=block_id, text=text))
    anchor: tuple[str, str] | None = None
    for i, slot in enumerate(slots):
        kind, key = slot.owner
        if kind == "block":
            anchor = slot.owner
        elif slot.piece.kind == "image":
            steps.append(Step("insert_image", (slot.change,), piece=slot.piece, after=anchor))
            anchor = ("change", slot.change)
        elif not (i and slots[i - 1].owner == slot.owner):  # the first paragraph of a new text block
            group = [s for s in slots if s.owner == slot.owner]
            text = "\n\n".join(s.piece.text.strip() for s in group)
            steps.append(Step("insert_text", tuple(s.change for s in group), text=text, after=anchor))
            anchor = ("change", key)
    gone = [b for b, text in merged.items() if text is None and original[b] is not None]
    steps += [Step("delete", tuple(touched.get(b, ())), block_id=b) for b in [*gone, *removed_images]]
    return steps


def merged_pieces(changes: Sequence[Change], accepted: Collection[str]) -> list[Piece]:
    """The article after ``merge_plan``: accepted changes in, everything else as it was."""
    return [slot.piece for slot in _slots(changes, check_accepted(changes, accepted))[0]]


def article_text(pieces: Sequence[Piece]) -> str:
    """Pieces back as one LLM-I text (text blocks separated by a blank line from the tags)."""
    return "\n\n".join(p.text.strip() for p in pieces if p.text.strip()) + "\n"
