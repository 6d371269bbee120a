"""Ask about a selection, in the page and as named API endpoints (gradio glue only).

The page: ``static/suggest.js`` (the ``js_on_load`` of a small ``gr.HTML``, the suggestion
layer) watches the selection inside any element with ``data-block-id`` (the editor's text
blocks) or ``data-block`` (today's rendered paragraphs), offers the menu (shorten, expand,
simplify, change tone, translate, fix grammar, ask…) and sends one ``suggest`` event; the
handler streams the suggestion's state (``Session.suggest``) into the layer's value, and the
script shows it in place as a tracked change. The writer's decision is one ``decide`` event;
the article is then reloaded from the store like after any card action.

The API: ``/suggest`` (block, text, before, action, detail; streams the same states, the last
one finished with its ``id`` and ``changes``) and ``/suggest_decide`` (suggestion, accept:
"all", "none" or change ids such as "c1,c3"; returns the article and the outcome). A refusal or
failure is a plain-text ``gr.Error`` (``failures.explain``), in the page a message on the block.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from models.errors import NotFound
from studio.app.failures import explain
from studio.app.session import Session, Studio
from studio.app.ui_assets import asset
from studio.app.ui_server import article_json, session_of
from studio.app.ui_text import text_html

SCRIPT = asset("suggest.js")
# the layer shows nothing itself: its script draws the suggestion into the article
TEMPLATE = '<span class="suggest-layer"></span>'
SUGGEST_FIELDS = ("block", "text", "before", "action", "detail")
DECIDE_FIELDS = ("suggestion", "accept")


def _named(handler: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., Any]:
    """The client's parameter names (client.predict(block="b2", text="...", api_name="/suggest"))."""
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("sess", *names)]
    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return handler


def _leave(sess: Session, block_id: str, message: str, *, error: bool) -> None:
    """The outcome on the block it concerns (or on the article when the block is gone)."""
    try:
        b = sess.view.block(block_id)
    except NotFound:
        sess.view.notice, sess.view.notice_error = message, error
        return
    b.notice, b.notice_error = message, error


def add_suggestions(studio: Studio, state: Any, article: Any, api_out: Any, view_page: Callable[[Session], Any]) -> Any:
    """The suggestion layer and its two events, and the ``/suggest`` and ``/suggest_decide``
    endpoints; called inside ``build_app``'s Blocks. Returns the layer."""
    limit = studio.settings.ui_concurrency
    # the page's Stop: a streaming suggestion's random token (made by the page) -> its stop flag
    streaming: dict[str, threading.Event] = {}

    def stop_suggestion(token: str) -> bool:
        """Stop the suggestion streaming under ``token`` (its model stream is closed at once)."""
        flag = streaming.get(str(token))
        if flag is not None:
            flag.set()
        return flag is not None

    layer = gr.HTML(value=None, html_template=TEMPLATE, js_on_load=SCRIPT, elem_id="suggest-layer", padding=False,
                    server_functions=[stop_suggestion])  # fmt: skip

    def on_suggest(sess: Session | None, evt: gr.EventData) -> Iterator[tuple[Any, ...]]:
        sess = session_of(studio, sess)
        ask = evt.ask if isinstance(getattr(evt, "ask", None), dict) else {}
        block, nonce, token = str(ask.get("block") or ""), ask.get("nonce"), str(ask.get("token") or "")
        flag = threading.Event()
        if len(token) >= 16:  # a token too short to be unguessable gets no Stop
            streaming[token] = flag
        try:
            for st in sess.suggest(block, str(ask.get("text") or ""), str(ask.get("before") or ""),
                                   str(ask.get("action") or ""), str(ask.get("detail") or ""),
                                   cancel=flag.is_set):  # fmt: skip
                yield sess, {**st, "nonce": nonce}
        except Exception as exc:  # the one translator; the reason goes next to the selection
            yield sess, {"block": block, "nonce": nonce, "error": explain(exc, "Suggestion"), "segments": []}
        finally:
            streaming.pop(token, None)

    def on_decide(sess: Session | None, evt: gr.EventData) -> tuple[Any, ...]:
        sess = session_of(studio, sess)
        decision = evt.decision if isinstance(getattr(evt, "decision", None), dict) else {}
        block = str(decision.get("block") or "")
        try:
            message = sess.decide_suggestion(str(decision.get("suggestion") or ""), str(decision.get("accept") or ""))
            _leave(sess, block, message, error=False)
        except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
            _leave(sess, block, explain(exc, "Saving the suggestion"), error=True)
        return sess, view_page(sess), None, article_json(sess)

    layer.suggest(on_suggest, [state], [state, layer], show_progress="hidden", concurrency_limit=limit,
                  concurrency_id="act")  # fmt: skip
    layer.decide(on_decide, [state], [state, article, layer, api_out], show_progress="hidden",
                 concurrency_limit=limit, concurrency_id="act")  # fmt: skip

    def api_suggest(sess: Session | None, *values: Any) -> Iterator[tuple[Any, ...]]:
        sess = session_of(studio, sess)
        block, text, before, action, detail = (str(v or "") for v in values)
        try:
            for st in sess.suggest(block, text, before, action or "shorten", detail):
                yield sess, st
        except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
            raise gr.Error(text_html(explain(exc, "Suggest"))) from exc

    def api_decide(sess: Session | None, suggestion: Any, accept: Any) -> tuple[Any, ...]:
        sess = session_of(studio, sess)
        try:
            message = sess.decide_suggestion(str(suggestion or ""), str(accept if accept is not None else "all"))
        except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
            raise gr.Error(text_html(explain(exc, "Suggest decide"))) from exc
        return sess, {**article_json(sess), "message": message}

    def hidden(name: str, value: str | None = None) -> gr.Textbox:
        return gr.Textbox(visible=False, label=name, value=value)

    suggest_inputs = [state, hidden("block"), hidden("text"), hidden("before", ""), hidden("action", "shorten"),
                      hidden("detail", "")]  # fmt: skip
    gr.Button(visible=False).click(_named(api_suggest, SUGGEST_FIELDS), suggest_inputs, [state, api_out],
                                   api_name="suggest", concurrency_limit=limit, concurrency_id="act")  # fmt: skip
    decide_inputs = [state, hidden("suggestion"), hidden("accept", "all")]
    decide_button = gr.Button(visible=False)
    decide_button.click(_named(api_decide, DECIDE_FIELDS), decide_inputs, [state, api_out], api_name="suggest_decide",
                        concurrency_limit=limit, concurrency_id="act")  # fmt: skip
    return layer
