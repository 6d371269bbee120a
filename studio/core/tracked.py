"""A suggestion as tracked changes: a word-level diff of a selection against its suggested text.

``tracked_changes(old, new)`` cuts both texts into words, spaces and punctuation and lists the
runs they share (``same``) and the runs that differ (``change``: the words struck out and the
words put in). Changes separated only by spaces are one change, so "the big dog" -> "a small
cat" is one decision, not three. ``apply_changes(segments, accepted)`` puts the text back
together with only the accepted changes: all of them give the suggestion, none the selection,
character for character (spaces included), so what is stored is exactly what was shown.

While the suggestion still streams (``streaming=True``) the selection's words after the last
shared run are ``pending``: shown as not yet decided, neither kept nor struck out.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

# words (with inner apostrophes), runs of spaces, single punctuation marks: a diff at this grain
# keeps spaces exact, so accepting every change gives the suggestion back byte for byte
_TOKEN = re.compile(r"\s+|\w+(?:['’]\w+)*|[^\w\s]")

SegmentKind = Literal["same", "change", "pending"]


@dataclass(frozen=True)
class Segment:
    """One run of the tracked change. ``same``: old == new; ``change``: ``old`` struck out and
    ``new`` put in (either may be empty); ``pending``: selection words the stream has not reached."""

    kind: SegmentKind
    old: str
    new: str
    id: str = ""  # "c1", "c2", ... for changes (what a decision names)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "old": self.old, "new": self.new, "id": self.id}


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def tracked_changes(old: str, new: str, *, streaming: bool = False) -> list[Segment]:
    """The selection ``old`` against the suggestion ``new`` as same / change runs (see module)."""
    a, b = tokens(old), tokens(new)
    runs: list[tuple[str, str, str]] = []  # (kind, old, new)
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    pending = ""
    if streaming:  # the suggestion so far: what follows its last shared run is not decided yet
        last_equal = max((k for k, op in enumerate(opcodes) if op[0] == "equal"), default=-1)
        tail = opcodes[last_equal + 1 :]
        opcodes = opcodes[: last_equal + 1]
        if tail:
            i1, j1 = tail[0][1], tail[0][3]
            pending = "".join(a[i1:])
            if b[j1:]:
                opcodes.append(("insert", i1, i1, j1, len(b)))
    for op, i1, i2, j1, j2 in opcodes:
        runs.append(("same" if op == "equal" else "change", "".join(a[i1:i2]), "".join(b[j1:j2])))
    merged = _merge(_slide(runs))
    out: list[Segment] = []
    n = 0
    for kind, o, w in merged:
        if kind == "change":
            n += 1
            out.append(Segment("change", o, w, f"c{n}"))
        else:
            out.append(Segment("same", o, w))
    if pending:
        out.append(Segment("pending", pending, ""))
    return out


def _slide(runs: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Move a pure deletion or insertion past a space it starts with when the next shared run
    starts with the same space (" quick brown" -> "quick brown "): a change then starts at a word."""
    out = list(runs)
    for k in range(len(out) - 1):
        kind, o, w = out[k]
        side = o or w
        nxt = out[k + 1]
        if kind != "change" or (o and w) or nxt[0] != "same":
            continue
        space = re.match(r"\s+", side)
        if not space or not nxt[1].startswith(space.group()):
            continue
        ws = space.group()
        moved = side[len(ws) :] + ws
        out[k] = ("change", moved if o else "", moved if w else "")
        out[k + 1] = ("same", nxt[1][len(ws) :], nxt[2][len(ws) :])
        if k and out[k - 1][0] == "same":
            out[k - 1] = ("same", out[k - 1][1] + ws, out[k - 1][2] + ws)
        else:
            out.insert(k, ("same", ws, ws))
    return [r for r in out if r[0] != "same" or r[1]]


def _merge(runs: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Join changes that only spaces separate (the spaces go to both sides of the one change)."""
    out: list[tuple[str, str, str]] = []
    for k, run in enumerate(runs):
        kind, o, w = run
        between = kind == "same" and not o.strip() and 0 < k < len(runs) - 1 and runs[k + 1][0] == "change"
        if out and out[-1][0] == "change" and (kind == "change" or between):
            _, po, pw = out.pop()
            out.append(("change", po + o, pw + w))
        else:
            out.append(run)
    return out


def apply_changes(segments: list[Segment], accepted: Collection[str]) -> str:
    """The selection with only the ``accepted`` changes (by id) applied."""
    parts = []
    for s in segments:
        if s.kind == "pending":
            raise ValueError("the suggestion is still being written: wait for it to finish")
        parts.append(s.new if s.kind == "change" and s.id in accepted else s.old)
    return "".join(parts)


def change_ids(segments: list[Segment]) -> list[str]:
    return [s.id for s in segments if s.kind == "change"]
