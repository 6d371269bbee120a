"""*Copy as Markdown* and *Copy as rich text*: self-contained, so a paste anywhere keeps the pictures.

Images are data URIs by default (the paste carries the bytes), or absolute URLs of the running
studio when the user asks for links (``base_url``: the page's origin, e.g. ``http://host:7860``).
Placeholders and failed images are left out, as in every export; each figure carries its caption,
its credit (decided by ``models.provenance`` from the shown version) and its alt text.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from markupsafe import Markup

from studio.app.ui_model import image_url
from studio.core.article import Article, TextBlock
from studio.export.html import markdown_to_safe_html
from studio.export.markdown import md_text
from studio.export.sources import Figure, figures


def studio_origin(base_url: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or None (anything else embeds the bytes)."""
    if not base_url:
        return None
    try:
        parts = urlsplit(base_url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _src(figure: Figure, origin: str | None) -> str:
    if origin:
        return f"{origin}{image_url(figure.block.image_sha256)}"
    return figure.block.data_url() or ""


def _credit(figure: Figure) -> str:
    return figure.credit + (" — illustrative numbers, not data" if figure.illustrative else "")


def copy_markdown(article: Article, base_url: str | None = None) -> str:
    """The article as Markdown with every picture inline (data URI, or a studio URL)."""
    origin = studio_origin(base_url)
    by_id = {f.block.id: f for f in figures(article)}
    parts: list[str] = []
    for block in article.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif (figure := by_id.get(block.id)) is not None:
            caption = md_text(block.description)
            credit = md_text(_credit(figure))
            parts.append(f"\n\n![{md_text(figure.alt, 500)}]({_src(figure, origin)})\n\n*{caption}*  \n{credit}\n\n")
    return "".join(parts).strip() + "\n"


def copy_html(article: Article, base_url: str | None = None) -> str:
    """The article as an HTML fragment for the clipboard's text/html (sanitized text, figures)."""
    origin = studio_origin(base_url)
    by_id = {f.block.id: f for f in figures(article)}
    parts: list[Markup] = []
    for block in article.blocks:
        if isinstance(block, TextBlock):
            if block.text.strip():
                parts.append(markdown_to_safe_html(block.text))
        elif (figure := by_id.get(block.id)) is not None:
            html = Markup('<figure><img src="{}" alt="{}"><figcaption>{}<br><small>{}</small></figcaption></figure>')
            parts.append(html.format(_src(figure, origin), figure.alt, block.description, _credit(figure)))
    return str(Markup("\n").join(parts))
