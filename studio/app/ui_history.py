"""The article's history on the page and through the API: the ``/undo`` and ``/redo`` named
endpoints (gradio_client: ``client.predict(api_name="/undo")``). The page's Undo / Redo buttons
and Ctrl/Cmd+Z (``static/history.js``) go through the ``act`` event like every card action
(``card_actions.Undo`` / ``Redo``); both ways run ``actions.apply``."""

from __future__ import annotations

from typing import Any

import gradio as gr

from studio.app.actions import apply
from studio.app.card_actions import Redo, Undo
from studio.app.failures import explain
from studio.app.session import Session, Studio
from studio.app.ui_server import article_json, session_of
from studio.app.ui_text import text_html


def history_endpoints(studio: Studio, state: Any, api_out: Any) -> None:
    """``/undo`` and ``/redo``: no inputs but the tab's session (its open article); the answer is
    the article JSON (with ``article.undo`` / ``article.redo``: what the next call would do) and
    ``message``; nothing to undo is a plain-text error."""
    for model, verb in ((Undo, "Undo"), (Redo, "Redo")):

        def handler(sess: Session | None, _model: Any = model, _verb: str = verb) -> tuple[Session, dict[str, Any]]:
            sess = session_of(studio, sess)
            try:
                message = apply(sess, _model())
            except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
                raise gr.Error(text_html(explain(exc, _verb))) from exc
            return sess, {**article_json(sess), "message": message}

        gr.Button(visible=False).click(handler, [state], [state, api_out], api_name=verb.lower(), concurrency_id="act",
                                       concurrency_limit=studio.settings.ui_concurrency)  # fmt: skip
