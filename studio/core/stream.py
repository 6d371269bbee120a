"""Streaming tag lexer: model chunks in, text pieces and complete tags out.

A tag is emitted the instant its ``</imgen>`` arrives, whatever the chunk boundaries
(a tag may be split at any character). It follows the reference's non-greedy match: the
first ``<imgen>`` opens, the first ``</imgen>`` after it closes. Text that only looks like
the start of a tag (``<imgen`` without ``>``, ``<im`` at a chunk end) is held back just
long enough to decide, then released as text. A tag still open at the end of the stream
comes out as ``Unterminated``.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.protocol import CLOSE, OPEN


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Tag:
    raw: str  # "<imgen>...</imgen>"


@dataclass(frozen=True)
class Unterminated:
    raw: str  # "<imgen>..." without its closing tag


Piece = Text | Tag | Unterminated


def _held_prefix_len(buffer: str, marker: str) -> int:
    """Length of the longest suffix of ``buffer`` that is a proper prefix of ``marker``."""
    for size in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if buffer.endswith(marker[:size]):
            return size
    return 0


class TagStreamLexer:
    """Feed chunks, get pieces. Not thread-safe; one lexer per stream."""

    def __init__(self) -> None:
        self._buffer = ""
        self._in_tag = False

    def feed(self, chunk: str) -> list[Piece]:
        self._buffer += chunk
        pieces: list[Piece] = []
        while True:
            if self._in_tag:
                end = self._buffer.find(CLOSE)
                if end < 0:
                    return pieces
                pieces.append(Tag(OPEN + self._buffer[: end + len(CLOSE)]))
                self._buffer = self._buffer[end + len(CLOSE) :]
                self._in_tag = False
                continue
            start = self._buffer.find(OPEN)
            if start >= 0:
                if start:
                    pieces.append(Text(self._buffer[:start]))
                self._buffer = self._buffer[start + len(OPEN) :]
                self._in_tag = True
                continue
            keep = _held_prefix_len(self._buffer, OPEN)
            ready = self._buffer[: len(self._buffer) - keep]
            if ready:
                pieces.append(Text(ready))
            self._buffer = self._buffer[len(ready) :]
            return pieces

    def close(self) -> list[Piece]:
        """End of stream: release held text; an open tag becomes Unterminated."""
        rest, self._buffer = self._buffer, ""
        if self._in_tag:
            self._in_tag = False
            return [Unterminated(OPEN + rest)]
        return [Text(rest)] if rest else []


UNTERMINATED_REASON = "the tag was never closed with </imgen> (the model stopped mid-tag, e.g. at its token limit)"
