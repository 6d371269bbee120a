"""View models for the UI: engine events and stored blocks in, plain values and safe HTML out.

Pure functions, no gradio: the UI (``studio.app.ui``), the API and the tests all use them.

Everything shown comes from the model or the web and is treated as hostile. Nothing here
escapes by hand: article text is Markdown rendered and cleaned by the export's sanitizer
(``markdown_to_safe_html``, nh3 allow-list), every other value goes through a Jinja2
template with autoescape, links pass ``safe_url`` (http/https only) and images are embedded
only when their bytes really are the raster type they claim (``sniff_mime``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import cache
from typing import Any, assert_never

import jinja2
from markupsafe import Markup

from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.events import (
    ArticleDone,
    Event,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallInvalid,
    ToolCallQueued,
    ToolCallStarted,
)
from studio.export.html import markdown_to_safe_html
from studio.export.sources import plain, safe_url, sniff_mime

CUT_OFF_NOTE = "cut off: the model stopped at its token limit, so the article may end mid-sentence"
STATUSES = ("queued", "running", "ok", "failed", "invalid", "placeholder")


@dataclass
class BlockView:
    """One block as the UI shows it (a value: never shared with the engine)."""

    id: str
    kind: str  # "text" | "image"
    text: str = ""
    image_index: int | None = None
    source: str | None = None
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    error: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    image: bytes | None = None
    mime: str = "image/png"
    seconds: float = 0.0
    raw: str = ""
    version: int = 1
    version_count: int = 1
    accepted: bool = False


@dataclass
class ArticleView:
    """The article being shown; ``apply`` folds one engine event into it."""

    brief: str = ""
    user_images: list[bytes] = field(default_factory=list)
    blocks: list[BlockView] = field(default_factory=list)
    error: str | None = None
    done: bool = False
    cut_off: bool = False  # the model stopped at its token limit
    note: str = ""  # e.g. quality mode's candidate and selection reason

    def block(self, block_id: str) -> BlockView:
        for b in self.blocks:
            if b.id == block_id:
                return b
        raise KeyError(block_id)

    def image_at(self, index: int) -> bytes | None:
        """The image at a global img_index: user images first, then image blocks in order."""
        if 0 <= index < len(self.user_images):
            return self.user_images[index]
        images = [b for b in self.blocks if b.kind == "image"]
        offset = index - len(self.user_images)
        return images[offset].image if 0 <= offset < len(images) else None

    def apply(self, event: Event) -> None:
        apply_event(self, event)


def apply_event(view: ArticleView, event: Event) -> ArticleView:
    """Fold one event into ``view`` (in place, returned for chaining)."""
    match event:
        case TextDelta():
            last = view.blocks[-1] if view.blocks else None
            if last is None or last.id != event.block_id:
                last = BlockView(event.block_id, "text")
                view.blocks.append(last)
            last.text += event.text
        case ToolCallQueued():
            view.blocks.append(
                BlockView(
                    event.block_id,
                    "image",
                    image_index=event.image_index,
                    source=event.source,
                    description=event.description,
                    params=dict(event.params),
                )
            )
        case ToolCallInvalid():
            view.blocks.append(
                BlockView(
                    event.block_id,
                    "image",
                    image_index=event.image_index,
                    source=event.source,
                    description=event.description,
                    status="invalid",
                    error=event.reason,
                    raw=event.raw,
                )
            )
        case ToolCallStarted():
            view.block(event.block_id).status = "running"
        case ToolCallFinished() | ToolCallFailed():
            b = view.block(event.block_id)
            b.seconds, b.provenance = event.seconds, dict(event.provenance)
            if event.params:
                b.params = dict(event.params)
            if isinstance(event, ToolCallFinished):
                b.status, b.image, b.mime, b.error = "ok", event.image, event.mime, None
            else:
                b.status, b.error = ("placeholder" if event.placeholder else "failed"), event.error
        case ArticleDone():
            view.done, view.error, view.cut_off = True, event.error, event.cut_off
        case _:
            assert_never(event)
    return view


def view_from_article(article: Article) -> ArticleView:
    """A view of a whole article (after a run, or rebuilt from the store)."""
    view = ArticleView(brief=article.brief, user_images=list(article.user_images), error=article.error, done=True)
    view.cut_off = article.cut_off
    for block in article.blocks:
        if isinstance(block, TextBlock):
            view.blocks.append(BlockView(block.id, "text", text=block.text))
        else:
            view.blocks.append(block_view_of_image(block))
    return view


def block_view_of_image(block: ImageBlock) -> BlockView:
    return BlockView(
        block.id,
        "image",
        image_index=block.image_index,
        source=block.source,
        description=block.description,
        params=dict(block.params),
        status=block.status,
        error=block.error,
        provenance=dict(block.provenance),
        image=block.image,
        mime=block.mime,
        seconds=block.seconds,
        raw=block.raw,
    )


# --- HTML -----------------------------------------------------------------------------------

_CARD = """\
<div class="card card-{{ status }}" id="card-{{ id }}" data-block="{{ id }}" data-status="{{ status }}">
<div class="card-head"><span class="card-id">{{ id }}</span> <span class="card-source">{{ source }}</span>
<span class="card-status status-{{ status }}">{{ status }}</span>
{% if version_count > 1 %}<span class="card-version">v{{ version }}/{{ version_count }}</span>{% endif %}
{% if accepted %}<span class="card-accepted">accepted</span>{% endif %}
{% if seconds %}<span class="card-time">{{ seconds }}</span>{% endif %}</div>
<div class="card-title">{{ description }}</div>
{% if before %}<div class="card-before"><div class="card-label">before</div>\
<img alt="before" src="{{ before }}"></div>{% endif %}
{% if image %}<div class="card-image">{% if before %}<div class="card-label">after</div>{% endif %}\
<img alt="{{ description }}" src="{{ image }}"></div>{% endif %}
{% if status == "placeholder" %}<div class="card-placeholder"><div class="card-label">placeholder</div>\
<div class="placeholder-reason">{{ error }}</div><div class="placeholder-fill">Fill it: upload an image for \
block {{ id }}, or run it again (regenerate) once the tool is on.</div></div>\
{% elif error %}<div class="card-error">{{ error }}</div>{% endif %}
<dl class="card-params">{% for k, v in fields %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>
{% if link %}<div class="card-link"><a href="{{ link }}" rel="nofollow noopener noreferrer" target="_blank">\
{{ link_text }}</a></div>{% endif %}
{% if code %}<details class="card-code"><summary>code</summary><pre><code>{{ code }}</code></pre></details>{% endif %}
{% if raw %}<details class="card-raw"><summary>tag</summary><pre>{{ raw }}</pre></details>{% endif %}
</div>"""


@cache
def _card_template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_CARD)


def data_url(data: bytes | None, declared: str | None = None) -> str | None:
    """A data URL for raster bytes that really are what they claim, else None."""
    actual = sniff_mime(data)
    if actual is None or (declared and declared.lower() != actual):
        return None
    assert data is not None
    return f"data:{actual};base64,{base64.b64encode(data).decode('ascii')}"


def card_fields(block: BlockView) -> list[tuple[str, str]]:
    """The parameters and result facts shown on a card, per source, as plain text."""
    p, prov = block.params, block.provenance
    rows: list[tuple[str, object]] = []
    if block.source == "search":
        rows += [("query", p.get("query")), ("title", prov.get("title")), ("site", prov.get("source"))]
    elif block.source == "diffusion":
        rows += [("prompt", p.get("prompt")), ("seed", prov.get("seed")), ("model", prov.get("model"))]
    elif block.source == "edit":
        rows += [("edits image", p.get("img_index")), ("instruction", p.get("prompt")), ("seed", prov.get("seed"))]
    if block.source in ("diffusion", "edit"):
        rows.append(("style", prov.get("style")))  # the article-wide style the tool appended to its prompt
    return [(k, plain(v, 500)) for k, v in rows if v not in (None, "")]


def card_html(block: BlockView, view: ArticleView | None = None) -> str:
    """One tool card: state, parameters, result, error reason; safe for any block content."""
    link = safe_url(block.provenance.get("page_url")) if block.source == "search" else None
    before = None
    if block.source == "edit" and view is not None and isinstance(block.params.get("img_index"), int):
        before = data_url(view.image_at(block.params["img_index"]))
    return _card_template().render(
        id=plain(block.id, 40),
        source=plain(block.source or "invalid tag", 40),
        status=block.status if block.status in STATUSES else "failed",
        version=block.version,
        version_count=block.version_count,
        accepted=block.accepted,
        seconds=f"{block.seconds:.1f}s" if block.seconds else "",
        description=plain(block.description, 300),
        before=before,
        image=data_url(block.image, block.mime) if block.status == "ok" else None,
        error=plain(block.error, 1000) if block.error else "",
        fields=card_fields(block),
        link=link,
        link_text=plain(block.provenance.get("title") or link, 200) if link else "",
        code=str(block.params.get("code", ""))[:20_000] if block.source == "code" else "",
        raw=block.raw[:2000] if block.status == "invalid" else "",
    )


def article_html(view: ArticleView) -> str:
    """The whole article: sanitized Markdown text blocks with tool cards in place."""
    parts = ['<div class="studio-article">']
    for block in view.blocks:
        if block.kind == "text":
            if block.text.strip():
                body = markdown_to_safe_html(block.text)
                parts.append(Markup('<div class="text-block" data-block="{}">{}</div>').format(block.id, body))
        else:
            parts.append(card_html(block, view))
    if view.error:
        parts.append(Markup('<div class="article-error">{}</div>').format(plain(view.error, 1000)))
    if view.cut_off:
        parts.append(Markup('<div class="article-error">{}</div>').format(CUT_OFF_NOTE))
    parts.append("</div>")
    return "\n".join(str(p) for p in parts)


def progress_line(view: ArticleView) -> str:
    """One line of plain text: how far the article has come."""
    images = [b for b in view.blocks if b.kind == "image"]
    counts = {s: sum(b.status == s for b in images) for s in STATUSES}
    words = sum(len(b.text.split()) for b in view.blocks if b.kind == "text")
    state = ("cut off" if view.cut_off else "done") if view.done else "writing"
    detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    line = f"{state}: {words} words, {len(images)} images" + (f" ({detail})" if detail else "")
    if view.error:
        line += f"; the model stopped early: {plain(view.error, 300)}"
    if view.cut_off:
        line += f"; {CUT_OFF_NOTE}"
    if view.note:
        line += f" — {plain(view.note, 600)}"
    return line


def block_choices(view: ArticleView) -> list[tuple[str, str]]:
    """(label, block id) pairs for the block picker: image blocks first, then text blocks."""
    out: list[tuple[str, str]] = []
    for b in view.blocks:
        if b.kind == "image":
            out.append((f"{b.id} · {b.source or 'invalid'} · {plain(b.description, 60)} [{b.status}]", b.id))
    for b in view.blocks:
        if b.kind == "text" and b.text.strip():
            out.append((f"{b.id} · text · {plain(b.text, 60)}", b.id))
    return out


# --- JSON for the API ---------------------------------------------------------------------------


def event_dict(event: Event) -> dict[str, Any]:
    """An event as JSON-able data (images as sha256 + size; the final article carries them)."""
    if isinstance(event, ArticleDone):
        return {"type": "done", "seconds": round(event.seconds, 3), "error": event.error, "cut_off": event.cut_off}
    data: dict[str, Any] = {"type": type(event).__name__}
    for key, value in vars(event).items():
        if isinstance(value, bytes):
            import hashlib

            data["image_sha256"] = hashlib.sha256(value).hexdigest()
            data["image_bytes"] = len(value)
        elif key == "seconds":
            data[key] = round(float(value), 3)
        else:
            data[key] = value
    return data


def view_dict(view: ArticleView) -> dict[str, Any]:
    """The article as JSON: blocks with their current version; images as data URLs."""
    blocks: list[dict[str, Any]] = []
    for b in view.blocks:
        if b.kind == "text":
            blocks.append({"id": b.id, "kind": "text", "text": b.text, "version": b.version})
            continue
        blocks.append(
            {
                "id": b.id,
                "kind": "image",
                "image_index": b.image_index,
                "source": b.source,
                "description": b.description,
                "params": b.params,
                "status": b.status,
                "error": b.error,
                "provenance": b.provenance,
                "image": data_url(b.image, b.mime) if b.status == "ok" else None,
                "version": b.version,
                "version_count": b.version_count,
                "accepted": b.accepted,
            }
        )
    return {"brief": view.brief, "error": view.error, "done": view.done, "cut_off": view.cut_off, "blocks": blocks}


CSS = """
.studio-article { max-width: 900px; }
.card { border: 1px solid #ccc; border-radius: 8px; padding: 8px; margin: 8px 0; }
.card-ok { border-color: #3a3; } .card-failed, .card-invalid { border-color: #c33; }
.card-running { border-color: #e90; } .card-queued { border-color: #99c; }
.card-status { font-weight: bold; } .card-id { font-family: monospace; }
.card-error { color: #b00; white-space: pre-wrap; }
.card-placeholder { border: 2px dashed #99a; padding: 0.5em; background: #f6f6fa; white-space: pre-wrap; }
.card img { max-width: 100%; max-height: 420px; }
.card-before img { max-height: 200px; opacity: 0.9; }
.card-accepted { color: #080; font-weight: bold; }
.article-error { color: #b00; }
"""
