"""One self-contained HTML file: sanitized Markdown, embedded images, credits, appendix.

Two layers keep untrusted text (model output, web titles, error messages) inert:

1. Markdown is rendered by markdown-it-py and the resulting HTML is cleaned by nh3
   (ammonia) with a tag/attribute allow-list and http/https/mailto links only. Every other
   value (captions, credits, notes, appendix) is plain text put through Jinja2's autoescape:
   nothing here escapes by hand.
2. A Content-Security-Policy meta forbids scripts, frames, objects, fonts, remote images and
   every network fetch, so even a sanitizer miss cannot run or phone home.

The same HTML feeds the PDF export (WeasyPrint applies the ``@media print`` rules).
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from studio.core.article import Article, TextBlock
from studio.export.sources import Figure, all_text, article_title, cjk_languages, figures, plain

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-src 'none'; object-src 'none'"
)

# What Markdown may produce. No img (images come only from image blocks, embedded by us),
# no forms, frames, media, SVG or MathML; attributes limited to what Markdown needs.
ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "del", "ins",
    "sub", "sup", "mark", "small", "abbr", "kbd", "code", "pre", "blockquote", "ul", "ol", "li", "dl", "dt",
    "dd", "a", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
}
# Dropped together with their content: showing a script's source as text helps no reader.
DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "textarea", "title"}
LINK_REL = "nofollow noopener noreferrer"


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML is let through markdown-it on purpose (models write <sup>, <br> in tables);
    # nh3 decides what survives.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )


def sanitize_html(fragment: str) -> str:
    """Clean an HTML fragment with the export's allow-list (links get rel=nofollow...)."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel=LINK_REL,
        filter_style_properties={"text-align"},
        strip_comments=True,
    )


def markdown_to_safe_html(text: str) -> Markup:
    """Render untrusted Markdown and sanitize the result; the only Markup made here."""
    return Markup(sanitize_html(_markdown().render(text)))


def _data_url(figure: Figure) -> str:
    assert figure.mime and figure.block.image
    return f"data:{figure.mime};base64,{base64.b64encode(figure.block.image).decode('ascii')}"


def _lang(article: Article, title: str) -> str:
    langs = cjk_languages(all_text(article, title))
    return langs[0] if langs else "en"


def render_html(
    article: Article, *, appendix: bool = True, title: str | None = None, include_unfinished: bool = False
) -> str:
    """The article as one HTML document with images embedded as data URLs.

    ``appendix`` adds the list of tool calls (query; prompt and seed; code; edit instruction
    and parent) that reproduces every image. ``title`` overrides the title taken from the
    first Markdown heading and is then shown as the page's heading.
    """
    figs = figures(article, include_unfinished=include_unfinished)
    by_id = {f.block.id: f for f in figs}
    items: list[dict[str, Any]] = []
    for block in article.blocks:
        if isinstance(block, TextBlock):
            if block.text.strip():
                items.append({"id": block.id, "html": markdown_to_safe_html(block.text)})
        elif block.id in by_id:
            figure = by_id[block.id]
            items.append({"figure": figure, "src": _data_url(figure) if figure.number else ""})
    page_title = article_title(article, title)
    return (
        _templates()
        .get_template("article.html.j2")
        .render(
            lang=_lang(article, page_title),
            csp=CSP,
            title=page_title,
            show_title=bool(title and title.strip()),
            css=Markup((HERE / "article.css").read_text(encoding="utf-8")),
            items=items,
            appendix=appendix,
            brief=plain(article.brief, 4000),
            figures=figs,
        )
    )


def write_html(
    article: Article,
    path: str | Path,
    *,
    appendix: bool = True,
    title: str | None = None,
    include_unfinished: bool = False,
) -> Path:
    """Write ``render_html`` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    html = render_html(article, appendix=appendix, title=title, include_unfinished=include_unfinished)
    out.write_text(html, encoding="utf-8")
    return out
