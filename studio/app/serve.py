"""Serve the studio UI: read Settings, wire the studio, launch Gradio on STUDIO_HOST:STUDIO_PORT.

Used by ``python app.py`` and ``llmi-studio serve``. Defaults: 127.0.0.1:7860, the embedded CPU
model, the project store in the user's data dir.
"""

from __future__ import annotations

import logging
import sys

from models.errors import StudioError
from studio.app.logs import configure_logging
from studio.app.settings import load_settings

log = logging.getLogger(__name__)


def serve() -> int:
    configure_logging()
    settings = load_settings()
    try:
        from studio.app.session import Studio
        from studio.app.ui import build_app, launch

        studio = Studio(settings)
    except StudioError as exc:
        print(f"llmi-studio: {exc}", file=sys.stderr)
        return 2
    print(f"LLM-I Studio on http://{settings.ui_host}:{settings.ui_port} (model: {studio.services.backend.describe()})")
    try:
        launch(build_app(studio), settings.ui_host, settings.ui_port, studio=studio)
    finally:
        studio.close()
    return 0
