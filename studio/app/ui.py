"""The Gradio app (with ui_team.py, its login wiring, the only modules that import gradio).

The article is the editor: one ``gr.HTML`` whose value is ``ui_page.page(view)`` (safe HTML per
block, images by URL from the content-hash store) and whose script sends each card's action as
one ``act`` event, mapped onto the session by ``studio.app.actions.perform``. Every handler is a
thin shell: it takes the tab's ``Session`` from ``gr.State`` (one per tab or API client, never a
global), calls it, and turns the result into component values. ``/?project=ID&article=N`` opens
exactly that article. Named API endpoints keep the app scriptable with gradio_client.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from models.errors import NotFound, Refused
from models.text import valid_text
from models.vocab import LISTED_CUT_OFF, ArticleStatus
from studio.app import stream_diff
from studio.app.actions import mark_busy, perform
from studio.app.base_urls import BaseUrlRefused, redact_url
from studio.app.call_form import FIELDS, edit_choices, form_for
from studio.app.card_actions import ActionRefused, EditCall, OpenEditor, SaveText, parse_action, tag
from studio.app.continuing import continue_writing
from studio.app.failures import reason
from studio.app.session import RunOptions, Session, Studio
from studio.app.ui_assets import SCRIPT, TEMPLATE
from studio.app.ui_history import history_endpoints
from studio.app.ui_layout import LAYOUT_SCRIPT, follow_buttons
from studio.app.ui_model import event_dict
from studio.app.ui_page import TOOL_NAMES, page
from studio.app.ui_prefs import add_preference_export
from studio.app.ui_projects import ProjectWidgets, wire_projects
from studio.app.ui_publish import PublishWidgets, wire_publish
from studio.app.ui_revise import add_revise_panel
from studio.app.ui_server import (  # noqa: F401 - launch and connection_report are part of this module's API
    Message,
    action_endpoints,
    article_json,
    chips_html,
    connection_report,
    launch,
    read_uploads,
    session_of,
    upload_paths,
)
from studio.app.ui_suggest import add_suggestions
from studio.app.ui_taste import add_taste_training
from studio.app.ui_team import request_user
from studio.app.uploads import UploadRefused, check_image
from studio.core.agent import Brief
from studio.core.events import ArticleDone, TextDelta
from tools.params import SOURCES

_SUFFIX = {
    ArticleStatus.RUNNING: " (writing)",
    ArticleStatus.INTERRUPTED: " (stopped)",
    ArticleStatus.FAILED: " (stopped early)",
    LISTED_CUT_OFF: " (cut off)",
}
TEXT_UPDATE_S = 0.1  # at most this often a streamed text update (each costs about the new text)
PURPOSE = (
    "Write an illustrated article from a brief. The model writes; tools make the pictures; fix anything on its card."
)


def _block_notice(sess: Session, block_id: str) -> tuple[str, bool]:
    """The outcome ``perform`` left on the block (or on the article), and whether it is an error."""
    with contextlib.suppress(NotFound):
        b = sess.view.block(block_id)
        if b.notice:
            return b.notice, b.notice_error
    return sess.view.notice, sess.view.notice_error


def code_label(two_phase_code: bool) -> str:
    """The editor's code field: where the model writes chart code in a second call, it may stay empty."""
    return "Chart code (Python, matplotlib)" + ("; leave empty and the model writes it" if two_phase_code else "")


