"""Streaming tag lexer: model chunks in, text pieces and complete tags out.

A tag is emitted the instant its ``</imgen>`` arrives, whatever the chunk boundaries
(a tag may be split at any character). It follows the reference's non-greedy match: the
first ``<imgen>`` opens, the first ``</imgen>`` after it closes. Text that only looks like
the start of a tag (``<imgen`` without ``>``, ``<im`` at a chunk end) is held back just
long enough to decide, then released as text. A tag still open at the end of the stream
comes out as ``Unterminated``. With ``report_open=True`` the lexer also says ``Opened`` the
instant ``<imgen>`` is complete, so a consumer can show that a picture is being planned while
the tag is still being written (its ``Tag`` or ``Unterminated`` follows, always).

Memory is bounded per tag: past ``MAX_TAG_CHARS`` only the tag's start and the last few characters
(to find ``</imgen>``) are kept, and the tag comes out with ``size`` set, for an invalid block.
Each feed scans only the new characters (plus a marker's length), so a long tag costs linear time.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.protocol import CLOSE, MAX_TAG_CHARS, OPEN


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Tag:
    raw: str  # "<imgen>...</imgen>"; only the start when the tag was over MAX_TAG_CHARS
    size: int | None = None  # set (the whole length) when the tag was over MAX_TAG_CHARS


@dataclass(frozen=True)
class Unterminated:
    raw: str  # "<imgen>..." without its closing tag (only the start when it was over the cap)
    size: int | None = None


@dataclass(frozen=True)
class Opened:
    """``<imgen>`` has just been read; the tag's body has not (only with ``report_open``)."""


Piece = Text | Tag | Unterminated | Opened


def _held_prefix_len(buffer: str, marker: str) -> int:
    """Length of the longest suffix of ``buffer`` that is a proper prefix of ``marker``."""
    for size in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if buffer.endswith(marker[:size]):
            return size
    return 0


class TagStreamLexer:
    """Feed chunks, get pieces. Not thread-safe; one lexer per stream."""

    def __init__(self, *, report_open: bool = False) -> None:
        self._report_open = report_open
        self._buffer = ""
        self._in_tag = False
        self._scanned = 0  # in a tag: the buffer before this index holds no CLOSE
        self._head = ""  # an over-long tag's start
        self._dropped = 0  # characters of an over-long tag no longer held

    def feed(self, chunk: str) -> list[Piece]:
        self._buffer += chunk
        pieces: list[Piece] = []
        while True:
            if self._in_tag:
                end = self._buffer.find(CLOSE, max(0, self._scanned - len(CLOSE) + 1))
                if end < 0:
                    self._scanned = len(self._buffer)
                    self._shed()
                    return pieces
                body = self._buffer[: end + len(CLOSE)]
                size = len(OPEN) + self._dropped + len(body)
                if self._dropped or size > MAX_TAG_CHARS:
                    pieces.append(Tag(OPEN + (self._head or body[:MAX_TAG_CHARS]), size))
                else:
                    pieces.append(Tag(OPEN + body))
                self._buffer = self._buffer[end + len(CLOSE) :]
                self._in_tag, self._scanned, self._head, self._dropped = False, 0, "", 0
                continue
            start = self._buffer.find(OPEN)
            if start >= 0:
                if start:
                    pieces.append(Text(self._buffer[:start]))
                self._buffer = self._buffer[start + len(OPEN) :]
                self._in_tag, self._scanned = True, 0
                if self._report_open:
                    pieces.append(Opened())
                continue
            keep = _held_prefix_len(self._buffer, OPEN)
            ready = self._buffer[: len(self._buffer) - keep]
            if ready:
                pieces.append(Text(ready))
            self._buffer = self._buffer[len(ready) :]
            return pieces

    def _shed(self) -> None:
        """Over the cap inside a tag: keep its start once and only a marker's length of its end."""
        if len(OPEN) + self._dropped + len(self._buffer) <= MAX_TAG_CHARS:
            return
        if not self._head:
            self._head = self._buffer[:MAX_TAG_CHARS]
        keep = len(CLOSE) - 1
        cut = len(self._buffer) - keep
        if cut > 0:
            self._dropped += cut
            self._buffer = self._buffer[cut:]
            self._scanned = len(self._buffer)

    def close(self) -> list[Piece]:
        """End of stream: release held text; an open tag becomes Unterminated."""
        rest, self._buffer = self._buffer, ""
        if self._in_tag:
            size = len(OPEN) + self._dropped + len(rest)
            head = self._head
            self._in_tag, self._scanned, self._head, self._dropped = False, 0, "", 0
            if size > MAX_TAG_CHARS:
                return [Unterminated(OPEN + (head or rest[:MAX_TAG_CHARS]), size)]
            return [Unterminated(OPEN + rest)]
        return [Text(rest)] if rest else []


UNTERMINATED_REASON = "the tag was never closed with </imgen> (the model stopped mid-tag, e.g. at its token limit)"
