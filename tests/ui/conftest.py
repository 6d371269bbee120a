"""Start the real Gradio app on 127.0.0.1 (a free port) in this process, for API and browser tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from studio.app.session import Studio
from studio.app.settings import Settings
from tests.browser import chromium


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_app(settings: Settings, studio: Studio | None = None) -> Iterator[tuple[str, Studio]]:
    """Yield (base URL, studio) of a launched app; closed afterwards."""
    from studio.app.ui import build_app, launch

    studio = studio or Studio(settings)
    app = build_app(studio)
    port = free_port()
    launch(app, "127.0.0.1", port, block=False, studio=studio)
    try:
        yield f"http://127.0.0.1:{port}/", studio
    finally:
        app.close()
        studio.close()


def smollm2_settings(data_dir: Path, **extra: object) -> Settings:
    """The fresh-machine case: the tiny embedded model, only the chart tool (no internet, no GPU)."""
    from studio.app.settings import load_settings

    values: dict[str, object] = dict(
        data_dir=data_dir,
        backend="embedded",
        embedded_weights="smollm2-135m",
        embedded_threads=1,
        embedded_ctx=2048,
        max_tokens=400,
        max_paragraph_chars=240,
        tools_enabled=["code"],
    )
    values.update(extra)
    return load_settings(**values)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (its tests open fresh contexts in it)."""
    with chromium() as b:
        yield b
