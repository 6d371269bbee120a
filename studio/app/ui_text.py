"""What the UI shows of user-controlled strings and of failures (no gradio here).

Messages (project, action, connection, progress) are shown as plain text: they land in HTML
components as escaped text, never as Markdown or HTML, so a project name or a remote error body
cannot make the browser fetch anything. Failures reach the browser and API clients as sentences:
the studio's own errors keep their text; anything else (a TypeError, RecursionError, OverflowError
from odd input) becomes a sentence, and the traceback goes to the log.
"""

from __future__ import annotations

import html
import json
import logging
import re

from models.errors import StudioError

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 2000
# What the UI and the API show as the user's own problem. ValueError and KeyError are here until
# the session and the repository raise StudioError subclasses for refusals and "not found" (then
# this is ``(StudioError,)`` and nothing else changes: every boundary catches this tuple).
USER_ERRORS: tuple[type[Exception], ...] = (StudioError, ValueError, KeyError)


def reason(exc: BaseException) -> str:
    """A user error as a sentence (KeyError's message without its quotes, a capital first)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text[:1].upper() + text[1:] if text else type(exc).__name__


def text_html(text: object) -> str:
    """Plain text for an HTML component: escaped, control characters dropped, length capped."""
    value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", "" if text is None else str(text))
    if len(value) > MAX_MESSAGE_CHARS:
        value = value[: MAX_MESSAGE_CHARS - 1] + "…"
    return html.escape(value, quote=False)


def failure_sentence(verb: str, exc: BaseException) -> str:
    """A sentence for a failed request (already escaped for the toast, which renders HTML)."""
    if isinstance(exc, json.JSONDecodeError):
        why = (
            f"the params are not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            'write an object such as {"code": "plt.plot([1, 2])"}'
        )
    elif isinstance(exc, RecursionError):
        why = "the input is nested too deeply to read"
    elif isinstance(exc, USER_ERRORS):
        why = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc) or "not found"
    else:
        log.error("%s failed", verb, exc_info=exc)
        why = "the request could not be handled (an internal error; the studio's log has the details)"
    return text_html(f"{verb} failed: {why}")


def whole_number(value: object, what: str) -> int:
    """A user-typed id or version as an int, or ValueError with a sentence."""
    text = str(value if value is not None else "").strip()
    if not re.fullmatch(r"\d{1,12}", text):
        raise ValueError(f"{what} must be a whole number, got {text[:40]!r}")
    return int(text)
