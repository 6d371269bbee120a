"""The in-place text editor's bundle: where it is, whether it is built, and its route.

``web/`` holds the editor's source (ProseMirror + prosemirror-markdown, pinned in
``web/package-lock.json``); ``setup.sh`` builds it (``npm ci && npm run build``) into
``studio/app/static/build/editor.js``, a generated, git-ignored file. The app serves it itself at
``/studio-editor/editor.js?v=<hash>`` (never from a CDN) and the page imports it
(``static/page.js``). Without a built bundle (no node/npm on the machine) the page keeps the
Markdown box for text and says why (``EDITOR_OFF_NOTE``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

EDITOR_ROUTE = "/studio-editor/editor.js"
EDITOR_OFF_NOTE = (
    "Typing in place is off: the editor bundle is not built (it needs node and npm). "
    "Edit text with “Edit”; to turn it on, install node 20 and run `bash setup.sh`."
)


def bundle_path() -> Path:
    """Where ``npm run build`` (in ``web/``) writes the bundle."""
    return Path(str(files("studio.app") / "static" / "build" / "editor.js"))


@lru_cache(maxsize=4)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st.st_size > 0 else None


def editor_url() -> str | None:
    """The bundle's URL (its content hash in the query: a rebuilt bundle is fetched anew), or
    None when it is not built."""
    path = bundle_path()
    stat = _stat(path)
    if stat is None:
        return None
    return f"{EDITOR_ROUTE}?v={_digest(path, *stat)}"


def install_editor_route(blocks: Any) -> None:
    """``GET /studio-editor/editor.js`` on a launched app (first, so no catch-all hides it). The
    bundle is the app's own public code: no login needed, like Gradio's own scripts."""
    from fastapi import Request  # the app's glue only: ui_page asks editor_url() without a server
    from fastapi.responses import Response
    from starlette.routing import Route

    fastapi_app = blocks.server_app or blocks.app

    async def bundle(request: Request) -> Response:
        path = bundle_path()
        if _stat(path) is None:
            return Response(EDITOR_OFF_NOTE, status_code=404, media_type="text/plain")
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
        if not request.query_params.get("v"):
            headers["Cache-Control"] = "no-cache"
        return Response(path.read_bytes(), media_type="text/javascript", headers=headers)

    fastapi_app.router.routes.insert(0, Route(EDITOR_ROUTE, bundle, methods=["GET"]))
