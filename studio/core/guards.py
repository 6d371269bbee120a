"""Stream guards: one filter on the article's text stream, the same for every backend.

The engine hands every piece of text the model writes (tags never reach it: they pass through
untouched) to a ``TextGuard``, which holds text back only until its sentence ends, then passes or
drops that sentence. What it drops is recorded as a ``Removal`` on the article, never silently.

- repetition: a sentence (or CJK clause, split on 。！？；，) the article already holds. The
  repetition is dropped, the guard says ``looped`` (the engine then closes the model's stream),
  and everything after is dropped too, so the article ends at its last full sentence.
- echo: a sentence holding ``ECHO_WORDS`` consecutive words of the system or user prompt that
  are not words of the brief itself (the brief may be quoted, our instructions may not).
- tool talk: a sentence about the studio's tools, tags or their fields rather than the subject
  ("The chart uses search and diffusion to generate images", "The description is a short
  caption…"). The patterns name our vocabulary in its tool sense only, so "bees search for
  nectar" or "we edited the code" stay (measured in tests/studio/core/test_guards.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from studio.core.article import REPETITION, Removal

ECHO_WORDS = 6  # consecutive prompt words that make a sentence an echo (the figure)
ECHO_CJK_CHARS = 12  # the same for CJK text, counted in characters (a CJK word is 1-3 characters)
MAX_HOLD = 600  # characters held without a sentence end before they are checked as one unit ...
HELD_KEEP = 300  # ... but for the last ones, kept held so that a cycle crossing that cut is caught
HELD_CHECK_EVERY = 60  # characters between periodic checks of held text (measured: a ~1000
# character emoji cycle with no sentence end reached the page across a MAX_HOLD cut)
SUBSTANTIAL_WORDS = 5  # a sentence this long repeated once is a loop ...
SUBSTANTIAL_CJK = 8  # ... or a CJK clause of this many characters
MIN_WORDS = 2  # a shorter one (>= MIN_WORDS) only on its third occurrence
MIN_CJK = 4

# A unit ends after Latin . ! ? ; followed by whitespace, after a CJK terminator or comma, or at a
# line break. The whitespace after the end stays with its unit.
_UNIT_END = re.compile(r"[.!?;…]+[\"'”’»)\]]*\s+|[。！？；，]+[」』”’）]*\s*|\n\s*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_LATIN_WORD = re.compile(r"[^\W\d_]+|\d+")
# a run repeating itself three times inside one unit ("and the tea and the tea and the tea ...")
_PERIODIC = re.compile(r"(.{12,200}?)(?:\s*\1){2,}", re.DOTALL)

# --- tool talk -----------------------------------------------------------------------------------
_TOOL = r"(?:search|diffusion|code|edit)"
_TOOL_TALK = [
    # our tag and its fields by name
    re.compile(r"imgen|img_index", re.IGNORECASE),
    # two tool names together, one of them diffusion ("search and diffusion", "the diffusion and code sources")
    re.compile(
        rf"\bdiffusion\s*(?:,|and|or|&|/)\s*(?:the\s+)?{_TOOL}\b|\b{_TOOL}\s*(?:,|and|or|&|/)\s*diffusion\b", re.I
    ),
    # a tool name as a source or tool ("the code source", "the diffusion tool", "source: search")
    re.compile(rf"\b{_TOOL}\s+sources?\b|\bdiffusion\s+tools?\b", re.IGNORECASE),
    re.compile(rf"\b(?:source|tool)s?\s*(?:is|was|:|=)\s*['\"`]?{_TOOL}\b", re.IGNORECASE),
    re.compile(rf"\b(?:using|uses|used|use|with|via|by|from)\s+(?:the\s+)?`{_TOOL}`", re.IGNORECASE),
    # the tag's fields, talked about as fields
    re.compile(r"\bthe\s+(?:description|caption|params|parameters)\s+(?:is|are|was|should|must|says|field)\b", re.I),
    re.compile(r"\b(?:description|params|caption)\s+(?:field|key|slot|string)s?\b", re.IGNORECASE),
    re.compile(r"\b(?:this|that|the|each)\s+one\s+(?:picture|image)\b", re.IGNORECASE),
    re.compile(
        r"\b(?:chart|image|picture|description|caption|tag|params)\s+(?:is|was)\s+(?:an?\s+)?empty\s+string\b", re.I
    ),
    re.compile(r"\bslots?\s+to\s+fill\b|\bangle\s+brackets?\b", re.IGNORECASE),
]
# Words that are tool talk only together ("image tag" alone is HTML; with "description" it is ours).
_TAG_WORDS = re.compile(r"\b(?:image|picture|chart|placeholder)\s+tags?\b|\bplaceholders?\b", re.IGNORECASE)
_FIELD_WORDS = re.compile(
    r"\b(?:source|description|params|caption|tool|tag)s?\b.{0,60}\b(?:fill|filled|fills|written|becomes|turned)\b"
    r"|\b(?:description|params|caption|source)s?\b",
    re.IGNORECASE,
)


def tool_talk(sentence: str) -> str | None:
    """The pattern a sentence matches when it talks about the studio's tools, tags or fields."""
    for pattern in _TOOL_TALK:
        found = pattern.search(sentence)
        if found:
            return found.group(0).strip()
    tag = _TAG_WORDS.search(sentence)
    if tag and _FIELD_WORDS.search(sentence):
        return tag.group(0).strip()
    return None


