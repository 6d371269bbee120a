"""Drop ``<think>…</think>`` blocks from a text stream, whatever the chunk boundaries.

Reasoning models (Qwen3, DeepSeek-R1 distills, ...) served without vLLM's ``--reasoning-parser``
write their thinking into the answer's content. An article, a chart's code or a judgement must
never contain it, so every chat stream goes through ``ThinkFilter``: text outside the blocks
passes through as it arrives, at most ``len("</think>") - 1`` characters are held back while
they could still be the start of a tag, and the whitespace right after a closing tag goes too
(models put a blank line there). An unclosed block swallows the rest of the answer: that text
was never meant for the reader (the HTTP client turns an answer that was nothing but unfinished
thinking into an error that says so).

A model whose chat template opens the block in the prompt (so the answer starts inside it,
with no ``<think>`` of its own) needs the server's reasoning parser; that text is already
streamed when the orphan ``</think>`` arrives. The orphan tag itself is still dropped.
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``tag`` (0 if none)."""
    for n in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ThinkFilter:
    """Feed chunks in order with ``feed``; call ``flush`` once at the end."""

    def __init__(self) -> None:
        self._pending = ""  # text not yet decided (a possible tag start)
        self._inside = False
        self._strip_leading = False  # just closed a block: drop the whitespace that follows
        self.dropped = 0  # characters of thinking removed (for logs and tests)

    def feed(self, chunk: str) -> str:
        """The part of the stream so far that is safe to pass on."""
        text = self._pending + chunk
        self._pending = ""
        out: list[str] = []
        while text:
            if self._strip_leading:
                stripped = text.lstrip()
                if not stripped:
                    return "".join(out)
                text = stripped
                self._strip_leading = False
            if self._inside:
                end = text.find(CLOSE)
                if end < 0:
                    keep = _partial_suffix(text, CLOSE)
                    self.dropped += len(text) - keep
                    self._pending = text[len(text) - keep :]
                    break
                self.dropped += end
                text = text[end + len(CLOSE) :]
                self._inside = False
                self._strip_leading = True
                continue
            start, orphan = text.find(OPEN), text.find(CLOSE)
            if orphan >= 0 and (start < 0 or orphan < start):  # a close with no open: drop the tag only
                out.append(text[:orphan])
                text = text[orphan + len(CLOSE) :]
                self._strip_leading = True
                continue
            if start < 0:
                keep = max(_partial_suffix(text, OPEN), _partial_suffix(text, CLOSE))
                out.append(text[: len(text) - keep])
                self._pending = text[len(text) - keep :]
                break
            out.append(text[:start])
            text = text[start + len(OPEN) :]
            self._inside = True
        return "".join(out)

    @property
    def inside(self) -> bool:
        """True while a <think> block is open (at the end: the answer stopped while thinking)."""
        return self._inside

    def flush(self) -> str:
        """What is left at the end: a held-back partial tag is plain text; an open block is dropped."""
        rest, self._pending = self._pending, ""
        if self._inside:
            self.dropped += len(rest)
            return ""
        return rest.lstrip() if self._strip_leading else rest
