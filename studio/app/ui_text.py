"""What the UI shows of user-controlled strings and of failures (no gradio here).

Messages (project, action, connection, progress) are shown as plain text: they land in HTML
components as escaped text, never as Markdown or HTML, so a project name or a remote error body
cannot make the browser fetch anything. Failures become sentences in one place,
``studio.app.failures``.
"""

from __future__ import annotations

import html
import re

from models.errors import Refused

MAX_MESSAGE_CHARS = 2000


def text_html(text: object) -> str:
    """Plain text for an HTML component: escaped, control characters dropped, length capped."""
    value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", "" if text is None else str(text))
    if len(value) > MAX_MESSAGE_CHARS:
        value = value[: MAX_MESSAGE_CHARS - 1] + "…"
    return html.escape(value, quote=False)


def whole_number(value: object, what: str) -> int:
    """A user-typed id or version as an int, or Refused with a sentence."""
    text = str(value if value is not None else "").strip()
    if not re.fullmatch(r"\d{1,12}", text):
        raise Refused(f"{what} must be a whole number, got {text[:40]!r}")
    return int(text)
