"""The page the browser shows, as a value: ``page(view) -> dict`` (pure, no gradio).

The article is one ``gr.HTML`` whose value is this dict; its template (``static/article.html``)
joins the pieces; the card templates are ``templates/*.html.j2``. Each block is
``{"id", "kind", "body": [html, ...], "tools": html}``: a text block's body is one safe HTML
piece per Markdown paragraph, so while text streams only the last piece changes, and Gradio's
streamed diff carries about the new text, not the article.
Images are ``<img src="/studio-asset/<sha256>">`` (served from the content-hash store), never
base64. Each card carries its own actions (buttons with ``data-act``), handled by the page
script and sent to the server as one ``act`` event.

Everything shown comes from the model, the web or the user and is treated as hostile: text is
Markdown rendered and cleaned by the export's sanitizer (nh3 allow-list), everything else goes
through Jinja2 with autoescape, links pass ``safe_url`` (http/https only).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from functools import cache, lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from models.provenance import credit_for, is_illustrative
from models.vocab import LISTED_CUT_OFF, ArticleStatus, BlockStatus, block_status
from studio.app.continuing import can_continue
from studio.app.editor_bundle import EDITOR_OFF_NOTE, editor_url
from studio.app.ui_model import CUT_OFF_NOTE, ArticleView, BlockView, VersionView, image_url
from studio.core.routing import ROUTE_WORDS
from studio.core.words import count_label
from studio.export.html import markdown_to_safe_html
from studio.export.sources import plain, safe_url
from studio.quality.taste_rank import prefers_sentence

TOOL_NAMES = {"search": "web image", "diffusion": "generated picture", "code": "chart", "edit": "edited image"}
_FENCE = re.compile(r"^\s*(```|~~~)")


@cache
def _environment() -> jinja2.Environment:
    """The card templates (``studio/app/templates/*.html.j2``, package data), autoescaped."""
    loader = jinja2.PackageLoader("studio.app", "templates")
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)


def _template(name: str) -> jinja2.Template:
    return _environment().get_template(f"{name}.html.j2")


def _render(name: str, **values: Any) -> Markup:
    return Markup(_template(name).render(**values))


def paragraphs(text: str) -> list[str]:
    """Markdown split at blank lines outside fenced code: each piece renders on its own."""
    out: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and not line.strip() and current:
            out.append("\n".join(current))
            current = []
            continue
        current.append(line)
    if current:
        out.append("\n".join(current))
    return [p for p in out if p.strip()]


@lru_cache(maxsize=4096)
def _markdown(text: str) -> str:
    """A finished paragraph's safe HTML (cached: while an article streams, every update would
    otherwise render and sanitize every paragraph again)."""
    return str(markdown_to_safe_html(text))


def card_fields(block: BlockView) -> list[tuple[str, str]]:
    """The parameters and result facts shown on a card, per source, as plain text."""
    p, prov = block.params, block.provenance
    rows: list[tuple[str, object]] = []
    origin = credit_for(block.source, block.provenance).origin
    if origin in ("upload", "url"):
        rows += [("file", prov.get("uploaded")), ("url", prov.get("url"))]
    elif block.source == "search":
        rows += [("query", p.get("query")), ("title", prov.get("title")), ("site", prov.get("source"))]
        rows += [("creator", prov.get("creator")), ("licence", prov.get("licence") or "unknown")]
    elif block.source == "diffusion":
        rows += [("prompt", p.get("prompt")), ("seed", prov.get("seed")), ("model", prov.get("model"))]
    elif block.source == "edit":
        rows += [("edits image", p.get("img_index")), ("instruction", p.get("prompt")), ("seed", prov.get("seed"))]
    if block.source in ("diffusion", "edit"):
        rows.append(("style", prov.get("style")))
        rows.append(("server", prov.get("server")))  # an image server made it (models.image_api)
    rows.append(("chosen by", _taste_choice(prov.get("taste"))))  # Regenerate's K candidates
    return [(k, plain(v, 500)) for k, v in rows if v not in (None, "")]


def _taste_choice(taste: object) -> str | None:
    """The card's line for a version picked from Regenerate's K candidates (studio.app.taste_session):
    'your taste model prefers this (0.81) of 3 candidates'."""
    if not isinstance(taste, dict) or not isinstance(taste.get("prefers"), int | float):
        return None
    return f"{prefers_sentence(float(taste['prefers']))} of {plain(taste.get('candidates'), 10)} candidates"


def word_diff(old: str, new: str) -> Markup:
    """Word-level diff as safe HTML (for reading; spacing normalised): <del> removed, <ins> added."""
    a, b = old.split(), new.split()
    parts: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            parts.append(f"<del>{escape(' '.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{escape(' '.join(b[j1:j2]))}</ins>")
        if op == "equal":
            parts.append(str(escape(" ".join(a[i1:i2]))))
    return Markup(" ".join(parts))


def _notice(b: BlockView | ArticleView) -> Markup:
    if not b.notice:
        return Markup("")
    html = _render("notice", text=plain(b.notice, 1500), error=b.notice_error)
    if isinstance(b, ArticleView) and b.undo_block:  # a delete: the history bar's Undo brings it back
        return Markup('<div data-block="{}">{}</div>').format(plain(b.undo_block, 40), html)
    return html


def _status_text(b: BlockView) -> str:
    return _STATUS_WORDS.get(b.status, b.status)


_STATUS_WORDS: dict[str, str] = {
    BlockStatus.QUEUED: "waiting",
    BlockStatus.RUNNING: "being made",
    BlockStatus.OK: "ok",
    BlockStatus.FAILED: "failed",
    BlockStatus.INVALID: "invalid tag",
    BlockStatus.PLACEHOLDER: "placeholder (tool off)",
}
_WAITING_WORDS: dict[str, str] = {BlockStatus.QUEUED: "waiting for its turn…", BlockStatus.RUNNING: "being made…"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "image"


def _before(b: BlockView, view: ArticleView | None) -> str | None:
    """For an edit: the URL of the image it changes (user images and blocks are in the asset store)."""
    index = b.params.get("img_index")
    if b.source != "edit" or view is None or not isinstance(index, int):
        return None
    data = view.image_at(index)
    return image_url(hashlib.sha256(data).hexdigest()) if data else None


def image_card(b: BlockView, editable: bool, view: ArticleView | None = None) -> Markup:
    url = image_url(b.sha256) if b.status == BlockStatus.OK else None
    credit = credit_for(b.source, b.provenance)  # what the shown version is, by its own record
    cand = b.candidate
    link = safe_url(b.provenance.get("page_url")) if b.source == "search" else None
    ext = {"image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}.get(b.mime, ".png")
    history = [
        {"number": v.number, "origin": v.origin, "status": v.status or "", "url": image_url(v.sha256)}
        for v in b.history
    ]
    return _render(
        "card",
        id=b.id,
        before=_before(b, view),
        status=block_status(b.status),
        status_text=_status_text(b),
        url=url,
        alt=plain(b.alt or b.description, 300),
        placeholder=_WAITING_WORDS.get(b.status, "no image"),
        candidate=cand,
        editable=editable,
        description=plain(b.description, 300),
        tool=credit.label,
        credit=credit.line if b.status == BlockStatus.OK else "",
        illustrative=b.status == BlockStatus.OK and credit.origin == "chart" and is_illustrative(b.provenance),
        version=b.version,
        count=b.version_count,
        accepted=b.accepted,
        seconds=f"{b.seconds:.1f} s"
        if b.seconds and b.status != BlockStatus.PLACEHOLDER
        else "",  # a placeholder was not made
        error=plain(b.error, 1000) if b.error and b.status != BlockStatus.OK else "",
        fields=card_fields(b),
        link=link,
        link_text=plain(b.provenance.get("title") or link, 200) if link else "",
        code=str(b.params.get("code", ""))[:20_000] if b.source == "code" else "",
        raw=b.raw[:2000] if b.status == BlockStatus.INVALID else "",
        busy=b.busy,
        busy_since=b.busy_since,
        can_again=b.source is not None,
        can_accept=b.status == BlockStatus.OK and not b.accepted,
        filename=f"{_slug(b.description)}-v{b.version}{ext}",
        moves=_render("moves"),
        insert=_render("insert"),
        history=history if b.version_count > 1 else [],
        notice=_notice(b),
        routed=routed_note(b.provenance),
        routed_why=plain(str(b.provenance.get("routed_why", "")), 300),
    )


def routed_note(provenance: dict[str, Any]) -> str:
    """The card's small print for a tag the routing check sent to another tool ("routed to chart")."""
    routed_to = provenance.get("routed_to")
    if not provenance.get("routed_from") or not isinstance(routed_to, str):
        return ""
    return f"routed to {ROUTE_WORDS.get(routed_to, routed_to)}"


def text_tools(b: BlockView, editable: bool, in_place: bool = False) -> Markup:
    cand: VersionView | None = b.candidate
    return _render(
        "text_tools",
        edit_label="Edit as Markdown" if in_place else "Edit",
        busy=b.busy,
        busy_since=b.busy_since,
        editable=editable,
        text=b.text,
        rows=min(20, max(3, b.text.count("\n") + len(b.text) // 80 + 1)),
        candidate=cand,
        diff=word_diff(b.text, cand.text or "") if cand is not None else "",
        moves=_render("moves"),
        insert=_render("insert"),
        notice=_notice(b),
    )


_ENDED_WORDS: dict[str, str] = {ArticleStatus.INTERRUPTED: "stopped", ArticleStatus.FAILED: "stopped early"}


def stage(view: ArticleView, two_phase_code: bool = False) -> str:
    """What is happening now, in words."""
    if view.done:
        if view.cut_off and view.status == ArticleStatus.DONE:
            return LISTED_CUT_OFF
        return _ENDED_WORDS.get(view.status, "done")
    if view.elsewhere:
        return "being written in another tab (this view follows it)"
    images = [b for b in view.blocks if b.kind == "image"]
    for number, b in enumerate(images, 1):
        if b.status == BlockStatus.RUNNING:
            if b.source == "code" and two_phase_code and not b.params.get("code"):
                return f"writing chart code for image {number}"
            return f"running the {TOOL_NAMES.get(b.source or '', b.source)} tool for image {number}"
    if view.planning is not None:
        return f"planning picture {len(images) + 1}"
    if not view.blocks:
        return "loading the model and reading the brief"
    if any(b.status == BlockStatus.QUEUED for b in images) and view.blocks[-1].kind == "image":
        return "writing (images queued)"
    return "writing"


def head_html(view: ArticleView, two_phase_code: bool = False) -> Markup:
    """The status line over the article: state, stage and elapsed time (ticked by the page script)."""
    if not view.blocks and view.article_id is None:
        return Markup('<p class="empty">Write a brief above, or open an article from the list. '
                      "Your article appears here as it is written.</p>")  # fmt: skip
    words = count_label("".join(b.text for b in view.blocks if b.kind == "text"))
    images = [b for b in view.blocks if b.kind == "image"]
    done_images = sum(b.status == BlockStatus.OK for b in images)
    what = stage(view, two_phase_code)
    if view.done:
        took = f" in {view.elapsed:.0f} s" if view.elapsed else ""
        line = f"{what}{took}: {words}, {done_images} of {len(images)} images ok"
        state = "cut-off" if view.cut_off and view.status == ArticleStatus.DONE else view.status
        html = Markup('<p class="state state-{}">{}</p>').format(state, line)
    else:
        html = Markup('<p class="state state-running" data-since="{}">{}… <span class="elapsed"></span></p>').format(
            view.started, what
        )
    if view.error:
        html += Markup('<p class="article-error">{}</p>').format(plain(view.error, 1000))
    if view.cut_off:
        html += Markup('<p class="article-error cut-off">{}</p>').format(CUT_OFF_NOTE)
    if can_continue(view):
        html += _render("continue")
    if view.guard_note:  # the stream guards removed something: say so, never silently
        html += Markup('<p class="note guard-note">{}</p>').format(plain(view.guard_note, 600))
    if view.note:
        html += Markup('<p class="note">{}</p>').format(plain(view.note, 600))
    return history_bar(view) + html + _notice(view)


def history_bar(view: ArticleView) -> Markup:
    """Undo / Redo over a finished article (its one history, ``storage.history``): the buttons say
    what they would do; ``static/history.js`` gives them Ctrl/Cmd+Z and Shift+Ctrl/Cmd+Z."""
    if not view.done or view.elsewhere or view.article_id is None:
        return Markup("")
    return _render("history", undo=plain(view.undo_label, 200), redo=plain(view.redo_label, 200))


def block_dict(
    b: BlockView, editable: bool, view: ArticleView | None = None, streaming: bool = False, in_place: bool = False
) -> dict[str, Any]:
    """One block of the page. ``streaming``: the block the model is writing now; its unfinished
    last paragraph is sent as escaped plain text (``tail``) that only ever grows, so each
    update's diff is an append of the new characters; it is rendered as Markdown once the
    paragraph is complete. ``in_place``: an editable text block is typed into where it stands
    (``editor_block``) instead of shown as HTML."""
    if b.kind == "text" and in_place and editable:
        return editor_block(b)
    if b.kind == "text":
        pieces = paragraphs(b.text)
        tail = ""
        if streaming and pieces and not b.text.endswith("\n\n"):
            tail = str(escape(pieces.pop()))
        body = [_markdown(p) for p in pieces]
        tools = str(text_tools(b, editable)) if editable else ""
        return {"id": b.id, "kind": "text", "body": body, "tail": tail, "tools": tools}
    return {"id": b.id, "kind": "image", "body": [str(image_card(b, editable, view))], "tail": "", "tools": ""}


def editor_block(b: BlockView) -> dict[str, Any]:
    """A text block typed into in place: the page's ``<studio-text>`` element (``web/src/editor.js``)
    gets the stored Markdown (``md``) and the reason its last save was refused (``error``), both
    escaped for an attribute; the editor renders the text itself (``body`` stays empty)."""
    error = b.notice if b.notice_error else ""
    return {
        "id": b.id,
        "kind": "text",
        "body": [],
        "tail": "",
        "tools": str(text_tools(b, True, in_place=True)),
        "md": str(escape(b.text.strip())),  # markupsafe escapes quotes too: safe in an attribute
        "error": str(escape(plain(error, 600))),
    }


def page(view: ArticleView, two_phase_code: bool = False, editor: str | None = None) -> dict[str, Any]:
    """The value of the article component (see the module docstring). ``editor``: the in-place
    editor's bundle URL (None: ``editor_url()``; "" when it is not built: text is then edited in
    the Markdown box, and the head says so)."""
    editable = view.done and not view.elsewhere and view.article_id is not None
    editor = (editor_url() or "") if editor is None else editor
    last = view.blocks[-1].id if view.blocks and not view.done else None
    blocks = [
        block_dict(b, editable, view, streaming=b.id == last, in_place=bool(editor))
        for b in view.blocks
        if b.kind == "image" or b.text.strip() or editable
    ]
    if view.planning is not None and not view.done:
        blocks.append(planning_dict(view))
    head = str(head_html(view, two_phase_code))
    if editable and not editor:
        head += str(Markup('<p class="note editor-off">{}</p>').format(EDITOR_OFF_NOTE))
    return {
        "project": view.project_id,
        "article": view.article_id,
        "head": head,
        "blocks": blocks,
        "editor": editor if editable else "",
    }


def planning_dict(view: ArticleView) -> dict[str, Any]:
    """The card where the writer has opened a tag that has not closed yet: it says a picture is
    being planned (a tag can take half a minute to write). It is no block: the tag's own card
    takes its place when the tag closes, and it goes when the stream ends without one."""
    number = sum(b.kind == "image" for b in view.blocks) + 1
    body = _render("planning", index=view.planning, number=number, since=view.planning_since)
    return {"id": f"planning-{view.planning}", "kind": "planning", "body": [str(body)], "tail": "", "tools": ""}
