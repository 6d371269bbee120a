"""The one translator from an exception to what the user reads, at the UI / API boundary.

A ``StudioError`` is the studio saying no on purpose (``NotFound``, ``Refused``, a model that is
down ...): its message is the sentence. Anything else is a bug: its traceback goes to the log
under a short incident id, and the user reads "an unexpected error (logged as <id>)", so a
real fault is never dressed up as a tidy notice and never lost.
"""

from __future__ import annotations

import logging
import secrets

from models.errors import StudioError

log = logging.getLogger(__name__)


def reason(exc: BaseException) -> str:
    """Why it failed, as a clause ("project 3 not found", "an unexpected error (logged as 1a2b3c4d)")."""
    if isinstance(exc, StudioError):
        return str(exc) or type(exc).__name__
    incident = secrets.token_hex(4)
    log.error("unexpected error (logged as %s)", incident, exc_info=exc)
    return f"an unexpected error (logged as {incident})"


def explain(exc: BaseException, doing: str = "") -> str:
    """A sentence: "<doing> failed: <reason>", or the reason with a capital where ``doing`` is empty."""
    why = reason(exc)
    if doing:
        return f"{doing} failed: {why}"
    return why[:1].upper() + why[1:]
