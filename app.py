"""``python app.py``: read Settings, wire the studio, serve the UI on STUDIO_HOST:STUDIO_PORT.

Defaults: 127.0.0.1:7860, the embedded CPU model, the project store in the user's data dir.
"""

from __future__ import annotations

import sys

from models.errors import StudioError
from studio.settings import load_settings


def main() -> int:
    settings = load_settings()
    try:
        from studio.session import Studio
        from studio.ui import build_app, launch

        studio = Studio(settings)
    except StudioError as exc:
        print(f"llmi-studio: {exc}", file=sys.stderr)
        return 2
    print(f"LLM-I Studio on http://{settings.ui_host}:{settings.ui_port} (model: {studio.services.backend.describe()})")
    try:
        launch(build_app(studio), settings.ui_host, settings.ui_port)
    finally:
        studio.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
