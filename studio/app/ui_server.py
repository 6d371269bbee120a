"""Serving helpers of the app: the user-checked session, tool chips, the connection test,
scripting endpoints and ``launch`` (gradio and FastAPI glue; no page logic)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gradio as gr

from models.base import capabilities_of
from models.errors import ModelError, StudioError
from studio.app.base_urls import BaseUrlRefused, check_base_url, is_configured, quiet_report, redact_url
from studio.app.failures import explain
from studio.app.session import Session, Studio
from studio.app.ui_assets import CSS
from studio.app.ui_doors import doors_app_kwargs
from studio.app.ui_model import view_dict
from studio.app.ui_page import TOOL_NAMES
from studio.app.ui_team import install_asset_route, request_user
from studio.app.ui_text import params_object, text_html, whole_number
from studio.app.uploads import MAX_BYTES, check_image


def Message(**kwargs: Any) -> gr.HTML:  # noqa: N802 - used like a component class
    """A one-line message (project, action, connection, export...) shown as plain text: whatever
    a handler returns is escaped (``ui_text.text_html``), so a project name, a file name or a
    remote error body can never become Markdown or HTML that makes the browser fetch anything.

    An HTML component whose postprocess escapes first (not a subclass: gradio writes a ``.pyi``
    stub next to the source of every Component subclass, at import time)."""
    box = gr.HTML(**kwargs)
    html_value = box.postprocess
    box.postprocess = lambda value: html_value(text_html(value) if value else value)  # type: ignore[method-assign]
    if box.value:
        box.value = text_html(box.value)
    return box


def session_of(studio: Studio, sess: Session | None) -> Session:
    """This request's session: the tab's own, or a new one; never a session of another user."""
    user = request_user()
    return sess if sess is not None and sess.user == user else Session(studio, user)


def article_json(sess: Session) -> dict[str, Any]:
    return {"project_id": sess.project_id, "article_id": sess.article_id, "article": view_dict(sess.view)}


def upload_paths(files: Any) -> list[str]:
    items = files if isinstance(files, list) else ([files] if files else [])
    return [item if isinstance(item, str) else getattr(item, "name", None) or item.get("path") for item in items]


def read_uploads(files: Any) -> tuple[bytes, ...]:
    """Brief images, each checked with Pillow (UploadRefused says which and why)."""
    out = []
    for path in upload_paths(files):
        data = Path(path).read_bytes()
        check_image(data, repr(Path(path).name[-80:]))
        out.append(data)
    return tuple(out)


def chips_html(studio: Studio) -> str:
    """Tool status chips: on, or off with why and how to turn it on (title and text)."""
    from markupsafe import Markup

    parts = []
    for source, availability in studio.services.availability.items():
        name = TOOL_NAMES.get(source, source)
        if availability.ok:
            # the title says more where there is more: which image servers answer, with their models
            title = availability.reason or "on"
            parts.append(Markup('<span class="chip chip-on" title="{}">{} ✓</span>').format(title, name))
        else:
            parts.append(
                Markup('<span class="chip chip-off" title="{}">{} off</span>').format(availability.reason, name)
            )
    off = [f"{TOOL_NAMES.get(s, s)}: {a.reason}" for s, a in studio.services.availability.items() if not a.ok]
    details = Markup("<details><summary>why some tools are off</summary><ul>{}</ul></details>").format(
        Markup("").join(Markup("<li>{}</li>").format(line) for line in off)
    )
    return str(Markup('<div class="chips">{}</div>').format(Markup(" ").join(parts)) + (details if off else ""))


def api_endpoints(studio: Studio, state: Any, api_out: Any) -> None:
    """Scripting endpoints (gradio_client) for the card actions and the project list."""

    def api_act(act: str) -> Any:
        def handler(sess: Session | None, block_id: str, *args: Any) -> tuple[Any, Any]:
            sess = session_of(studio, sess)
            try:
                if act == "regenerate":
                    how, params_json, src = (list(args) + [None, None, None])[:3]
                    params = params_object(params_json) if (params_json or "").strip() and how != "again" else None
                    sess.regenerate(block_id, how or "again", params=params, source=src if how == "tool" else None)
                elif act == "accept":
                    sess.accept(block_id)
                elif act == "revert":
                    sess.revert(block_id, whole_number(args[0], "the version"))
                elif act == "rewrite":
                    sess.rewrite(block_id, args[0] or "")
            except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
                raise gr.Error(text_html(explain(exc, act.capitalize()))) from exc
            return sess, article_json(sess)

        return handler

    hidden = gr.Textbox(visible=False)
    for act, extra in (("regenerate", 3), ("accept", 0), ("revert", 1), ("rewrite", 1)):
        inputs = [state, hidden, *[gr.Textbox(visible=False) for _ in range(extra)]]
        gr.Button(visible=False).click(api_act(act), inputs, [state, api_out], api_name=act)

    def list_projects(sess: Session | None) -> list[dict[str, Any]]:
        return [{"id": p.id, "name": p.name} for p in session_of(studio, sess).projects()]

    gr.Button(visible=False).click(list_projects, [state], api_out, api_name="projects")


def connection_report(studio: Studio, backend: str, base_url: str, model: str) -> str:
    """One sentence: the backend works, or exactly what is wrong (never raises)."""
    if backend == "openai":
        from studio.app.services import openai_backend

        settings = studio.settings
        try:
            check_base_url(base_url, settings.openai_base_url, admin=studio.is_admin(request_user()),
                           allow_custom=settings.allow_custom_base_url)  # fmt: skip
        except BaseUrlRefused as exc:
            return f"Not working: {exc}"
        # the configured key goes only to the configured server (openai_backend)
        client = openai_backend(settings, base_url, model)
        try:
            if not base_url or is_configured(base_url, settings.openai_base_url):
                ok, message = client.test_connection()
                return ("OK: " if ok else "Not working: ") + redact_url(message)
            return _quiet_connection_test(client, model)
        finally:
            client.close()
    current = studio.services.backend
    if capabilities_of(current).in_process:
        return f"OK: {current.describe()}"
    try:
        from models.weights import resolve_gguf

        s = studio.settings
        path = resolve_gguf(s.embedded_weights, s.embedded_gguf, s.data_dir / "models", s.allow_downloads)
        return f"OK: the embedded model file is at {path} (restart with STUDIO_BACKEND=embedded to use it)"
    except StudioError as exc:
        return f"Not working: {exc}"


def _quiet_connection_test(client: Any, model: str) -> str:
    """Another server: whether it works, never what it answered (no internal page is read through us)."""
    try:
        models = client.list_models()
    except ModelError as exc:
        return f"Not working: {quiet_report(exc)}"
    if not models:
        return "Not working: the server lists no models"
    if model and model not in models:
        return f"Not working: the server does not serve model {model!r} (it serves {len(models)} others)"
    return f"OK: the server answers like an OpenAI-compatible server ({len(models)} models)"


def launch(
    app: gr.Blocks,
    host: str,
    port: int,
    *,
    block: bool = True,
    max_size: int | None = 64,
    studio: Studio | None = None,
    **options: Any,
) -> Any:
    """Queue (position shown to waiting users) and serve on host:port. With ``studio``: also the
    owner-checked asset route (``ui_team.install_asset_route``: ``/studio-asset/<sha256>``, the
    page's image URLs). ``options``: more ``gr.Blocks.launch`` arguments (the login options of
    ``ui_team.launch_options``)."""
    app.queue(max_size=max_size, default_concurrency_limit=8)
    if studio is not None:
        options.setdefault("app_kwargs", doors_app_kwargs(studio))
    # uvicorn would replace the client address by X-Forwarded-For from loopback peers; proxy mode
    # must see the real peer (STUDIO_PROXY_IPS decides whom to believe: ui_doors, accounts)
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    # Gradio stops reading an upload past this size (HTTP 413), before the handler reads it whole
    options.setdefault("max_file_size", MAX_BYTES)
    result = app.launch(
        server_name=host, server_port=port, prevent_thread_lock=True, css=CSS, show_error=True, quiet=True, **options
    )
    if studio is not None:
        install_asset_route(app, studio)
    if block:
        app.block_thread()
    return result