def build_app(studio: Studio) -> gr.Blocks:
    """The Blocks app over a shared ``Studio``; launch it with ``launch(app, studio, ...)``."""
    stream_diff.install()  # Gradio's own diff rebuilds shrinking nested lists wrongly
    services = studio.services
    on_sources: list[str] = [s for s in SOURCES if services.availability[s].ok]
    upload_roots = (Path(get_upload_folder()), Path(tempfile.gettempdir()) / "gradio")

    def view_page(sess: Session) -> dict[str, Any]:
        # the session's own services: a run may have picked another backend than the studio's
        return page(sess.view, sess.services().two_phase_code)

    with gr.Blocks(title="LLM-I Studio") as app:
        state = gr.State(None)
        api_out = gr.JSON(visible=False, label="api")
        gr.HTML(f"<h1>LLM-I Studio</h1><p>{PURPOSE}</p>", elem_id="studio-title", padding=False)
        gr.HTML(chips_html(studio), elem_id="tool-chips", padding=False)
        with gr.Row(elem_id="studio-body"):  # ids: the phone layout (static/layout.css)
            with gr.Column(scale=1, min_width=260, elem_id="studio-tools"):
                project_pick = gr.Dropdown(label="Project", choices=[], elem_id="project-pick", interactive=True)
                article_list = gr.Radio(label="Articles in this project", choices=[], elem_id="article-list")
                with gr.Accordion("Project", open=False, elem_id="project-box"):
                    project_name = gr.Textbox(label="Name", elem_id="project-name")
                    with gr.Row():
                        new_btn = gr.Button("New", elem_id="project-new", size="sm")
                        rename_btn = gr.Button("Rename", elem_id="project-rename", size="sm")
                        dup_btn = gr.Button("Duplicate", elem_id="project-duplicate", size="sm")
                        del_btn = gr.Button("Delete…", elem_id="project-delete", size="sm", variant="stop")
                    with gr.Row(visible=False) as confirm_row:
                        del_yes = gr.Button("Yes, delete it", elem_id="project-delete-yes", size="sm", variant="stop")
                        del_no = gr.Button("Keep it", elem_id="project-delete-no", size="sm")
                    undo_btn = gr.Button("Undo delete", elem_id="project-undo", size="sm", visible=False)
                    deleted_id = gr.State(None)
                project_msg = Message(elem_id="project-msg")
                with gr.Accordion("Export", open=False, elem_id="export-box"):
                    fmt = gr.Dropdown(["html", "pdf", "md", "docx"], value="html", label="Format")
                    appendix = gr.Checkbox(value=True, label="Appendix: the tool calls behind every image")
                    keep_unfinished = gr.Checkbox(
                        value=False,
                        label="Keep unfinished figures as “Figure missing” boxes",
                        elem_id="keep-unfinished",
                    )
                    export_btn = gr.Button("Export this article", elem_id="export", size="sm")
                    checklist = gr.HTML("", elem_id="publish-check", padding=False)
                    export_anyway = gr.Button("Export anyway", elem_id="export-anyway", size="sm", visible=False)
                    export_msg = Message(elem_id="export-msg")
                    download = gr.File(label="Download", elem_id="download")
                    add_preference_export(studio, state, download)
                with gr.Accordion("Your taste model", open=False, elem_id="taste-box"):
                    add_taste_training(studio, state)
                with gr.Accordion("Rate this article", open=False):
                    thumbs = gr.Radio(["up", "down", "none"], value="none", label="Thumbs")
                    stars = gr.Slider(0, 5, step=1, value=0, label="Stars (0: none)")
                    comment = gr.Textbox(label="Comment")
                    rate_btn = gr.Button("Rate", elem_id="rate", size="sm")
                    rate_msg = Message(elem_id="rate-msg")
                with gr.Accordion("Settings", open=False):
                    set_backend = gr.Radio(["embedded", "openai"], value=studio.settings.backend, label="Backend")
                    set_url = gr.Textbox(  # never the URL's user:password@ (base_urls)
                        value=redact_url(studio.settings.openai_base_url), label="OpenAI-compatible base URL"
                    )
                    set_model = gr.Textbox(value=studio.settings.openai_model, label="Model (empty: first listed)")
                    test_btn = gr.Button("Test connection", elem_id="test-connection", size="sm")
                    test_msg = Message(elem_id="test-msg")
                    Message(value=f"Model: {services.backend.describe()}")
            with gr.Column(scale=3, elem_id="studio-main"):
                with gr.Row(elem_id="brief-row"):
                    brief = gr.Textbox(
                        label="Brief (Ctrl/Cmd+Enter writes)", lines=2, max_lines=8, elem_id="brief", scale=5,
                        placeholder="What should the article be about?",
                    )  # fmt: skip
                    with gr.Column(scale=1, min_width=150):
                        write_btn = gr.Button("Write", variant="primary", elem_id="write")
                        stop_btn = gr.Button("Stop", variant="stop", elem_id="stop", visible=False)
                        images_btn = gr.UploadButton(
                            "Add images", file_count="multiple", file_types=["image"], size="sm", elem_id="add-images"
                        )
                attached = gr.State([])
                attached_msg = Message(elem_id="attached")
                write_msg = Message(elem_id="write-msg")
                with gr.Accordion("Options", open=False):
                    wanted = gr.Number(
                        value=0, precision=0, minimum=0, maximum=10, label="Images wanted (0: model decides)"
                    )
                    tools_pick = gr.CheckboxGroup(
                        [(TOOL_NAMES[s], s) for s in on_sources],
                        value=on_sources,
                        label="Tools allowed (tools that are off are not offered)",
                    )
                    style = gr.Textbox(label="Article-wide style", placeholder="e.g. watercolour, muted colours")
                    quality = gr.Number(
                        value=1,
                        precision=0,
                        minimum=1,
                        maximum=8,
                        elem_id="quality",
                        label="Quality mode: candidates to write, the best is kept (1: off)",
                    )
                with gr.Accordion("Paste an LLM-I response (render mode)", open=False, elem_id="render-box"):
                    response_box = gr.Textbox(
                        label="Text with <imgen> tags; the tools make the images", lines=6, elem_id="response"
                    )
                    response_source = gr.Textbox(
                        label="Where it came from (e.g. the model's name): kept with the article and its reward data",
                        value="",  # a default: API clients that send three values still work
                        elem_id="response-source",
                    )
                    render_btn = gr.Button("Render", elem_id="render", size="sm")
                with gr.Row():
                    copy_btn = gr.Button("Copy as Markdown", size="sm", elem_id="copy-md", scale=0)
                    rich_btn = gr.Button("Copy as rich text", size="sm", elem_id="copy-rich", scale=0)
                    link_images = gr.Checkbox(
                        value=False,
                        label="Link images to this studio (instead of embedding them)",
                        elem_id="link-images",
                    )
                    copy_msg = Message(elem_id="copy-msg")
                markdown_out = gr.Textbox(visible=False, elem_id="markdown-out")
                html_out = gr.Textbox(visible=False, elem_id="html-out")
                article = gr.HTML(
                    value=page(Session(studio).view), html_template=TEMPLATE, js_on_load=SCRIPT + LAYOUT_SCRIPT,
                    elem_id="article", padding=False,
                )  # fmt: skip
            with gr.Column(scale=1, min_width=260, elem_id="revise-panel"):
                add_revise_panel(studio, state, article, api_out, view_page)
        with gr.Column(visible=False, elem_id="call-editor") as editor:
            ed_title = Message(elem_id="editor-title")
            ed_block = gr.Textbox(visible=False)
            tool_choices = [(TOOL_NAMES[s] + ("" if s in on_sources else " (off)"), s) for s in SOURCES]
            ed_tool = gr.Radio(tool_choices, label="Tool (the block keeps its own unless you pick another)",
                               elem_id="editor-tool")  # fmt: skip
            ed_desc = gr.Textbox(label="Description (the caption)", elem_id="editor-description")
            ed_query = gr.Textbox(label="Search query", elem_id="editor-query")
            ed_prompt = gr.Textbox(label="Prompt", lines=3, elem_id="editor-prompt")
            ed_index = gr.Dropdown(label="Image to edit", choices=[], elem_id="editor-index")
            with gr.Row():
                ed_code = gr.Code(language="python", label=code_label(services.two_phase_code), lines=12,
                                  elem_id="editor-code", scale=3)  # fmt: skip
                ed_data = gr.Textbox(label="Chart data (label: value, one per line; change it to redraw)",
                                     lines=12, elem_id="editor-data", scale=2)  # fmt: skip
            with gr.Row():
                ed_run = gr.Button("Run this call", variant="primary", elem_id="editor-run")
                ed_close = gr.Button("Close", elem_id="editor-close")
            ed_msg = Message(elem_id="editor-msg")
        follow = gr.Timer(1.0, active=False)

        ed_outs = [editor, ed_title, ed_block, ed_tool, ed_desc, ed_query, ed_prompt, ed_index, ed_code, ed_data,
                   ed_msg]  # fmt: skip

        def editor_values(sess: Session, block_id: str, tool: str | None) -> list[Any]:
            b = sess.view.block(block_id)
            form = form_for(b, tool, on_sources, sess.view)
            number = next((i for i, x in enumerate(b for b in sess.view.blocks if b.kind == "image")
                           if x.id == block_id), 0) + 1  # fmt: skip
            title = f"Image {number}: edit the call. {b.description[:200]}"
            choices = edit_choices(sess.view, b)
            shown = {f: form.shown(f) for f in FIELDS}
            return [
                gr.update(visible=True), title, block_id, form.tool, form.description,
                gr.update(visible=shown["query"], value=form.query),
                gr.update(visible=shown["prompt"], value=form.prompt),
                gr.update(visible=shown["img_index"], choices=choices, value=form.img_index),
                gr.update(visible=shown["code"], value=form.code, label=code_label(sess.services().two_phase_code)),
                gr.update(visible=shown["data"], value=form.data), "",
            ]  # fmt: skip

        # --- card actions: every one is parsed by card_actions.parse_action (inside perform) ----------
        def on_act(sess: Session | None, evt: gr.EventData) -> Iterator[tuple[Any, ...]]:
            sess = session_of(studio, sess)
            skip_editor = [gr.skip()] * len(ed_outs)
            data = evt.action if isinstance(getattr(evt, "action", None), dict) else {}
            try:
                action = parse_action(data)
            except ActionRefused:
                perform(sess, data, upload_roots)  # leaves the refusal on the block
                yield (sess, view_page(sess), gr.skip(), *skip_editor)
                return
            if isinstance(action, OpenEditor):
                try:
                    yield (sess, gr.skip(), gr.skip(), *editor_values(sess, action.block, None))
                except NotFound:
                    yield (sess, view_page(sess), gr.skip(), *skip_editor)
                return
            if mark_busy(sess.view, action):
                yield (sess, view_page(sess), gr.skip(), *skip_editor)
            perform(sess, action, upload_roots)
            yield (sess, view_page(sess), article_json(sess), *skip_editor)

        article.act(on_act, [state], [state, article, api_out, *ed_outs], show_progress="hidden",
                    concurrency_limit=studio.settings.ui_concurrency, concurrency_id="act")  # fmt: skip

        # --- typing in place: the editor's autosave (web/src/editor.js via page.js), one text at a time
        def on_save(sess: Session | None, evt: gr.EventData) -> tuple[Any, ...]:
            sess = session_of(studio, sess)
            data = evt.action if isinstance(getattr(evt, "action", None), dict) else {}
            perform(sess, {**data, "act": tag(SaveText)}, upload_roots)  # a refusal is left on the block
            notice, failed = _block_notice(sess, str(data.get("block") or ""))
            # the editor's answer to this one save (its `seq`): stored, or why not (plain text: the
            # indicator sets it as textContent)
            answer = {"seq": data.get("seq"), "error": notice[:600] if failed else ""}
            return sess, {**view_page(sess), "saved": answer}

        article.save_text(on_save, [state], [state, article], show_progress="hidden", trigger_mode="multiple",
                          concurrency_limit=studio.settings.ui_concurrency, concurrency_id="act")  # fmt: skip

        def tool_changed(sess: Session | None, block_id: str, tool: str) -> list[Any]:
            if sess is None or sess.user != request_user() or not block_id:
                return [gr.skip()] * len(ed_outs)
            with contextlib.suppress(NotFound):
                return editor_values(sess, block_id, tool)
            return [gr.skip()] * len(ed_outs)

        ed_tool.input(tool_changed, [state, ed_block, ed_tool], ed_outs, show_progress="hidden")

        def run_call(sess: Session | None, block_id: str, tool: str, desc: str, query: str, prompt: str,
                     index: Any, code: str, data: str = "") -> Iterator[tuple[Any, ...]]:  # fmt: skip
            sess = session_of(studio, sess)
            call = {"act": tag(EditCall), "block": block_id, "tool": tool, "description": desc or "",
                    "query": query or "", "prompt": prompt or "", "code": code or "", "img_index": index,
                    "data": data or ""}  # fmt: skip
            if mark_busy(sess.view, call):
                yield sess, view_page(sess), gr.skip(), gr.skip(), "Running…"
            perform(sess, call, upload_roots)
            notice, failed = _block_notice(sess, block_id)
            yield sess, view_page(sess), article_json(sess), gr.update(visible=failed), notice

        ed_run.click(run_call, [state, ed_block, ed_tool, ed_desc, ed_query, ed_prompt, ed_index, ed_code, ed_data],
                     [state, article, api_out, editor, ed_msg], show_progress="hidden",
                     concurrency_limit=studio.settings.ui_concurrency, concurrency_id="act")  # fmt: skip
        ed_close.click(lambda: gr.update(visible=False), None, editor, show_progress="hidden")

        # --- writing -------------------------------------------------------------------------------
        def stream(sess: Session, events: Iterator[tuple[Any, Any]]) -> Iterator[tuple[Any, ...]]:
            last = 0.0
            buttons = (gr.update(visible=True), gr.update(interactive=False))
            for event, _ in events:
                now = time.monotonic()
                if isinstance(event, TextDelta) and now - last < TEXT_UPDATE_S:
                    continue
                last = now
                listed: tuple[Any, Any] = (gr.skip(), gr.skip())
                if event is None:  # the article exists now: list it (the only list refresh while writing)
                    listed = lists(sess)
                if isinstance(event, ArticleDone):
                    payload: Any = article_json(sess)
                    buttons = (gr.update(visible=False), gr.update(interactive=True))
                    listed = lists(sess)
                else:
                    payload = event_dict(event) if event is not None else {"type": "started"}
                payload["sent_at"] = time.time()  # when the update left the handler: bench/ui_sessions.py
                yield (sess, view_page(sess), payload, "", *buttons, *listed)

        def generate(
            sess: Session | None, text: str, files: Any, n: float | None, tools: list[str], sty: str,
            backend: str, base_url: str, model: str, candidates: float | None = 1,
        ) -> Iterator[tuple[Any, ...]]:  # fmt: skip
            sess = session_of(studio, sess)
            idle = (gr.update(visible=False), gr.update(interactive=True))
            if not (text or "").strip():
                yield (sess, gr.skip(), gr.skip(), "Write a brief first: what should the article be about?", *idle,
                       gr.skip(), gr.skip())  # fmt: skip
                return
            try:
                sess.check_brief(text.strip())
                images = read_uploads(files)
            except (UploadRefused, OSError, Refused) as exc:
                yield (sess, gr.skip(), gr.skip(), f"Not written: {exc}", *idle, gr.skip(), gr.skip())
                return
            brief_value = Brief(text.strip(), int(n) if n else None, images, (sty or "").strip())
            options = RunOptions(backend, base_url, model, tuple(tools or ()), brief_value.wanted_images, sty or "",
                                 quality=max(1, int(candidates or 1)))  # fmt: skip
            try:
                sess.check_options(options)
            except BaseUrlRefused as exc:
                yield (sess, gr.skip(), gr.skip(), f"Not written: {exc}", *idle, gr.skip(), gr.skip())
                return
            yield from stream(sess, sess.generate(brief_value, options))

        def render(
            sess: Session | None, text: str, response: str, sty: str, source: str = ""
        ) -> Iterator[tuple[Any, ...]]:
            """Execute an existing LLM-I response (text with tags) as a new article; the brief box's
            text is its brief, ``source`` where the user says it came from."""
            sess = session_of(studio, sess)
            if not (response or "").strip():
                yield (sess, gr.skip(), gr.skip(), "Paste a response with <imgen> tags first.",
                       gr.update(visible=False), gr.update(interactive=True), gr.skip(), gr.skip())  # fmt: skip
                return
            brief_value = Brief((text or "").strip(), style=sty or "")
            yield from stream(sess, sess.generate(brief_value, response=response, response_source=source or ""))

        write_outs = [state, article, api_out, write_msg, stop_btn, write_btn, project_pick, article_list]

        def lists(sess: Session | None) -> tuple[Any, Any]:
            sess = session_of(studio, sess)
            projects = [(p.name, p.id) for p in sess.projects()]
            arts = [(label + _SUFFIX.get(status, ""), aid) for aid, label, status in sess.articles()]
            return gr.update(choices=projects, value=sess.project_id), gr.update(choices=arts, value=sess.article_id)

        limit = studio.settings.ui_concurrency
        write_inputs = [state, brief, attached, wanted, tools_pick, style, set_backend, set_url, set_model, quality]
        write_btn.click(generate, write_inputs, write_outs, api_name="generate", concurrency_limit=limit,
                        concurrency_id="generate", show_progress="hidden")  # fmt: skip
        render_btn.click(render, [state, brief, response_box, style, response_source], write_outs, api_name="render",
                         concurrency_limit=limit, concurrency_id="generate", show_progress="hidden")  # fmt: skip

        def stop(sess: Session | None) -> str:
            sess = session_of(studio, sess)  # another user's session is never this request's
            if sess.article_id is None or not studio.stop(sess.article_id):
                return "Nothing is being written."
            return "Stopping: what was written is kept."

        stop_btn.click(stop, [state], write_msg, api_name="stop", show_progress="hidden")

        def resume(sess: Session | None, backend: str, base_url: str, model: str) -> Iterator[tuple[Any, ...]]:
            sess = session_of(studio, sess)
            try:
                options = RunOptions(backend, base_url, model)
                sess.check_options(options)
                events = continue_writing(sess, options)
                first = next(events)
            except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
                yield (sess, gr.skip(), gr.skip(), f"Not continued: {reason(exc)}", gr.update(visible=False),
                       gr.update(interactive=True), gr.skip(), gr.skip())  # fmt: skip
                return
            yield from stream(sess, itertools.chain([first], events))

        continue_btn = gr.Button("continue", elem_id="continue-btn", elem_classes=["hidden-trigger"])
        continue_btn.click(resume, [state, set_backend, set_url, set_model], write_outs, api_name="continue",
                           concurrency_limit=limit, concurrency_id="generate", show_progress="hidden")  # fmt: skip

        def attach(files: Any, current: list[str]) -> tuple[list[str], str]:
            paths = list(current or []) + upload_paths(files)
            kept, refused = [], []
            for path in paths:
                try:
                    check_image(Path(path).read_bytes(), valid_text(Path(path).name))
                    kept.append(path)
                except (UploadRefused, OSError) as exc:
                    refused.append(str(exc))
            names = ", ".join(valid_text(Path(p).name) for p in kept)  # a name is text entering the studio
            msg = (f"Images for the article: {names}" if kept else "") + "".join(f"\n\nRefused: {r}" for r in refused)
            return kept, msg

        images_btn.upload(attach, [images_btn, attached], [attached, attached_msg], show_progress="hidden")

        wire_projects(
            studio,
            ProjectWidgets(
                state=state,
                article=article,
                api_out=api_out,
                project_pick=project_pick,
                article_list=article_list,
                project_name=project_name,
                project_msg=project_msg,
                follow=follow,
                new_btn=new_btn,
                rename_btn=rename_btn,
                dup_btn=dup_btn,
                del_btn=del_btn,
                confirm_row=confirm_row,
                del_yes=del_yes,
                del_no=del_no,
                deleted_id=deleted_id,
                undo_btn=undo_btn,
                app=app,
                rate_btn=rate_btn,
                thumbs=thumbs,
                stars=stars,
                comment=comment,
                rate_msg=rate_msg,
                test_btn=test_btn,
                set_backend=set_backend,
                set_url=set_url,
                set_model=set_model,
                test_msg=test_msg,
                view_page=view_page,
                lists=lists,
                after_open=follow_buttons(state, stop_btn, write_btn),
            ),
        )
        wire_publish(
            studio,
            PublishWidgets(
                state=state,
                appendix=appendix,
                checklist=checklist,
                copy_btn=copy_btn,
                copy_msg=copy_msg,
                download=download,
                export_anyway=export_anyway,
                export_btn=export_btn,
                export_msg=export_msg,
                fmt=fmt,
                html_out=html_out,
                keep_unfinished=keep_unfinished,
                link_images=link_images,
                markdown_out=markdown_out,
                rich_btn=rich_btn,
            ),
        )
        action_endpoints(studio, state, api_out, upload_roots)
        history_endpoints(studio, state, api_out)
        add_suggestions(studio, state, article, api_out, view_page)  # ask about a selection (ui_suggest)
    return app
