"""The side panel that instructs the whole article, and its named API endpoints (``/revise``,
``/revise_decide``); the session does the work (``studio.app.revising``).

The panel streams the writer's revision as a per-block diff (``revision_html``: word marks in
changed text, new, removed and kept images, a bad tag's reason on its block) and offers Accept
all, Accept selected (the blocks ticked in the list) and Discard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
from markupsafe import Markup, escape

from studio.app.failures import explain, reason
from studio.app.revising import Proposal, parse_accept
from studio.app.session import Session, Studio
from studio.app.ui_assets import asset
from studio.app.ui_page import TOOL_NAMES
from studio.app.ui_server import Message, article_json, session_of
from studio.app.ui_text import text_html
from studio.core.block_diff import Change

SAME_PREVIEW_CHARS = 140  # an unchanged text block is shown this long, greyed


def change_label(c: Change) -> str:
    """What a change is, in words ("changed text (b3)", "new image: runs when accepted")."""
    block = f" ({c.old.block_id})" if c.old is not None and c.old.block_id else ""
    if c.kind == "text" and c.old is not None and c.old.block_id:
        block = f" ({c.old.block_id} ¶{c.old.part})"
    if c.kind == "text":
        return {"same": "unchanged text", "changed": "changed text", "added": "new text",
                "removed": "removed text"}[c.op] + block  # fmt: skip
    new = c.new
    if c.op == "added" and new is not None:
        return "new image tag: not valid, it will not run" if new.error else "new image: runs when accepted"
    return {"same": "image kept", "removed": "image removed"}.get(c.op, "image") + block


def _marks(c: Change) -> Markup:
    parts = []
    for op, text in c.marks():
        if op == "=":
            parts.append(escape(text))
        else:
            parts.append(Markup("<{0}>{1}</{0}>").format("del" if op == "-" else "ins", text))
    return Markup("").join(parts)


def _body(c: Change) -> Markup:
    piece = c.new or c.old
    assert piece is not None
    if c.kind == "text":
        if c.op == "same":
            short = " ".join(piece.text.split())
            cut = short[:SAME_PREVIEW_CHARS] + ("…" if len(short) > SAME_PREVIEW_CHARS else "")
            return Markup('<div class="rv-text">{}</div>').format(cut)
        return Markup('<div class="rv-text diff">{}</div>').format(_marks(c))
    tool = TOOL_NAMES.get(piece.source or "", piece.source or "image")
    body = Markup('<div class="rv-image">{}: {}</div>').format(tool, piece.description or "(no caption)")
    if c.new is not None and c.new.error:
        body += Markup('<div class="rv-error">This tag is not valid: {}</div>').format(c.new.error)
    return body


def revision_html(p: Proposal | None) -> str:
    """The diff, block by block (everything in it is escaped: it is model output)."""
    if p is None:
        return ""
    take = Markup('<button type="button" class="rv-take" data-pick="{}" aria-pressed="false">Take this</button>')
    sections = [
        Markup(
            '<section class="rv rv-{}" data-change="{}"><div class="rv-head"><b>{}</b> {} {}</div>{}</section>'
        ).format(c.op, c.id, c.id, change_label(c), take.format(c.id) if p.done and c.decidable else "", _body(c))
        for c in p.changes
    ]
    head = Markup('<p class="rv-note">{}</p>').format(p.note) if p.note else Markup("")
    return str(Markup('<div class="revision">{}{}</div>').format(head, Markup("").join(sections)))


def _choices(p: Proposal) -> list[tuple[str, str]]:
    """One tick box per change: its id, what it is and the start of its text or caption."""
    out = []
    for c in p.decidable():
        piece = c.new or c.old
        words = " ".join((piece.text if c.kind == "text" else piece.description).split()) if piece else ""
        preview = f" — {words[:48]}{'…' if len(words) > 48 else ''}" if words else ""
        out.append((f"{c.id}: {change_label(c)}{preview}", c.id))
    return out


def _progress(p: Proposal) -> str:
    if not p.done:
        return f"The writer is revising the article… ({len(p.changes)} blocks so far)"
    n = len(p.decidable())
    if not n:
        return "The revision changes nothing." + (f" {p.note[:1].upper()}{p.note[1:]}." if p.note else "")
    return f"{n} change{'s' if n != 1 else ''}: accept all, tick blocks and accept them, or discard."


def add_revise_panel(
    studio: Studio, state: Any, article: Any, api_out: Any, view_page: Callable[[Session], dict[str, Any]]
) -> None:
    """The panel's components and events (inside the caller's column), plus the API endpoints."""
    gr.Markdown("#### Instruct the whole article", elem_id="revise-title")
    instruction = gr.Textbox(
        label="Instruction for the whole article", lines=3, elem_id="revise-instruction",
        placeholder="e.g. add a section on lenses; make it half as long; use British spelling",
    )  # fmt: skip
    with gr.Row():
        ask = gr.Button("Revise the article", variant="primary", size="sm", elem_id="revise-ask")
        stop = gr.Button("Stop", size="sm", elem_id="revise-stop")
    msg = Message(elem_id="revise-msg")
    diff = gr.HTML("", elem_id="revise-diff", padding=False, js_on_load=asset("revise.js"))
    pick = gr.CheckboxGroup([], label="Blocks to accept", elem_id="revise-pick", visible=False)
    with gr.Row(visible=False, elem_id="revise-decide") as decide_row:
        accept_all = gr.Button("Accept all", size="sm", elem_id="revise-accept-all")
        accept_some = gr.Button("Accept selected", size="sm", elem_id="revise-accept-selected")
        discard = gr.Button("Discard", size="sm", variant="stop", elem_id="revise-discard")
    limit = studio.settings.ui_concurrency
    hidden = (gr.update(choices=[], value=[], visible=False), gr.update(visible=False))

    def ask_revision(sess: Session | None, text: str) -> Iterator[tuple[Any, ...]]:
        sess = session_of(studio, sess)
        try:
            for p in sess.propose_revision(text or ""):
                shown = p.done and bool(p.decidable())
                picks = gr.update(choices=_choices(p), value=[], visible=shown) if p.done else gr.skip()
                yield sess, revision_html(p), picks, gr.update(visible=shown), _progress(p)
        except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
            yield sess, "", *hidden, f"Not revised: {reason(exc)}"

    asking = ask.click(ask_revision, [state, instruction], [state, diff, pick, decide_row, msg], show_progress="hidden",
              concurrency_limit=limit, concurrency_id="generate", api_visibility="private")  # fmt: skip

    # Stop closes the revision's stream (the engine closes the model's HTTP stream); nothing was stored
    stop.click(lambda: "Stopped: nothing was changed.", None, msg, cancels=[asking], api_visibility="private")

    def decide(sess: Session | None, accept: Any) -> Iterator[tuple[Any, ...]]:
        sess = session_of(studio, sess)
        if accept == []:
            yield sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), "Tick the blocks to accept first."
            return
        taken = _taken(sess, accept)
        try:
            for view in sess.decide_revision(accept):
                running = any(b.busy or b.status in ("queued", "running") for b in view.blocks)
                note = " New images are running…" if running else ""
                yield sess, view_page(sess), article_json(sess), "", *hidden, taken + note
        except Exception as exc:  # the one translator: a StudioError's sentence, else logged as a bug
            yield sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"Not applied: {reason(exc)}"

    outs = [state, article, api_out, diff, pick, decide_row, msg]
    options: dict[str, Any] = dict(show_progress="hidden", concurrency_limit=limit, concurrency_id="act",
                                   api_visibility="private")  # the API has /revise_decide  # fmt: skip

    def decide_all(sess: Session | None) -> Iterator[tuple[Any, ...]]:
        yield from decide(sess, "all")

    def decide_none(sess: Session | None) -> Iterator[tuple[Any, ...]]:
        yield from decide(sess, "none")

    accept_all.click(decide_all, [state], outs, **options)
    accept_some.click(decide, [state, pick], outs, **options)
    discard.click(decide_none, [state], outs, **options)
    _api_endpoints(studio, state, api_out)


def _taken(sess: Session, accept: Any) -> str:
    p = sess.revision
    if p is None:
        return ""
    taken, decision = parse_accept(accept, p)
    if decision == "discard":
        return "Discarded: the article is unchanged (the revised text is kept in each block's history)."
    return f"Accepted {len(taken)} of {len(p.decidable())} changes."


def _api_endpoints(studio: Studio, state: Any, api_out: Any) -> None:
    """``/revise(instruction)``: the diff as JSON, streamed (``changes``: id, op, kind, block,
    text, marks, tag, error); ``/revise_decide(accept)``: ``all``, ``none`` or change ids."""

    def api_revise(sess: Session | None, instruction: str) -> Iterator[tuple[Session, dict[str, Any]]]:
        sess = session_of(studio, sess)
        try:
            for p in sess.propose_revision(instruction or ""):
                yield sess, {**p.to_json(), "message": _progress(p)}
        except Exception as exc:
            raise gr.Error(text_html(explain(exc, "Revise"))) from exc

    def api_decide(sess: Session | None, accept: str) -> Iterator[tuple[Session, dict[str, Any]]]:
        sess = session_of(studio, sess)
        taken = _taken(sess, (accept or "").strip() or "none")
        try:
            for _ in sess.decide_revision(accept or "none"):
                yield sess, {**article_json(sess), "message": taken}
        except Exception as exc:
            raise gr.Error(text_html(explain(exc, "Revise"))) from exc

    limit = studio.settings.ui_concurrency
    gr.Button(visible=False).click(api_revise, [state, gr.Textbox(visible=False, label="instruction")],
                                   [state, api_out], api_name="revise", concurrency_limit=limit,
                                   concurrency_id="generate")  # fmt: skip
    gr.Button(visible=False).click(api_decide, [state, gr.Textbox(visible=False, label="accept", value="none")],
                                   [state, api_out], api_name="revise_decide", concurrency_limit=limit,
                                   concurrency_id="act")  # fmt: skip
