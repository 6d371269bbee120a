"""The one logging configuration of the app and the CLI.

Library modules only call ``logging.getLogger(__name__)``; the entry points (``serve``, the
CLI) call ``configure_logging`` once. ``STUDIO_LOG_LEVEL`` (default INFO) picks the level; tool
crashes are logged with their traceback at ERROR, so they show at every level.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (tests and tools swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(level: str | None = None) -> None:
    """Log to stderr at ``level`` (or STUDIO_LOG_LEVEL, default INFO). Safe to call twice."""
    name = (level or os.environ.get("STUDIO_LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    if not any(getattr(h, "_studio", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._studio = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(getattr(logging, name, logging.INFO))
