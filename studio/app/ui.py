"""The Gradio app (with ui_team.py, its login wiring, the only modules that import gradio).

Every handler is a thin shell: it takes the browser session's ``Session`` from ``gr.State``
(one per browser tab or API client, never a global), calls it, and turns the result into
component values with ``studio.app.ui_model``. Named API endpoints make the same app scriptable
with gradio_client (see ``API`` below); ``/generate`` streams one JSON event per update and
ends with the article.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from models.errors import StudioError
from studio.app.session import RunOptions, Session, Studio
from studio.app.ui_model import CSS, ArticleView, article_html, block_choices, event_dict, progress_line, view_dict
from studio.app.ui_prefs import add_preference_export
from studio.app.ui_team import request_user
from studio.app.ui_text import failure_sentence, params_object, text_html, whole_number
from studio.core.agent import Brief
from studio.core.events import ArticleDone, TextDelta
from tools.params import SOURCES

TEXT_UPDATE_S = 0.15  # at most this often re-render while only text streams in


def _session(studio: Studio, sess: Session | None) -> Session:
    """This request's session: the tab's own, or a new one; never a session of another user."""
    user = request_user()
    return sess if sess is not None and sess.user == user else Session(studio, user)


def _article_json(sess: Session) -> dict[str, Any]:
    return {"project_id": sess.project_id, "article_id": sess.article_id, "article": view_dict(sess.view)}


def _projects_update(sess: Session) -> Any:
    choices = [(f"{p.name} (#{p.id})", str(p.id)) for p in sess.projects()]
    value = str(sess.project_id) if sess.project_id is not None else None
    return gr.update(choices=choices, value=value)


def _blocks_update(view: ArticleView, keep: str | None = None) -> Any:
    choices = block_choices(view)
    ids = [v for _, v in choices]
    return gr.update(choices=choices, value=keep if keep in ids else (ids[0] if ids else None))


def _read_uploads(files: Any) -> tuple[bytes, ...]:
    paths = files if isinstance(files, list) else ([files] if files else [])
    out = []
    for item in paths:
        path = item if isinstance(item, str) else getattr(item, "name", None) or item.get("path")
        out.append(Path(path).read_bytes())
    return tuple(out)


def build_app(studio: Studio) -> gr.Blocks:
    """The Blocks app over a shared ``Studio``; launch it with ``launch(app, settings)``."""
    services = studio.services
    on_sources = [s for s in SOURCES if services.availability[s].ok]
    tool_notes = "\n".join(f"- {line}" for line in services.describe_tools())

    with gr.Blocks(title="LLM-I Studio") as app:
        state = gr.State(None)
        last_project = gr.BrowserState(None, storage_key="llmi-studio-project")
        api_out = gr.JSON(visible=False, label="api")
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                gr.Markdown("### Projects")
                project_pick = gr.Dropdown(
                    label="Project", choices=[], elem_id="project-pick", interactive=True, allow_custom_value=True
                )
                project_name = gr.Textbox(label="Name", elem_id="project-name")
                with gr.Row():
                    new_btn = gr.Button("New", elem_id="project-new", size="sm")
                    open_btn = gr.Button("Open", elem_id="project-open", size="sm")
                with gr.Row():
                    rename_btn = gr.Button("Rename", elem_id="project-rename", size="sm")
                    dup_btn = gr.Button("Duplicate", elem_id="project-duplicate", size="sm")
                    del_btn = gr.Button("Delete", elem_id="project-delete", size="sm", variant="stop")
                project_msg = gr.HTML(elem_id="project-msg")
                with gr.Accordion("Settings", open=False):
                    set_backend = gr.Radio(["embedded", "openai"], value=studio.settings.backend, label="Backend")
                    set_url = gr.Textbox(value=studio.settings.openai_base_url, label="OpenAI-compatible base URL")
                    set_model = gr.Textbox(value=studio.settings.openai_model, label="Model (empty: first listed)")
                    test_btn = gr.Button("Test connection", elem_id="test-connection", size="sm")
                    test_msg = gr.HTML(elem_id="test-msg")
                    gr.Markdown(f"Model: {services.backend.describe()}\n\nTools:\n{tool_notes}")
            with gr.Column(scale=3):
                brief = gr.Textbox(
                    label="Brief", lines=3, elem_id="brief", placeholder="What should the article be about?"
                )
                uploads = gr.File(
                    label="Images for the article (optional)", file_count="multiple", file_types=["image"]
                )
                with gr.Accordion("Options", open=False):
                    wanted = gr.Number(
                        value=0, precision=0, minimum=0, maximum=10, label="Images wanted (0: model decides)"
                    )
                    tools_pick = gr.CheckboxGroup(list(SOURCES), value=on_sources, label="Tools allowed")
                    style = gr.Textbox(label="Article-wide style", placeholder="e.g. watercolour, muted colours")
                    quality = gr.Number(
                        value=1, precision=0, minimum=1, maximum=8, elem_id="quality",
                        label="Quality mode: candidates to write, the best is kept (1: off; slower by N)",
                    )  # fmt: skip
                write_btn = gr.Button("Write", variant="primary", elem_id="write")
                progress = gr.HTML(elem_id="progress")
                article = gr.HTML(elem_id="article", js_on_load=None)
                with gr.Accordion("Block actions", open=True):
                    with gr.Row():
                        block_pick = gr.Dropdown(
                            label="Block", choices=[], elem_id="block-pick", scale=3, allow_custom_value=True
                        )
                        mode = gr.Radio(
                            [("same call again (new seed / next hit)", "again"), ("edited params", "params"),
                             ("another tool", "tool")], value="again", label="Regenerate how", scale=3,
                        )  # fmt: skip
                    with gr.Row():
                        source = gr.Dropdown(list(SOURCES), value=None, label="Tool (for another tool)", scale=1)
                        params_box = gr.Code(language="json", label="Params (JSON)", lines=4, elem_id="params-box")
                    with gr.Row():
                        regen_btn = gr.Button("Regenerate", elem_id="regenerate")
                        accept_btn = gr.Button("Accept", elem_id="accept", variant="primary")
                    with gr.Row():  # fill a block (e.g. a placeholder whose tool is off) with your own image
                        fill_file = gr.File(label="Fill the block with an image", file_types=["image"], scale=3)
                        fill_btn = gr.Button("Use this image", elem_id="fill", scale=1)
                    with gr.Row():
                        instruction = gr.Textbox(label="Rewrite instruction (text blocks)", scale=3)
                        rewrite_btn = gr.Button("Rewrite", elem_id="rewrite", scale=1)
                    with gr.Row():
                        version_pick = gr.Dropdown(
                            label="Version", choices=[], elem_id="version-pick", scale=3, allow_custom_value=True
                        )
                        revert_btn = gr.Button("Go back to this version", elem_id="revert", scale=1)
                    action_msg = gr.HTML(elem_id="action-msg")
                with gr.Accordion("Rate and export", open=False):
                    with gr.Row():
                        thumbs = gr.Radio(["up", "down", "none"], value="none", label="Thumbs")
                        stars = gr.Slider(0, 5, step=1, value=0, label="Stars (0: none)")
                    comment = gr.Textbox(label="Comment")
                    rate_btn = gr.Button("Rate article", elem_id="rate")
                    with gr.Row():
                        fmt = gr.Dropdown(["html", "pdf", "md", "docx"], value="html", label="Format")
                        export_btn = gr.Button("Export article", elem_id="export")
                    download = gr.File(label="Download", elem_id="download")
                    add_preference_export(studio, state, download)

        def article_outputs(sess: Session, msg: str, keep: str | None = None) -> tuple[Any, ...]:
            return (sess, article_html(sess.view), _progress(sess.view), _blocks_update(sess.view, keep),
                    text_html(msg), _article_json(sess))  # fmt: skip

        art_outs = [state, article, progress, block_pick, action_msg, api_out]

        # --- writing -------------------------------------------------------------------------
        def generate(
            sess: Session | None, text: str, files: Any, n: float | None, tools: list[str], sty: str,
            backend: str, base_url: str, model: str, candidates: float | None = 1,
        ) -> Iterator[tuple[Any, ...]]:  # fmt: skip
            sess = _session(studio, sess)
            if not (text or "").strip():
                raise gr.Error("Write a brief first.")
            try:
                wanted_n, quality_n = int(n) if n else None, max(1, int(candidates or 1))
            except (OverflowError, ValueError) as exc:
                raise gr.Error(failure_sentence("Writing", ValueError("the numbers must be whole numbers"))) from exc
            brief_value = Brief(text.strip(), wanted_n, _read_uploads(files), (sty or "").strip())
            options = RunOptions(
                backend, base_url, model, tuple(tools or ()), brief_value.wanted_images, sty or "",
                quality=quality_n,
            )  # fmt: skip
            last = 0.0
            for event, view in sess.generate(brief_value, options):
                now = time.monotonic()
                if isinstance(event, TextDelta) and now - last < TEXT_UPDATE_S:
                    continue
                last = now
                payload = _article_json(sess) if isinstance(event, ArticleDone) else event_dict(event)
                yield (sess, article_html(view), _progress(view), _blocks_update(view), "", payload,
                       _projects_update(sess), str(sess.project_id))  # fmt: skip

        def render(sess: Session | None, text: str, response: str, sty: str) -> Iterator[tuple[Any, ...]]:
            """Execute an existing LLM-I response (text with tags) as a new article: evaluations, tests."""
            sess = _session(studio, sess)
            for event, view in sess.generate(Brief((text or "").strip(), style=sty or ""), response=response or ""):
                payload = _article_json(sess) if isinstance(event, ArticleDone) else event_dict(event)
                yield (sess, article_html(view), _progress(view), _blocks_update(view), "", payload,
                       _projects_update(sess), str(sess.project_id))  # fmt: skip

        response_box = gr.Textbox(visible=False)
        gr.Button(visible=False).click(
            render,
            [state, brief, response_box, style],
            [*art_outs, project_pick, last_project],
            api_name="render",
            concurrency_limit=studio.settings.ui_concurrency,
            concurrency_id="generate",
        )

        write_btn.click(
            generate,
            [state, brief, uploads, wanted, tools_pick, style, set_backend, set_url, set_model, quality],
            [*art_outs, project_pick, last_project],
            api_name="generate",
            concurrency_limit=studio.settings.ui_concurrency,
            concurrency_id="generate",
        )

        # --- per-block actions ---------------------------------------------------------------------
        def act(fn: Any, verb: str) -> Any:
            def handler(sess: Session | None, block_id: str | None, *args: Any) -> tuple[Any, ...]:
                sess = _session(studio, sess)
                if not block_id:
                    raise gr.Error("Pick a block first.")
                try:
                    msg = fn(sess, block_id, *args)
                except Exception as exc:  # every failure is a sentence (see ui_text)
                    raise gr.Error(failure_sentence(verb, exc)) from exc
                return article_outputs(sess, msg, block_id)

            return handler

        def do_regen(sess: Session, block_id: str, how: str, params_json: str, src: str | None) -> str:
            params = params_object(params_json) if (params_json or "").strip() and how != "again" else None
            sess.regenerate(block_id, how, params=params, source=src if how == "tool" else None)  # type: ignore[arg-type]
            b = sess.view.block(block_id)
            stale = sess.stale_edits(block_id)
            note = f" Edits made from this image: {', '.join(stale)} (regenerate them to follow it)." if stale else ""
            return f"{block_id}: version {b.version} is {b.status}.{note}"

        def do_fill(sess: Session, block_id: str, file: Any) -> str:
            images = _read_uploads([file] if file else [])
            if not images:
                raise ValueError("choose an image file to fill the block with")
            sess.fill_upload(block_id, images[0])
            return f"{block_id}: filled with your image (version {sess.view.block(block_id).version})."

        def do_rewrite(sess: Session, block_id: str, text: str) -> str:
            sess.rewrite(block_id, text or "")
            return f"{block_id}: rewritten (version {sess.view.block(block_id).version})."

        def do_accept(sess: Session, block_id: str) -> str:
            sess.accept(block_id)
            return f"{block_id}: version {sess.view.block(block_id).version} accepted."

        def do_revert(sess: Session, block_id: str, version: str | None) -> str:
            if not version:
                raise ValueError("pick a version")
            sess.revert(block_id, whole_number(version, "the version"))
            return f"{block_id}: back to version {version}."

        regen_btn.click(act(do_regen, "Regenerate"), [state, block_pick, mode, params_box, source], art_outs,
                        api_name="regenerate", concurrency_limit=studio.settings.ui_concurrency)  # fmt: skip
        rewrite_btn.click(act(do_rewrite, "Rewrite"), [state, block_pick, instruction], art_outs, api_name="rewrite")
        fill_btn.click(act(do_fill, "Fill"), [state, block_pick, fill_file], art_outs, api_name="fill")
        accept_btn.click(act(do_accept, "Accept"), [state, block_pick], art_outs, api_name="accept")
        revert_btn.click(act(do_revert, "Revert"), [state, block_pick, version_pick], art_outs, api_name="revert")

        def pick_block(sess: Session | None, block_id: str | None) -> tuple[Any, Any]:
            if sess is None or sess.user != request_user() or not block_id or sess.article_id is None:
                return gr.update(choices=[], value=None), ""
            try:
                versions = sess.versions(block_id)
                b = sess.view.block(block_id)
            except (KeyError, ValueError):  # still being written, or gone
                return gr.update(choices=[], value=None), ""
            choices = [(f"v{v.number} · {v.origin} · {v.status or 'text'}", str(v.number)) for v in versions]
            params = json.dumps(b.params, indent=1, ensure_ascii=False) if b.kind == "image" else ""
            return gr.update(choices=choices, value=str(b.version)), params

        block_pick.change(pick_block, [state, block_pick], [version_pick, params_box], api_visibility="private")

        # --- rating and export -----------------------------------------------------------------------
        def rate(sess: Session | None, th: str, st: float, text: str) -> tuple[Any, ...]:
            sess = _session(studio, sess)
            try:
                stars = whole_number(int(st) if isinstance(st, float) and st.is_integer() else st or 0, "stars")
                sess.rate(thumbs={"up": 1, "down": -1}.get(th), stars=stars or None, comment=text or "")
            except Exception as exc:
                raise gr.Error(failure_sentence("Rating", exc)) from exc
            return article_outputs(sess, "Thanks: rating saved.")

        rate_btn.click(rate, [state, thumbs, stars, comment], art_outs, api_name="rate")

        def export(sess: Session | None, f: str) -> str:
            sess = _session(studio, sess)
            try:
                return str(sess.export(f, Path(tempfile.mkdtemp(prefix="llmi-export-"))))
            except Exception as exc:
                raise gr.Error(failure_sentence("Export", exc)) from exc

        export_btn.click(export, [state, fmt], download, api_name="export")

        # --- projects ----------------------------------------------------------------------------------
        def project_outputs(sess: Session, msg: str) -> tuple[Any, ...]:
            name = next((p.name for p in sess.projects() if p.id == sess.project_id), "")
            return (*article_outputs(sess, ""), _projects_update(sess), name, text_html(msg),
                    str(sess.project_id) if sess.project_id else None)  # fmt: skip

        proj_outs = [*art_outs, project_pick, project_name, project_msg, last_project]

        def guard(fn: Any) -> Any:
            def handler(sess: Session | None, *args: Any) -> tuple[Any, ...]:
                sess = _session(studio, sess)
                try:
                    return project_outputs(sess, fn(sess, *args))
                except Exception as exc:
                    raise gr.Error(failure_sentence("The project action", exc)) from exc

            return handler

        def p_new(sess: Session, name: str) -> str:
            return f"Created {sess.new_project(name or '').name}."

        def p_open(sess: Session, pid: str | None) -> str:
            if not pid:
                raise ValueError("pick a project")
            sess.open_project(whole_number(pid, "the project id"))
            return "" if sess.article_id else "This project has no article yet: write one."

        def p_rename(sess: Session, name: str) -> str:
            return f"Renamed to {sess.rename(name or '').name}."

        def p_dup(sess: Session) -> str:
            return f"Opened the copy {sess.duplicate().name}."

        def p_del(sess: Session) -> str:
            sess.delete()
            return "Deleted."

        new_btn.click(guard(p_new), [state, project_name], proj_outs, api_name="new_project")
        open_btn.click(guard(p_open), [state, project_pick], proj_outs, api_name="open_project")
        rename_btn.click(guard(p_rename), [state, project_name], proj_outs, api_name="rename_project")
        dup_btn.click(guard(p_dup), [state], proj_outs, api_name="duplicate_project")
        del_btn.click(guard(p_del), [state], proj_outs, api_name="delete_project")

        def list_projects(sess: Session | None) -> list[dict[str, Any]]:
            return [{"id": p.id, "name": p.name} for p in _session(studio, sess).projects()]

        gr.Button(visible=False).click(list_projects, [state], api_out, api_name="projects")

        def on_load(sess: Session | None, remembered: str | None) -> tuple[Any, ...]:
            """A new page: a fresh session, reopening the project this browser had open."""
            sess = _session(studio, sess)
            if remembered and sess.project_id is None:
                with contextlib.suppress(KeyError, ValueError):  # deleted meanwhile: start empty
                    sess.open_project(int(remembered))
            return project_outputs(sess, "")

        app.load(on_load, [state, last_project], proj_outs, api_visibility="private")

        def test_connection(backend: str, base_url: str, model: str) -> str:
            return text_html(connection_report(studio, backend, base_url, model))

        test_btn.click(test_connection, [set_backend, set_url, set_model], test_msg, api_name="test_connection")
    return app


def _progress(view: ArticleView) -> str:
    return text_html(progress_line(view))


def connection_report(studio: Studio, backend: str, base_url: str, model: str) -> str:
    """One sentence: the backend works, or exactly what is wrong (never raises)."""
    if backend == "openai":
        from studio.app.services import openai_backend

        # the configured key goes only to the configured server (openai_backend)
        client = openai_backend(studio.settings, base_url, model)
        try:
            ok, message = client.test_connection()
        finally:
            client.close()
        return ("OK: " if ok else "Not working: ") + message
    current = studio.services.backend
    if current.name == "embedded":
        return f"OK: {current.describe()}"
    try:
        from models.weights import resolve_gguf

        s = studio.settings
        path = resolve_gguf(s.embedded_weights, s.embedded_gguf, s.data_dir / "models", s.allow_downloads)
        return f"OK: the embedded model file is at {path} (restart with STUDIO_BACKEND=embedded to use it)"
    except StudioError as exc:
        return f"Not working: {exc}"


def launch(
    app: gr.Blocks, host: str, port: int, *, block: bool = True, max_size: int | None = 64, **options: Any
) -> Any:
    """Queue (position shown to waiting users) and serve on host:port. ``options``: more
    ``gr.Blocks.launch`` arguments (the login options of ``ui_team.launch_options``)."""
    app.queue(max_size=max_size, default_concurrency_limit=8)
    return app.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        css=CSS,
        show_error=True,
        quiet=True,
        **options,
    )
