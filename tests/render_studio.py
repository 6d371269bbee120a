"""A studio in render mode, as most studio tests need it: the real chart sandbox and a real SQLite
store under ``data_dir``, and a writing model that is never asked (the tests hand the response
in); its backend points at a closed port, so a test that did ask it would fail loudly.

    studio = render_studio(tmp_path)                      # only the chart tool on
    session = Session(studio); session.generate(Brief("tides"), response=RESPONSE)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from models.openai_compat import OpenAICompatBackend
from studio.app.services import Services, build_services
from studio.app.session import Studio
from studio.app.settings import Settings, load_settings

NO_MODEL_URL = "http://127.0.0.1:9/v1"  # nothing listens on port 9 (discard) here


def render_settings(data_dir: Path | None, tools: Sequence[str] = ("code",), **extra: object) -> Settings:
    """Settings for render mode; ``data_dir=None`` keeps STUDIO_DATA_DIR from the environment."""
    values: dict[str, object] = dict(tools_enabled=list(tools), backend="openai", **extra)
    if data_dir is not None:
        values["data_dir"] = data_dir
    return load_settings(**values)


def render_services(settings: Settings) -> Services:
    return build_services(settings, backend=OpenAICompatBackend(NO_MODEL_URL, model="none"))


def render_studio(data_dir: Path | None, tools: Sequence[str] = ("code",), **extra: object) -> Studio:
    """A Studio in render mode (close it when done)."""
    settings = render_settings(data_dir, tools, **extra)
    return Studio(settings, services=render_services(settings))


def png(color: str, size: tuple[int, int] = (32, 24)) -> bytes:
    """A plain PNG of one colour (a user's image, a search hit)."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()
