"""Navigation and layout: the page's own files for them, and a following tab's buttons.

``LAYOUT_SCRIPT`` joins ``static/insert_image.js`` (drop or paste a picture anywhere) and
``static/layout.js`` (the outline, the phone layout's *Tools* menu) after ``page.js`` in the
article's ``js_on_load``; ``LAYOUT_CSS`` (``static/layout.css``) follows ``page.css`` (``launch``).

A tab that follows an article another tab (or API client) is writing shows *Stop* (enabled: it
stops that run, ``Studio.stop`` reaches it from any tab of the app) and a disabled *Write*; once
the run ends they swap back. Chained by ``ui_projects.wire_projects`` after every open and every
follow tick (``ProjectWidgets.after_open``), so they change in the same order as the article."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from studio.app.session import Session
from studio.app.ui_assets import asset
from studio.app.ui_team import request_user

LAYOUT_SCRIPT = "".join("\n" + asset(name) for name in ("insert_image.js", "layout.js"))
LAYOUT_CSS = "\n" + asset("layout.css")


def run_buttons(sess: Session | None) -> tuple[Any, Any]:
    """(Stop, Write) for what this tab shows; a tab that writes itself keeps its own (``ui.stream``)."""
    if sess is None or sess.user != request_user() or sess.writing:
        return gr.skip(), gr.skip()
    following = sess.view.elsewhere
    return gr.update(visible=following, interactive=True), gr.update(interactive=not following)


def follow_buttons(state: Any, stop_btn: Any, write_btn: Any) -> Callable[[Any], None]:
    """``after_open`` for ``ProjectWidgets``: chain the buttons after one of its events."""

    def chain(dependency: Any) -> None:
        dependency.then(run_buttons, [state], [stop_btn, write_btn], show_progress="hidden",
                        api_visibility="private")  # fmt: skip

    return chain