# --- words and n-grams ---------------------------------------------------------------------------
def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _latin_words(text: str) -> list[str]:
    return _LATIN_WORD.findall(_CJK.sub(" ", _norm(text)))


def _cjk_chars(text: str) -> str:
    return "".join(_CJK.findall(_norm(text)))


def _grams(items: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(items[i : i + n]) for i in range(len(items) - n + 1)}


def _echo_grams(prompts: Iterable[str], brief: str) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """(word n-grams, CJK character n-grams) of the prompts that are not in the brief."""
    words: set[tuple[str, ...]] = set()
    chars: set[tuple[str, ...]] = set()
    brief = brief.strip()
    for prompt in prompts:
        for part in prompt.split(brief) if brief else [prompt]:  # the brief's own text is no echo
            for line in part.splitlines():
                words |= _grams(_latin_words(line), ECHO_WORDS)
                chars |= _grams(list(_cjk_chars(line)), ECHO_CJK_CHARS)
    words -= _grams(_latin_words(brief), ECHO_WORDS)
    chars -= _grams(list(_cjk_chars(brief)), ECHO_CJK_CHARS)
    return words, chars


def _key(unit: str) -> tuple[str, int, int]:
    """(comparison key, Latin words, CJK characters) of a unit: case, punctuation and markup ignored."""
    norm = _norm(unit)
    key = " ".join(_WORD.findall(norm))
    return key, len(_latin_words(norm)), len(_cjk_chars(norm))


def _structural(unit: str) -> bool:
    """Headings, table rows, rules and fences: repeated by design, never a loop on their own."""
    line = unit.strip()
    return line.startswith(("#", "|", "```", "---", "***", "===")) or not line


