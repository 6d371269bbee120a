"""What the UI shows of user-controlled strings and of failures (no gradio here).

Messages (project, action, connection, progress) are shown as plain text: they land in HTML
components as escaped text, never as Markdown or HTML, so a project name or a remote error body
cannot make the browser fetch anything. Failures become sentences in one place,
``studio.app.failures``.
"""

from __future__ import annotations

import html
import json
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


def params_object(text: str) -> dict:
    """The regenerate params box: a JSON object, or Refused with a sentence."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(
            f"the params are not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            'write an object such as {"code": "plt.plot([1, 2])"}'
        ) from None
    except RecursionError:
        raise Refused("the input is nested too deeply to read") from None
    if not isinstance(value, dict):
        raise Refused(f"the params must be a JSON object ({{...}}), not a {type(value).__name__}")
    return value
