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

    @property
    def blank(self) -> bool:
        return self.kind == "text" and not self.text.strip()


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


def diff_blocks(old: Sequence[Piece], new: Sequence[Piece]) -> list[Change]:
    """Every block of both articles once, in the merged order, as same / changed / added /
    removed. Blank text blocks (the spacing between two tags) are left out of both sides."""
    old = [p for p in old if not p.blank]
    new = [p for p in new if not p.blank]
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


def _pair(old: list[Piece], new: list[Piece]) -> list[tuple[Op, Piece | None, Piece | None]]:
    """A replaced stretch: new text blocks take the old text blocks in order (changed); images
    and what is left over are removed or added, each where it stood."""
    out: list[tuple[Op, Piece | None, Piece | None]] = []
    for piece in new:
        if piece.kind == "text" and any(o.kind == "text" for o in old):
            while old[0].kind != "text":
                out.append(("removed", old.pop(0), None))
            out.append(("changed", old.pop(0), piece))
            continue
        while old and old[0].kind == "image" and piece.kind == "image":
            out.append(("removed", old.pop(0), None))
        out.append(("added", None, piece))
    out += [("removed", o, None) for o in old]
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
    """One change to the stored article. ``block_id``: the block set or deleted. ``after``: where
    an inserted block goes: ``("block", id)`` after a stored block, ``("change", id)`` after the
    block an earlier step inserted, None at the start."""

    op: Literal["set_text", "insert_text", "insert_image", "delete"]
    change: str
    piece: Piece
    block_id: str | None = None
    after: tuple[str, str] | None = None


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


def merge_plan(changes: Sequence[Change], accepted: Collection[str]) -> list[Step]:
    """The steps that turn the current article into the merged one: accepted changes applied,
    the rest left as they are. Unchanged image blocks have no step: they keep their images."""
    chosen = check_accepted(changes, accepted)
    steps: list[Step] = []
    anchor: tuple[str, str] | None = None
    for c in changes:
        take = c.id in chosen
        if c.old is not None and c.old.block_id is not None and not (c.op == "removed" and take):
            if c.op == "changed" and take and c.new is not None:
                steps.append(Step("set_text", c.id, c.new, block_id=c.old.block_id))
            anchor = ("block", c.old.block_id)
        elif c.op == "removed" and take and c.old is not None:
            steps.append(Step("delete", c.id, c.old, block_id=c.old.block_id))
        elif c.op == "added" and take and c.new is not None:
            steps.append(Step("insert_text" if c.kind == "text" else "insert_image", c.id, c.new, after=anchor))
            anchor = ("change", c.id)
    return steps


def merged_pieces(changes: Sequence[Change], accepted: Collection[str]) -> list[Piece]:
    """The article after ``merge_plan``: accepted changes in, everything else as it was."""
    chosen = check_accepted(changes, accepted)
    out: list[Piece] = []
    for c in changes:
        take = c.id in chosen
        if c.op == "same" and c.old is not None:
            out.append(c.old)
        elif c.op == "changed":
            out.append((c.new if take else c.old) or c.old)  # type: ignore[arg-type] # both are set
        elif c.op == "removed" and not take and c.old is not None:
            out.append(c.old)
        elif c.op == "added" and take and c.new is not None:
            out.append(c.new)
    return out


def article_text(pieces: Sequence[Piece]) -> str:
    """Pieces back as one LLM-I text (text blocks separated by a blank line from the tags)."""
    return "\n\n".join(p.text.strip() for p in pieces if p.text.strip()) + "\n"
