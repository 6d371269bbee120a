"""The UI's preference export: pick the scope (this article, this project, all projects), see
how many rows it holds, then download the dataset directory as a zip (storage.pref_export).

``add_preference_export`` is called inside ``build_app``'s Blocks context; its handlers take the
browser session's ``Session`` from ``gr.State`` like every other handler.
"""

from __future__ import annotations

import shutil
from typing import Any

import gradio as gr

from studio.app.failures import explain, reason
from studio.app.private_exports import private_export_dir, seal
from studio.app.session import PrefScope, Session, Studio
from studio.app.ui_server import Message, session_of
from studio.app.ui_text import text_html

SCOPES: list[tuple[str, PrefScope]] = [
    ("this article", "article"),
    ("this project", "project"),
    ("all projects", "all"),
]


def _session(studio: Studio, sess: Session | None) -> Session:
    """This request's session: never a session of another user (``ui_server.session_of``)."""
    return session_of(studio, sess)


def counts_line(sess: Session, scope: PrefScope, keep_identical: bool) -> str:
    """What an export of this scope would hold, or why there is nothing to export."""
    try:
        counts = sess.preference_counts(scope, keep_identical=keep_identical)
    except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
        return f"Nothing to export: {reason(exc)}."
    return f"Export of {dict((v, k) for k, v in SCOPES)[scope]}: {counts.summary()}."


def add_preference_export(studio: Studio, state: Any, download: Any) -> None:
    """The scope picker, the counts and the export button, wired to ``download``."""
    with gr.Row():
        scope = gr.Radio(SCOPES, value="project", label="Preference data of", elem_id="prefs-scope", scale=2)
        keep = gr.Checkbox(False, label="keep identical pairs (flagged)", elem_id="prefs-keep-identical", scale=1)
        count_btn = gr.Button("Count rows", elem_id="prefs-count", scale=1)
        prefs_btn = gr.Button("Export preferences (TRL dataset)", elem_id="export-prefs", scale=1)
    counts = Message(elem_id="prefs-counts")

    def count(sess: Session | None, which: PrefScope, keep_identical: bool) -> tuple[Any, str]:
        sess = _session(studio, sess)
        return sess, counts_line(sess, which, keep_identical)

    for trigger in (scope.change, keep.change):
        trigger(count, [state, scope, keep], [state, counts], api_visibility="private")
    count_btn.click(count, [state, scope, keep], [state, counts], api_name="preference_counts")

    def export_prefs(sess: Session | None, which: PrefScope, keep_identical: bool) -> tuple[Any, str, str]:
        sess = _session(studio, sess)
        out = private_export_dir(sess.user)  # only sess.user can download it (private_exports)
        try:
            result = sess.export_preferences(out / "preferences", which, keep_identical=keep_identical)
        except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
            raise gr.Error(text_html(explain(exc, "Preference export"))) from exc
        archive = shutil.make_archive(str(out / "preferences"), "zip", result.out_dir)
        seal(out)
        return sess, archive, f"Exported {dict((v, k) for k, v in SCOPES)[which]}: {result.counts.summary()}."

    prefs_btn.click(export_prefs, [state, scope, keep], [state, download, counts], api_name="export_preferences")
