"""The UI's *Train on my choices* button: trains this user's taste model as a queued job with a
progress bar and an ETA, and ends with the held-out accuracy and whether the studio uses it.

``add_taste_training`` is called inside ``build_app``'s Blocks context; the handler takes the
browser session's ``Session`` from ``gr.State`` like every other handler, so it trains on that
user's choices only. One training at a time per app (``concurrency_limit=1``): it shares two
cores with the writer.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from studio.app.failures import explain
from studio.app.session import Session, Studio
from studio.app.taste_jobs import eta_line
from studio.app.ui_server import Message, session_of
from studio.app.ui_text import text_html


def add_taste_training(studio: Studio, state: Any) -> None:
    """The button and the report line (``#taste-report``), wired to ``Session.train_taste``."""
    with gr.Row():
        train_btn = gr.Button("Train on my choices", elem_id="taste-train", scale=1)
        status_btn = gr.Button("Taste model status", elem_id="taste-status", scale=1)
    report = Message(elem_id="taste-report")

    def train(sess: Session | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, str]:  # noqa: B008
        sess = session_of(studio, sess)
        started = time.monotonic()

        def on_progress(share: float, message: str) -> None:
            progress(share, desc=eta_line(share, message, started))

        try:
            result = sess.train_taste(on_progress)
        except Exception as exc:  # every failure is a sentence (see ui_text)
            raise gr.Error(text_html(explain(exc, "Training"))) from exc
        return sess, f"Taste model {result.report.version}: {result.report.sentence()}"

    train_btn.click(
        train, [state], [state, report], api_name="train_taste", concurrency_limit=1, concurrency_id="taste"
    )

    def status(sess: Session | None) -> tuple[Any, str]:
        sess = session_of(studio, sess)
        return sess, sess.taste_status()

    status_btn.click(status, [state], [state, report], api_name="taste_status")
