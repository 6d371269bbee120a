"""Where a selection made on the rendered page lies in a block's Markdown.

The browser selects rendered text ("bold word"); the block is stored as Markdown ("**bold**
word"). ``locate_selection`` projects the Markdown onto the text it renders to (line markers,
emphasis, code ticks, link targets and inline HTML left out, escapes resolved), with each
rendered character's place in the source, finds the selection there with spaces normalised,
and maps it back. ``before`` (the rendered text just before the selection in the same block)
picks the right one of several equal passages. A span that cuts into a link or an emphasis is
widened to the whole construct, so the suggestion replaces balanced Markdown.
"""

from __future__ import annotations

import html
import re
import string

from models.errors import Refused

MAX_SELECTION_CHARS = 4000  # a selection rewrite is a phrase to a few paragraphs; more is a block rewrite

_LINE_MARK = re.compile(r"[ \t]{0,3}(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d{1,9}[.)][ \t]+)")
_LINK = re.compile(r"!?\[([^\]\n]*)\]\(([^)\s]*)(?:[ \t]+\"[^\"\n]*\")?\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>\n]*>")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_INLINE = re.compile(r"(\*\*|__|~~|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


class SelectionNotFound(Refused):
    """The selected text is not (or no longer) in the block: select it again."""


def rendered_text(markdown: str) -> tuple[str, list[int]]:
    """The text ``markdown`` renders to (roughly, but the same for every character the page
    shows) and, per character, its index in ``markdown``."""
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(markdown)
    line_start = True
    while i < n:
        if line_start:
            line_start = False
            while (m := _LINE_MARK.match(markdown, i)) and m.end() > i:
                i = m.end()
            continue
        c = markdown[i]
        if c == "\n":
            line_start = True
        elif c == "\\" and i + 1 < n and markdown[i + 1] in string.punctuation:
            out.append(markdown[i + 1])
            where.append(i + 1)
            i += 2
            continue
        elif c in "*~`" or (c == "_" and not _inside_word(markdown, i)):
            i += 1
            continue
        elif c in "![" and (m := _LINK.match(markdown, i)):
            start = m.start(1)
            for k, ch in enumerate(m.group(1)):
                if ch not in "*~`_":
                    out.append(ch)
                    where.append(start + k)
            i = m.end()
            continue
        elif c == "<" and (m := _HTML_TAG.match(markdown, i)):
            i = m.end()
            continue
        elif c == "&" and (m := _ENTITY.match(markdown, i)) and html.unescape(m.group()) != m.group():
            for ch in html.unescape(m.group()):  # "&amp;" shows as "&"
                out.append(ch)
                where.append(i)
            i = m.end()
            continue
        out.append(c)
        where.append(i)
        i += 1
    return "".join(out), where


def _inside_word(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


def _squeeze(text: str, where: list[int]) -> tuple[str, list[int]]:
    """Runs of white space as one space (each mapped to the run's first character)."""
    out: list[str] = []
    kept: list[int] = []
    for ch, at in zip(text, where, strict=True):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch)
        kept.append(at)
    return "".join(out), kept


def locate_selection(markdown: str, selected: str, before: str = "") -> tuple[int, int]:
    """The (start, end) in ``markdown`` of the rendered ``selected`` text (see the module)."""
    if len(selected) > 4 * MAX_SELECTION_CHARS:  # refused before any work on it
        raise Refused(f"the selection is {len(selected)} characters: select at most {MAX_SELECTION_CHARS}")
    wanted = " ".join(selected.split())
    if not wanted:
        raise SelectionNotFound("select some text first")
    if len(wanted) > MAX_SELECTION_CHARS:
        raise Refused(
            f"the selection is {len(wanted)} characters: select at most {MAX_SELECTION_CHARS}, "
            "or use the paragraph's Rewrite for more"
        )
    plain, where = _squeeze(*rendered_text(markdown))
    starts = [m.start() for m in re.finditer(re.escape(wanted), plain)]
    if not starts:
        raise SelectionNotFound("the selected text is not in this paragraph any more: select it again")
    hint = " ".join(before[-1000:].split())
    at = max(starts, key=lambda p: (_common_tail(plain[:p].rstrip(), hint.rstrip()), -p))
    start, end = where[at], where[at + len(wanted) - 1] + 1
    if markdown[end - 1] == "&" and (entity := _ENTITY.match(markdown, end - 1)):
        end = entity.end()  # the last character shown was an entity: take all of it
    return _whole_constructs(markdown, start, end)


def _common_tail(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _whole_constructs(markdown: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to every link or emphasis it cuts into (it may hold one whole, or lie
    inside one's text, but never take half of its markers)."""
    changed = True
    while changed:
        changed = False
        for pattern, group in ((_LINK, 1), (_INLINE, 2)):
            for m in pattern.finditer(markdown):
                cs, ce, inner_s, inner_e = m.start(), m.end(), m.start(group), m.end(group)
                inside = inner_s <= start and end <= inner_e
                covers = start <= cs and ce <= end
                if inside or covers or end <= cs or start >= ce:
                    continue
                start, end, changed = min(start, cs), max(end, ce), True
    return start, end
