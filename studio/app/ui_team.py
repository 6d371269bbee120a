"""Gradio wiring for accounts (studio/app/accounts.py): who sent a request, the login options of
``launch``, and the owner-checked asset URL.

- ``request_user()``: the account of the request being handled (Gradio's ``gr.Request.username``
  from its login cookie or from the proxy header), ``LOCAL_USER`` while accounts are off. The
  UI's handlers bind each ``Session`` to it and never hand one user's session to another.
- ``launch_options(studio)``: ``auth=`` (the users file, checked off the event loop) or
  ``auth_dependency=`` (the proxy header) for ``gr.Blocks.launch``, and the ``ui_doors``
  middleware (login backoff, session ids bound to their user, owner-only exports). Gradio then
  refuses every API route, the queue, uploads and its file route to a client that is not logged
  in (HTTP 401).
- ``GET /studio/assets/<sha256>`` (and ``/studio-asset/<sha256>``, the editor page's image
  URLs): an image or upload of the store, served only to a user whose article holds it
  (``storage.repo.asset_readable``); 401 without a login, 404 for anyone else's (the same
  answer as for a hash that does not exist).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from gradio.context import LocalContext
from starlette.routing import Route

from models.errors import StorageError
from storage import repo
from storage.schema import LOCAL_USER
from studio.app.accounts import proxy_user_getter
from studio.app.session import Studio
from studio.app.ui_doors import doors_app_kwargs, install_revocable_tokens, login_check, user_of
from studio.app.ui_model import ASSET_ROUTE
from studio.export.sources import sniff_mime

ASSET_PATH = "/studio/assets/{sha256}"
PAGE_ASSET_PATH = ASSET_ROUTE + "/{sha256}"  # the URLs ui_page writes: the same owner check


def request_user() -> str:
    """The logged-in user of the request this thread handles; ``LOCAL_USER`` without accounts."""
    request = LocalContext.request.get(None)
    name = getattr(request, "username", None)
    return str(name) if name else LOCAL_USER


def launch_options(studio: Studio) -> dict[str, Any]:
    settings = studio.settings
    if settings.auth == "users" and studio.users is not None:
        return {
            "auth": login_check(studio.users),  # a coroutine: argon2 runs in a worker thread
            "auth_message": "LLM-I Studio: sign in with the account your admin made (python -m studio users add).",
            "app_kwargs": doors_app_kwargs(studio),
        }
    if settings.auth == "proxy":
        return {
            "auth_dependency": proxy_user_getter(settings.auth_header, settings.proxy_ips),
            "app_kwargs": doors_app_kwargs(studio),
        }
    return {"app_kwargs": doors_app_kwargs(studio)}


def install_asset_route(blocks: Any, studio: Studio) -> None:
    """Add ``GET /studio/assets/<sha256>`` and ``/studio-asset/<sha256>`` to a launched app (first,
    so no catch-all hides them); and the login tokens that end when the user's password changes."""
    fastapi_app = blocks.server_app or blocks.app
    if studio.users is not None and getattr(fastapi_app, "auth", None) is not None:
        install_revocable_tokens(fastapi_app, studio.users)

    async def asset(request: Request) -> Response:
        user = user_of(fastapi_app, request)
        if user is None:
            return Response("log in first", status_code=401, media_type="text/plain")
        sha256 = request.path_params["sha256"]
        try:
            readable = repo.asset_readable(studio.store, sha256, user) and studio.store.assets.exists(sha256)
            data = studio.store.assets.read(sha256) if readable else None
        except StorageError:  # a malformed hash, or the database is away
            data = None
        if data is None:
            return Response("no such asset", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return Response(data, media_type=sniff_mime(data) or "application/octet-stream", headers=headers)

    for path in (ASSET_PATH, PAGE_ASSET_PATH):
        fastapi_app.router.routes.insert(0, Route(path, asset, methods=["GET"]))
