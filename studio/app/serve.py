"""Serve the studio UI: read Settings, wire the studio, launch Gradio on STUDIO_HOST:STUDIO_PORT.

Used by ``python app.py`` and ``llmi-studio serve``. Defaults: 127.0.0.1:7860, the embedded CPU
model, the project store in the user's data dir, accounts off (one local user).

Start-up refuses a host other than loopback without accounts (``accounts.check_startup``: the
reason and how to turn them on go to stderr, exit code 2); ``STUDIO_ALLOW_NO_AUTH=1`` is the
explicit opt-out for a trusted network, logged loudly at every start.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

from models.errors import StudioError
from studio.app.logs import configure_logging
from studio.app.settings import load_settings

log = logging.getLogger(__name__)


def serve() -> int:
    configure_logging()
    settings = load_settings()
    from studio.app.accounts import UsersFile, check_startup

    try:
        users = UsersFile(settings.users_path()) if settings.auth == "users" else None
        warnings = check_startup(settings.ui_host, settings.auth, settings.allow_no_auth, users)
    except StudioError as exc:
        print(f"llmi-studio: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        log.warning("!" * 20 + " %s " + "!" * 20, warning)
        print(f"WARNING: {warning}", file=sys.stderr)
    try:
        from studio.app.session import Studio
        from studio.app.ui import build_app, launch
        from studio.app.ui_team import launch_options

        studio = Studio(settings)
    except StudioError as exc:
        print(f"llmi-studio: {exc}", file=sys.stderr)
        return 2
    accounts = {"off": "off (one local user)", "users": f"users file {settings.users_path()}",
                "proxy": f"proxy header {settings.auth_header}"}[settings.auth]  # fmt: skip
    print(
        f"LLM-I Studio on http://{settings.ui_host}:{settings.ui_port} (model: {studio.services.backend.describe()};"
        f" store: {studio.store.url}; accounts: {accounts})",
        flush=True,
    )

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM (a process manager, a proxy's supervisor): close cleanly

    signal.signal(signal.SIGTERM, stop)
    try:
        launch(build_app(studio), settings.ui_host, settings.ui_port, studio=studio, **launch_options(studio))
    finally:
        studio.close()
    return 0
