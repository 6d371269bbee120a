"""The project side of the page: projects and their articles, the page URL on load, following
an article another tab writes, and rating the article.
Wired by ``studio.app.ui.build_app`` onto its components (``ProjectWidgets``, each by name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from models.errors import Refused
from studio.app.failures import explain, reason
from studio.app.session import Session, Studio
from studio.app.ui_server import article_json, connection_report, session_of
from studio.app.ui_team import request_user
from studio.app.ui_text import text_html, whole_number


@dataclass(frozen=True)
class ProjectWidgets:
    """The components and helpers of ``build_app`` that the project side wires, each by name."""

    state: Any
    article: Any
    api_out: Any
    project_pick: Any
    article_list: Any
    project_name: Any
    project_msg: Any
    follow: Any
    new_btn: Any
    rename_btn: Any
    dup_btn: Any
    del_btn: Any
    confirm_row: Any
    del_yes: Any
    del_no: Any
    deleted_id: Any
    undo_btn: Any
    app: Any
    rate_btn: Any
    thumbs: Any
    stars: Any
    comment: Any
    rate_msg: Any
    test_btn: Any
    set_backend: Any
    set_url: Any
    set_model: Any
    test_msg: Any
    view_page: Any
    lists: Any
    # chained after every open and follow tick: the Write / Stop buttons of a following tab (ui_layout)
    after_open: Any = None


def wire_projects(studio: Studio, ui: ProjectWidgets) -> None:
    state = ui.state
    article = ui.article
    api_out = ui.api_out
    project_pick = ui.project_pick
    article_list = ui.article_list
    project_name = ui.project_name
    project_msg = ui.project_msg
    follow = ui.follow
    new_btn = ui.new_btn
    rename_btn = ui.rename_btn
    dup_btn = ui.dup_btn
    del_btn = ui.del_btn
    confirm_row = ui.confirm_row
    del_yes = ui.del_yes
    del_no = ui.del_no
    deleted_id = ui.deleted_id
    undo_btn = ui.undo_btn
    app = ui.app
    rate_btn = ui.rate_btn
    thumbs = ui.thumbs
    stars = ui.stars
    comment = ui.comment
    rate_msg = ui.rate_msg
    test_btn = ui.test_btn
    set_backend = ui.set_backend
    set_url = ui.set_url
    set_model = ui.set_model
    test_msg = ui.test_msg
    view_page = ui.view_page
    lists = ui.lists

    def chained(dependency: Any) -> None:
        if ui.after_open is not None:
            ui.after_open(dependency)

    # --- projects and articles -----------------------------------------------------------------
    def opened(sess: Session, msg: str = "") -> tuple[Any, ...]:
        name = next((p.name for p in sess.projects() if p.id == sess.project_id), "")
        return (sess, view_page(sess), article_json(sess), *lists(sess), name, msg,
                gr.Timer(active=sess.view.elsewhere))  # fmt: skip

    open_outs = [state, article, api_out, project_pick, article_list, project_name, project_msg, follow]

    def guarded(fn: Any) -> Any:
        def handler(sess: Session | None, *args: Any) -> tuple[Any, ...]:
            sess = session_of(studio, sess)
            try:
                msg = fn(sess, *args)
            except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
                return (sess, *[gr.skip()] * 5, f"Not done: {reason(exc)}", gr.skip())
            return opened(sess, msg)

        return handler

    def p_open(sess: Session, pid: Any) -> str:
        if pid in (None, ""):
            raise Refused("pick a project")
        if whole_number(pid, "the project id") != sess.project_id:
            sess.open_project(whole_number(pid, "the project id"))
        return "" if sess.article_id else "This project has no article yet: write one."

    def a_open(sess: Session, aid: Any) -> str:
        if aid not in (None, "") and whole_number(aid, "the article id") != sess.article_id:
            sess.open_article(whole_number(aid, "the article id"))
        return ""

    chained(project_pick.input(guarded(p_open), [state, project_pick], open_outs, api_visibility="private"))
    chained(article_list.input(guarded(a_open), [state, article_list], open_outs, api_visibility="private"))
    api_id = gr.Textbox(visible=False)

    def api(fn: Any, verb: str) -> Any:
        """For scripts (gradio_client): the id is checked, and a failure is an error, not a message."""

        def handler(sess: Session | None, raw_id: str) -> tuple[Any, ...]:
            sess = session_of(studio, sess)
            try:
                msg = fn(sess, whole_number(raw_id, f"the {verb} id"))
            except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
                raise gr.Error(text_html(explain(exc, f"Opening the {verb}"))) from exc
            return opened(sess, msg)

        return handler

    gr.Button(visible=False).click(api(p_open, "project"), [state, api_id], open_outs, api_name="open_project")
    gr.Button(visible=False).click(api(a_open, "article"), [state, api_id], open_outs, api_name="open_article")
    new_btn.click(guarded(lambda s, name: f"Created {s.new_project(name or '').name}."), [state, project_name],
                  open_outs, api_name="new_project")  # fmt: skip
    rename_btn.click(guarded(lambda s, name: f"Renamed to {s.rename(name or '').name}."), [state, project_name],
                     open_outs, api_name="rename_project")  # fmt: skip
    dup_btn.click(guarded(lambda s: f"Opened the copy {s.duplicate().name}."), [state], open_outs,
                  api_name="duplicate_project")  # fmt: skip
    del_btn.click(lambda s: (gr.update(visible=s is not None and s.project_id is not None),
                             "" if s and s.project_id else "No project is open."),
                  [state], [confirm_row, project_msg])  # fmt: skip
    del_no.click(lambda: gr.update(visible=False), None, confirm_row)

    def p_delete(sess: Session | None) -> tuple[Any, ...]:
        sess = session_of(studio, sess)
        try:
            info = sess.delete()
        except Exception as exc:  # the one translator
            return (*opened(sess, f"Not deleted: {reason(exc)}"), gr.update(visible=False), gr.skip(), gr.skip())
        msg = f"Deleted “{info.name}”. It stays restorable until it is purged."
        return (*opened(sess, msg), gr.update(visible=False), info.id, gr.update(visible=True))

    del_yes.click(p_delete, [state], [*open_outs, confirm_row, deleted_id, undo_btn], api_name="delete_project")

    def p_undo(sess: Session | None, pid: int | None) -> tuple[Any, ...]:
        sess = session_of(studio, sess)
        if pid is None:
            return (*opened(sess, "Nothing to undo."), gr.update(visible=False))
        info = sess.restore(int(pid))
        return (*opened(sess, f"Restored “{info.name}”."), gr.update(visible=False))

    undo_btn.click(p_undo, [state, deleted_id], [*open_outs, undo_btn], api_name="restore_project")

    def on_load(sess: Session | None, request: gr.Request) -> tuple[Any, ...]:
        """A new tab: its own session, opening the project/article its URL names."""
        sess = session_of(studio, sess)
        q = dict(request.query_params) if request is not None else {}
        msg = ""
        try:
            if q.get("article"):
                project = whole_number(q["project"], "the project id") if q.get("project") else None
                sess.open_article(whole_number(q["article"], "the article id"), project)
            elif q.get("project"):
                sess.open_project(whole_number(q["project"], "the project id"))
        except Exception as exc:  # the one translator
            msg = f"Could not open the page's address ({reason(exc)}); pick a project from the list."
        return opened(sess, msg)

    chained(app.load(on_load, [state], open_outs, api_visibility="private"))

    def follow_tick(sess: Session | None) -> tuple[Any, ...]:
        if sess is None or sess.user != request_user() or sess.article_id is None or not sess.view.elsewhere:
            return sess, gr.skip(), gr.Timer(active=False)
        sess.reload()
        return sess, view_page(sess), gr.Timer(active=sess.view.elsewhere)

    chained(follow.tick(follow_tick, [state], [state, article, follow], show_progress="hidden"))

    # --- article-wide: rating (export and copying: studio.app.ui_publish) ----------------------
    def rate(sess: Session | None, th: str, st: float, text: str) -> str:
        try:
            session_of(studio, sess).rate(thumbs={"up": 1, "down": -1}.get(th), stars=int(st) or None,
                                        comment=text or "")  # fmt: skip
        except Exception as exc:  # the one translator
            return f"Not rated: {reason(exc)}"
        return "Thanks: rating saved."

    rate_btn.click(rate, [state, thumbs, stars, comment], rate_msg, api_name="rate")

    def test_connection(backend: str, base_url: str, model: str) -> str:
        return connection_report(studio, backend, base_url, model)

    test_btn.click(test_connection, [set_backend, set_url, set_model], test_msg, api_name="test_connection")
