"""Export an article to self-contained HTML, PDF, a Markdown bundle (zip) or DOCX.

    export_article(article, "html" | "pdf" | "md" | "docx", out_path, *, appendix=True) -> Path

Every text in an article (model Markdown, descriptions, web titles, URLs, error messages,
provenance) is treated as untrusted; see html.py for the two layers that keep it inert.
Heavy back ends (WeasyPrint, python-docx) are imported only when their format is asked for.
"""

from __future__ import annotations

from pathlib import Path

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
    keep = include_unfinished
    if fmt == "html":
        return write_html(article, out_path, appendix=appendix, title=title, include_unfinished=keep)
    if fmt == "pdf":
        from studio.export.pdf import write_pdf

        return write_pdf(article, out_path, appendix=appendix, title=title, include_unfinished=keep)
    if fmt == "md":
        from studio.export.markdown import write_markdown_zip

        return write_markdown_zip(article, out_path, appendix=appendix, title=title, include_unfinished=keep)
    if fmt == "docx":
        from studio.export.docx import write_docx

        return write_docx(article, out_path, appendix=appendix, title=title, include_unfinished=keep)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "MIME_TYPES", "export_article", "load_article_dir", "render_html", "write_html"]
