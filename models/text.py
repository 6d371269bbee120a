"""Text made valid where it enters the studio (model streams, tag payloads, uploads' names,
briefs, pasted responses).

A JSON or Python ``\\ud800`` escape decodes to a lone UTF-16 surrogate, which Python keeps in a
``str`` but no UTF-8 writer accepts: one such character made ``article.json`` an empty file. At
each boundary: a surrogate pair written as two escapes is joined into its character, a lone
surrogate becomes U+FFFD, and NUL (refused by PostgreSQL text columns) becomes U+FFFD too.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def valid_text(text: str) -> str:
    """``text`` as valid Unicode (see the module's docstring); unchanged when it already is."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass re-pairs adjacent high+low surrogates; decoding with
        # "replace" turns every unpaired one into U+FFFD
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def valid_strings(value: Any) -> Any:
    """``valid_text`` on every string inside a decoded JSON/Python literal (keys included)."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_strings(k): valid_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_strings(v) for v in value]
    if isinstance(value, tuple):
        return tuple(valid_strings(v) for v in value)
    if isinstance(value, set):
        return {valid_strings(v) for v in value}
    return value


class StreamText:
    """Valid text out of streamed pieces: a high surrogate at the end of one piece waits for the
    low surrogate that may start the next (a pair split across two server-sent events)."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        self._held = ""
        if text and "\ud800" <= text[-1] <= "\udbff":
            text, self._held = text[:-1], text[-1]
        return valid_text(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return valid_text(held)
