"""Ask about a selection: the instruction, the messages to the writer model and its answer made safe.

The menu's actions are ``PRESETS`` (shorten, expand, simplify, tone, translate, grammar) and
``ask`` (the writer's own words). ``suggestion_messages`` sends the selection with a little of
the text around it (for sense, never to be rewritten) and asks for the new passage only.

The model's answer is hostile (a web page the article quoted can steer it): ``clean_suggestion``
keeps it to one passage in place of the selection. It removes thinking, ``<imgen>`` tags and any
HTML, Markdown images, links to addresses the selection did not have, code fences, a preamble
("Here is the shorter text:"), quotes the selection did not have, headings and paragraph breaks
the selection did not have, an echo of the text after the selection, and cuts what is far longer
than asked for. ``stream_suggestion`` yields the cleaned text so far as the model writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from models.base import ChatBackend, ChatOptions, Message
from models.errors import Cancelled, Refused
from models.text import valid_text

PRESETS: dict[str, str] = {
    "shorten": "Make it shorter. Keep the meaning and the key facts; cut words.",
    "expand": "Make it longer: add a little detail in the same voice. Invent no facts.",
    "simplify": "Make it simpler: plain words, shorter sentences, the same meaning.",
    "tone": "Change its tone: make it {detail}. Keep the meaning.",
    "translate": "Translate it into {detail}.",
    "grammar": "Fix its grammar, spelling and punctuation. Change nothing else.",
    "ask": "{detail}",
}
LABELS = {
    "shorten": "Shorten",
    "expand": "Expand",
    "simplify": "Simplify",
    "tone": "Change tone",
    "translate": "Translate",
    "grammar": "Fix grammar",
    "ask": "Ask…",
}
DEFAULT_DETAIL = {"tone": "warmer and more personal", "translate": "English"}
MAX_DETAIL_CHARS = 500
CONTEXT_CHARS = 400  # text before / after the selection sent for sense

SYSTEM = (
    "You edit one selected passage of an article, as a writing assistant in a document editor. "
    "Answer with the new passage only, ready to replace the selection: no preamble, no comments, "
    "no quotes around it, no code fences, no image tags. Keep the Markdown the passage has (bold, "
    "links); add no headings, lists, images or links of your own. The text around the selection is "
    "there for sense only: do not repeat it."
)

_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_IMGEN = re.compile(r"<imgen>.*?(</imgen>|$)", re.S | re.I)
_HTML = re.compile(r"</?[A-Za-z!][^>]*>|<$|<[A-Za-z/!][^>]*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)?")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_FENCE = re.compile(r"^\s*(```|~~~)[^\n]*\n?|\n?(```|~~~)\s*$")
_PREAMBLE = re.compile(
    r"^\s*(sure|okay|ok|certainly|of course|here(?:'s| is| are)|the (?:new|revised|shorter|longer|simpler|"
    r"corrected|translated|rewritten)|(?:new|revised|rewritten|shortened|expanded|simplified|corrected|"
    r"translated) (?:text|passage|version))[^\n]*?:[ \t]*(\n+|$)",
    re.I,
)
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("«", "»"), ("„", "“"))
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)
# the frame suggestion_messages puts around the selection, echoed back (measured, SmolLM2-135M:
# "...The answer is no. The selection: <<< Bicycle lanes ... >>> This is a new passage...")
_FRAME = re.compile(
    r"<<<|>>>|\b(?:the selection|instruction|text (?:before|after) the selection(?: \(do not rewrite\))?)\s*:"
    r"|answer with the new selection only\.?",
    re.I,
)


@dataclass(frozen=True)
class SuggestRequest:
    """What the writer asked: the preset (``action``) and its detail (the tone, the language, the
    free instruction of ``ask``)."""

    action: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.action not in PRESETS:
            raise Refused(f"unknown suggestion {self.action[:40]!r}: use one of {', '.join(PRESETS)}")
        if self.action == "ask" and not self.detail.strip():
            raise Refused("write what the model should do with the selection (e.g. 'make it warmer')")
        if len(self.detail) > MAX_DETAIL_CHARS:
            raise Refused(f"the instruction is {len(self.detail)} characters: keep it under {MAX_DETAIL_CHARS}")

    @property
    def instruction(self) -> str:
        """The instruction in words, as sent and as recorded with the preference event."""
        detail = " ".join(self.detail.split()) or DEFAULT_DETAIL.get(self.action, "")
        return PRESETS[self.action].format(detail=detail)


def suggestion_messages(selection: str, request: SuggestRequest, before: str = "", after: str = "") -> list[Message]:
    parts = []
    if before.strip():
        parts.append(f"Text before the selection (do not rewrite):\n{before[-CONTEXT_CHARS:]}")
    if after.strip():
        parts.append(f"Text after the selection (do not rewrite):\n{after[:CONTEXT_CHARS]}")
    parts.append(f"The selection:\n<<<\n{selection}\n>>>")
    parts.append(f"Instruction: {request.instruction}\nAnswer with the new selection only.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def max_chars(selection: str, action: str) -> int:
    """The longest suggestion kept: an expansion may triple the selection, anything else double it
    (a translation into a wordier language, a fix that adds words)."""
    return (3 if action == "expand" else 2) * len(selection) + 200


def max_tokens(selection: str, action: str) -> int:
    return max(64, max_chars(selection, action) // 3)


def clean_suggestion(raw: str, selection: str, *, after: str = "", action: str = "ask", final: bool = True) -> str:
    """The model's answer as a safe replacement for ``selection`` (see the module). ``final``:
    the answer is complete (trailing spaces go; while it streams a half tag is held back)."""
    text = valid_text(raw).replace("\r\n", "\n")
    text = _THINK.sub("", text)
    text = _IMGEN.sub("", text)
    text = re.sub(r"</?imgen>?", "", text, flags=re.I)
    text = _HTML.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(lambda m: m.group(0) if m.group(2) and m.group(2) in selection else m.group(1), text)
    text = _FENCE.sub("", text)
    text = "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() and ch != "\ufffd"))
    text = _PREAMBLE.sub("", text, count=1).lstrip()
    if not _HEADING.search(selection):
        text = _HEADING.sub("", text)
    if "\n\n" not in selection.strip():  # one paragraph in, one paragraph out
        text = re.sub(r"\s*\n\s*", " ", text) if final else re.sub(r"[ \t]*\n\s*", " ", text)
    text = re.sub(r"[ \t]{2,}", " ", text)  # the gap a removed tag leaves
    text = _echo_cut(text, after)
    text = _frame_cut(text, selection)
    if final:
        text = _unquote(text.strip(), selection.strip())
    limit = max_chars(selection, action)
    if len(text) > limit:
        cut = text[:limit]
        text = cut[: cut.rfind(" ")] if " " in cut[limit // 2 :] else cut
    return text


def _echo_cut(text: str, after: str) -> str:
    """Cut where the model starts repeating the text after the selection."""
    probe = " ".join(after.split())[:24]
    if len(probe) < 20:
        return text
    at = " ".join(text.split()).find(probe)
    if at <= 0:
        return text
    # map the position in the squeezed text back to the text (spaces were squeezed, nothing else)
    seen = k = 0
    while k < len(text) and seen < at:
        if not (text[k].isspace() and k > 0 and text[k - 1].isspace()):
            seen += 1
        k += 1
    return text[:k].rstrip()


def _frame_cut(text: str, selection: str) -> str:
    """The prompt's frame never reaches the page: an answer followed by an echo of the frame ends
    where the echo begins; a frame around the answer loses its markers and labels."""
    frame = [m for m in _FRAME.finditer(text) if m.group(0).lower() not in selection.lower()]
    if not frame:
        return text
    if text[: frame[0].start()].strip():
        return text[: frame[0].start()].rstrip()
    for m in reversed(frame):
        text = text[: m.start()] + text[m.end() :]
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _unquote(text: str, selection: str) -> str:
    for left, right in _QUOTES:
        wrapped = len(text) > 1 and text.startswith(left) and text.endswith(right)
        if wrapped and not (selection.startswith(left) and selection.endswith(right)):
            return text[len(left) : -len(right)].strip()
    return text


def fit_to_selection(suggestion: str, selection: str) -> str:
    """The suggestion with the selection's own leading and trailing spaces (a selection that
    ended on a space keeps it, so the words around it do not run together)."""
    lead = selection[: len(selection) - len(selection.lstrip())]
    trail = selection[len(selection.rstrip()) :]
    return lead + suggestion.strip() + trail


def stream_suggestion(
    backend: ChatBackend,
    messages: list[Message],
    options: ChatOptions,
    selection: str,
    *,
    after: str,
    action: str,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """The cleaned suggestion so far, once per chunk, and last the whole answer cleaned as final.
    The model stream is closed when the caller stops early or ``cancel`` says so (then
    ``Cancelled`` is raised): the HTTP connection ends, so the server stops writing."""
    chunks = backend.stream(messages, options)
    raw = ""
    try:
        for chunk in chunks:
            if cancel is not None and cancel():
                raise Cancelled("the suggestion was stopped")
            raw += chunk
            yield clean_suggestion(raw, selection, after=after, action=action, final=False)
            if len(raw) > 4 * max_chars(selection, action):  # a model that does not stop
                break
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()
    yield clean_suggestion(raw, selection, after=after, action=action, final=True)
