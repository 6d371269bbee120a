"""Export an article to self-contained HTML, PDF, a Markdown bundle (zip) or DOCX.

    export_article(article, "html" | "pdf" | "md" | "docx", out_path, *, appendix=True) -> Path

Every text in an article (model Markdown, descriptions, web titles, URLs, error messages,
provenance) is treated as untrusted; see html.py for the two layers that keep it inert.
Heavy back ends (WeasyPrint, python-docx) are imported only when their format is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from studio.core.article import Article
from studio.export.html import render_html, write_html
from studio.export.load import load_article_dir

FORMATS = {"html": ".html", "pdf": ".pdf", "md": ".zip", "docx": ".docx"}
MIME_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "md": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def export_article(
    article: Article,
    fmt: str,
    out_path: str | Path,
    *,
    appendix: bool = True,
    title: str | None = None,
    include_unfinished: bool = False,
) -> Path:
    """Write ``article`` as ``fmt`` to ``out_path`` and return the path.

    Blocks without a picture (placeholders, failed or invalid calls) are left out, unless
    ``include_unfinished`` keeps them as neutral "Figure missing." boxes; no error text, setting
    name or path is ever written (``studio.export.publish_check`` names them before an export).

    Raises ValueError for an unknown format and ConfigError when a PDF needs a CJK font
    that is not installed (the message says how to install it).
    """
    data = _renderer(fmt)(article, appendix=appendix, title=title, include_unfinished=include_unfinished)
    out = Path(out_path)  # written only once rendered: a refused PDF leaves no empty file behind
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


class Renderer(Protocol):
    def __call__(
        self, article: Article, *, appendix: bool = ..., title: str | None = ..., include_unfinished: bool = ...
    ) -> bytes: ...


def _html_bytes(
    article: Article, *, appendix: bool = True, title: str | None = None, include_unfinished: bool = False
) -> bytes:
    return render_html(article, appendix=appendix, title=title, include_unfinished=include_unfinished).encode("utf-8")


def _renderer(fmt: str) -> Renderer:
    """The format's renderer; the heavy back ends are imported here, when their format is asked for."""
    if fmt == "html":
        return _html_bytes
    if fmt == "pdf":
        from studio.export.pdf import render_pdf

        return render_pdf
    if fmt == "md":
        from studio.export.markdown import render_markdown_zip

        return render_markdown_zip
    if fmt == "docx":
        from studio.export.docx import render_docx

        return render_docx
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "MIME_TYPES", "export_article", "load_article_dir", "render_html", "write_html"]