class TextGuard:
    """Feed text pieces, get the text to show now. One guard per article stream; not thread-safe."""

    def __init__(self, *, prompts: Sequence[str] = (), brief: str = "", written: str = "") -> None:
        """prompts: the system and user messages as sent; brief: the user's brief (its words may be
        repeated); written: the article's text so far (a continuation must not repeat it either)."""
        self._echo_words, self._echo_chars = _echo_grams(prompts, brief)
        self._seen: dict[str, int] = {}
        self._held = ""  # text not yet ending in a unit end
        self._held_checked = 0  # the held length at the last periodic check (_held_loops)
        self._pending = ""  # passed units (headings) that wait for the next unit's verdict
        self._removals: list[Removal] = []
        self._in_code = False  # inside a fenced code block: its lines are code, not sentences
        self._break = ""  # the paragraph end of a looping sentence (a heading given back follows it)
        self.looped = False
        for unit in self._units(written, final=True)[0]:
            self._remember(unit)

    # --- the stream ------------------------------------------------------------------------------
    def feed(self, text: str) -> str:
        """Text the model wrote (outside tags): what may be shown now."""
        if self.looped:
            return ""
        self._held += text
        units, self._held = self._units(self._held, final=False)
        out = self._judge(units)
        if self.looped:
            return out
        if self._held_loops():  # a cycle in text with no sentence end: removed before it shows
            held, self._held = self._held, ""
            out += self._judge([held])
        elif len(self._held) > MAX_HOLD:  # no sentence end for long: all but its end is one unit
            cut = len(self._held) - HELD_KEEP
            unit, self._held = self._held[:cut], self._held[cut:]
            out += self._judge([unit])
        return out

    def _held_loops(self) -> bool:
        """The held text already repeats a phrase three times (checked every HELD_CHECK_EVERY
        characters, so an emoji or symbol cycle is judged before it reaches the page)."""
        if len(self._held) < self._held_checked:
            self._held_checked = 0
        if self._in_code or len(self._held) - self._held_checked < HELD_CHECK_EVERY:
            return False
        self._held_checked = len(self._held)
        return _PERIODIC.search(_norm(self._held)) is not None

    def boundary(self) -> str:
        """A tag comes next: the held text is a whole unit (and a heading before a tag stays)."""
        return self.close()

    def close(self) -> str:
        """End of the stream: judge what is held and release it."""
        if self.looped:
            self._held = ""
            return ""
        held, self._held = self._held, ""
        out = self._judge(self._units(held, final=True)[0])
        if not self.looped:
            out, self._pending = out + self._pending, ""
        return out

    def resume(self, *, keep_headings: bool = False) -> str:
        """Go on after a loop (the writer moved on to a new section): what was held is dropped,
        what was seen is remembered, so the new part may not repeat it either.

        ``keep_headings``: the headings held when the loop came were the studio's (an outline's),
        not the model's, so they are given back (returned) instead of being dropped with it, after
        the paragraph end the looping sentence carried (the heading then starts its own line)."""
        pending = self._pending if keep_headings else ""
        ended, self._break = (self._break if keep_headings else ""), ""
        self.looped = False
        self._held = self._pending = ""
        return ended + "".join(u for u in self._units(pending, final=True)[0] if u.lstrip().startswith("#"))

    def take_removals(self) -> list[Removal]:
        """What was removed since the last call (the engine records it on the article)."""
        out, self._removals = self._removals, []
        return out

    # --- units -----------------------------------------------------------------------------------
    @staticmethod
    def _units(text: str, *, final: bool) -> tuple[list[str], str]:
        """Complete units of ``text`` and the rest (``final``: the rest is a unit too)."""
        units, start = [], 0
        for end in _UNIT_END.finditer(text):
            if end.end() == len(text) and not final and not re.search(r"[。！？；，\n]", end.group(0)):
                break  # ". " at the very end: the next chunk may continue the whitespace (or "3. 5")
            units.append(text[start : end.end()])
            start = end.end()
        rest = text[start:]
        if final and rest:
            units.append(rest)
            rest = ""
        return units, rest

    def _judge(self, units: list[str]) -> str:
        out: list[str] = []
        for unit in units:
            if self.looped:
                break
            if unit.lstrip().startswith("```"):
                self._in_code = not self._in_code
            verdict = None if self._in_code else self._verdict(unit)
            if verdict is None:
                # a heading waits for the unit after it: a loop drops both (before any sentence no
                # loop can follow, so an article's title shows at once)
                if _structural(unit) and (self._seen or self._pending):
                    self._pending += unit
                    continue
                out.append(self._pending + unit)
                self._pending = ""
                self._remember(unit)
                continue
            kind, reason = verdict
            self._removals.append(Removal(kind, unit.strip(), reason))
            if kind == REPETITION:
                self.looped = True  # the held headings are not shown now: resume() decides
                self._break = "\n\n" if "\n" in unit[len(unit.rstrip()) :] else ""  # (ditto its paragraph end)
                break
            tail = unit[len(unit.rstrip()) :]
            if "\n" in tail:  # keep the paragraph break a dropped sentence ended
                out.append(self._pending + tail)
                self._pending = ""
        return "".join(out)

    def _remember(self, unit: str) -> None:
        key = _key(unit)[0]
        if key and not self._in_code and not _structural(unit):
            self._seen[key] = self._seen.get(key, 0) + 1

    def _verdict(self, unit: str) -> tuple[str, str] | None:
        if not unit.strip() or _structural(unit):
            return None
        key, words, cjk = _key(unit)
        seen = self._seen.get(key, 0)
        substantial = words >= SUBSTANTIAL_WORDS or cjk >= SUBSTANTIAL_CJK
        some = words >= MIN_WORDS or cjk >= MIN_CJK
        if key and ((seen >= 1 and substantial) or (seen >= 2 and some)):
            return REPETITION, f"repeats an earlier sentence ({seen + 1} times)"
        if len(unit) >= 36 and _PERIODIC.search(_norm(unit)):
            return REPETITION, "repeats a phrase over and over"
        talk = tool_talk(unit)
        if talk:
            return "tool_talk", f"talks about the studio's tools or tags ({talk!r})"
        echo = self._echo(unit)
        if echo:
            return "echo", f"repeats the prompt's words ({echo!r})"
        return None

    def _echo(self, unit: str) -> str | None:
        words = _latin_words(unit)
        for gram in _grams(words, ECHO_WORDS):
            if gram in self._echo_words:
                return " ".join(gram)
        chars = list(_cjk_chars(unit))
        for gram in _grams(chars, ECHO_CJK_CHARS):
            if gram in self._echo_chars:
                return "".join(gram)
        return None
