"""Serving helpers of the app: the user-checked session, tool chips, the connection test,
scripting endpoints and ``launch`` (gradio and FastAPI glue; no page logic)."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import gradio as gr

from models.base import capabilities_of
from models.errors import ModelError, StudioError
from studio.app.actions import apply
from studio.app.base_urls import BaseUrlRefused, check_base_url, is_configured, quiet_report, redact_url
from studio.app.card_actions import API_MODELS, Upload, parse_action, tag
from studio.app.editor_bundle import install_editor_route
from studio.app.failures import explain
from studio.app.session import Session, Studio
from studio.app.ui_assets import CSS
from studio.app.ui_doors import doors_app_kwargs
from studio.app.ui_model import view_dict
from studio.app.ui_page import TOOL_NAMES
from studio.app.ui_team import install_asset_route, request_user
from studio.app.ui_text import text_html
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


def action_endpoints(studio: Studio, state: Any, api_out: Any, upload_roots: tuple[Path, ...]) -> None:
    """One named endpoint per card action (``card_actions.API_MODELS``): its inputs are the block
    and the model's fields, in order (an image file for ``upload``); the call is parsed and run
    exactly as the page's ``act`` event, and a refusal or failure is a plain-text error."""
    for model in API_MODELS:
        act = tag(model)
        fields = [name for name in model.model_fields if name not in ("act", "block")]
        inputs = [state, gr.Textbox(visible=False, label="block")]
        inputs += [_input(model, name) for name in fields]
        handler = _action_handler(studio, model, fields, upload_roots)
        gr.Button(visible=False).click(handler, inputs, [state, api_out], api_name=act, concurrency_id="act",
                                       concurrency_limit=studio.settings.ui_concurrency)  # fmt: skip

    def list_projects(sess: Session | None) -> list[dict[str, Any]]:
        return [{"id": p.id, "name": p.name} for p in session_of(studio, sess).projects()]

    gr.Button(visible=False).click(list_projects, [state], api_out, api_name="projects")


def _input(model: type[Any], name: str) -> Any:
    """A hidden input for one field; a field with a default is optional for the client."""
    if name == "path":
        return gr.File(visible=False, label="image", type="filepath")
    field = model.model_fields[name]
    value = None if field.is_required() else ("" if field.default is None else str(field.default))
    return gr.Textbox(visible=False, label=name, value=value)


def _action_handler(studio: Studio, model: type[Any], fields: list[str], upload_roots: tuple[Path, ...]) -> Any:
    act = tag(model)
    verb = act.replace("_", " ").capitalize()

    def handler(sess: Session | None, block_id: str, *values: Any) -> tuple[Session, dict[str, Any]]:
        sess = session_of(studio, sess)
        data: dict[str, Any] = {"act": act, "block": block_id}
        data.update((name, value) for name, value in zip(fields, values, strict=True) if value not in (None, ""))
        if model is Upload and data.get("path"):
            data.setdefault("name", Path(str(data["path"])).name)
        try:
            message = apply(sess, parse_action(data), upload_roots)
        except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
            raise gr.Error(text_html(explain(exc, verb))) from exc
        return sess, {**article_json(sess), "message": message}

    # the client's parameter names are the model's (client.predict(block="b2", version="2", ...))
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("sess", "block", *fields)]
    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return handler


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
            return _quiet_connection_test(client, model, base_url)
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


def _quiet_connection_test(client: Any, model: str, base_url: str) -> str:
    """Another server: whether it works, never what it answered (no internal page is read through us).
    The URL the user typed is named (without credentials), so the sentence says which server failed."""
    try:
        models = client.list_models()
    except ModelError as exc:
        return f"Not working: {redact_url(base_url)}: {quiet_report(exc)}"
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
    install_editor_route(app)  # the in-place editor's bundle (studio.app.editor_bundle)
    if studio is not None:
        install_asset_route(app, studio)
    if block:
        app.block_thread()
    return result
