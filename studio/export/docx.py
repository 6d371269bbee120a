"""DOCX through python-docx: headings, paragraphs, lists, code, tables, figures, credits.

The Markdown is parsed with markdown-it-py (the same parser as the HTML export) and its
token stream is mapped onto Word paragraphs and runs, so ``#`` lines become real headings
and ``**bold**``/``*italic*`` become run formatting. Raw HTML in the text carries no meaning
in Word: only its text is kept. Word has no scripts to inject, but its XML cannot hold
control characters, so every string is cleaned of them first.
"""

from __future__ import annotations

import html as html_text
import io
from typing import Any

import nh3
from docx import Document
from docx.document import Document as DocxDocument
from docx.shared import Inches, Pt
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt
from markdown_it.token import Token
from PIL import Image

from studio.core.article import Article, TextBlock
from studio.export.sources import Figure, article_title, figures, plain, strip_controls

MAX_WIDTH_IN = 6.0
MONO = "DejaVu Sans Mono"


def _clean(text: str) -> str:
    return strip_controls(text)


def _html_to_text(fragment: str) -> str:
    """The text of a raw HTML fragment (tags dropped by nh3, entities decoded)."""
    return html_text.unescape(nh3.clean(fragment, tags=set(), clean_content_tags={"script", "style"}))


def _add_inline(paragraph: Paragraph, token: Token) -> None:
    bold = italic = strike = False
    for child in token.children or []:
        kind = child.type
        if kind in ("strong_open", "strong_close"):
            bold = kind == "strong_open"
        elif kind in ("em_open", "em_close"):
            italic = kind == "em_open"
        elif kind in ("s_open", "s_close"):
            strike = kind == "s_open"
        elif kind in ("softbreak",):
            paragraph.add_run(" ")
        elif kind == "hardbreak":
            paragraph.add_run().add_break()
        elif kind in ("text", "code_inline", "image", "html_inline"):
            content = child.content
            if kind == "html_inline":
                content = _html_to_text(content)
            if not content:
                continue
            run = paragraph.add_run(_clean(content))
            run.bold, run.italic = bold or None, italic or None
            run.font.strike = strike or None
            if kind == "code_inline":
                run.font.name = MONO


def _add_code(doc: DocxDocument, code: str) -> None:
    paragraph = doc.add_paragraph()
    run = paragraph.add_run(_clean(code.rstrip("\n")))
    run.font.name = MONO
    run.font.size = Pt(9)


def _add_markdown(doc: DocxDocument, text: str, parser: MarkdownIt) -> None:
    tokens = parser.parse(text)
    lists: list[str] = []  # "bullet" / "ordered", innermost last
    quote = 0
    table: list[list[str]] | None = None
    style: str | None = None
    heading: int | None = None
    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            heading = int(token.tag[1])
        elif kind == "heading_close":
            heading = None
        elif kind in ("bullet_list_open", "ordered_list_open"):
            lists.append("bullet" if kind.startswith("bullet") else "ordered")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote -= 1
        elif kind == "table_open":
            table = []
        elif kind == "tr_open" and table is not None:
            table.append([])
        elif kind == "table_close" and table:
            _add_table(doc, table)
            table = None
        elif kind == "inline":
            if table is not None and table:
                table[-1].append(_clean("".join(c.content for c in token.children or [] if c.type == "text")))
                continue
            if heading is not None:
                paragraph = doc.add_heading(level=min(heading, 9))
            else:
                if lists:
                    style = "List Bullet" if lists[-1] == "bullet" else "List Number"
                elif quote:
                    style = "Quote"
                else:
                    style = None
                paragraph = doc.add_paragraph(style=style)
            _add_inline(paragraph, token)
        elif kind in ("fence", "code_block"):
            _add_code(doc, token.content)
        elif kind == "html_block":
            content = _html_to_text(token.content).strip()
            if content:
                doc.add_paragraph(_clean(content))


def _add_table(doc: DocxDocument, rows: list[list[str]]) -> None:
    width = max(len(r) for r in rows)
    table = doc.add_table(rows=len(rows), cols=width)
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value


def _picture_stream(figure: Figure) -> tuple[io.BytesIO, float]:
    """PNG/JPEG bytes Word can show (WebP and GIF are converted) and a width in inches."""
    assert figure.block.image is not None
    with Image.open(io.BytesIO(figure.block.image)) as image:
        width_in = min(MAX_WIDTH_IN, max(1.0, image.width / 96))
        if figure.mime in ("image/png", "image/jpeg"):
            return io.BytesIO(figure.block.image), width_in
        out = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(out, "PNG")
    out.seek(0)
    return out, width_in


def _add_figure(doc: DocxDocument, figure: Figure) -> None:
    description = _clean(plain(figure.block.description, 1000))
    if figure.number is None:
        note = doc.add_paragraph()
        run = note.add_run(f"[{_clean(figure.note or '')}] {description}")
        run.italic = True
        return
    stream, width_in = _picture_stream(figure)
    picture = doc.add_picture(stream, width=Inches(width_in))
    # the picture's description (Word's alt text) lives on the drawing's docPr element
    picture._inline.docPr.set("descr", _clean(figure.alt))
    doc.add_paragraph(f"Figure {figure.number}. {description}", style="Caption")
    if figure.illustrative:
        doc.add_paragraph("Illustrative numbers: not data.", style="Caption")
    if figure.credit:
        doc.add_paragraph(_clean(figure.credit), style="Caption")


def _add_credits(doc: DocxDocument, figs: list[Figure], article: Article, appendix: bool) -> None:
    shown = [f for f in figs if f.number]
    if shown:
        doc.add_heading("Image credits", level=1)
        for figure in shown:
            line = f"Figure {figure.number}: {figure.credit}"
            if figure.link_url:
                line += f" — {figure.link_url}"
            doc.add_paragraph(_clean(line), style="List Bullet")
    if not appendix or not figs:
        return
    doc.add_heading("Appendix: how each image was made", level=1)
    if article.brief.strip():
        doc.add_paragraph(_clean(f"Brief: {plain(article.brief, 4000)}"))
    for position, figure in enumerate(figs, start=1):
        block = figure.block
        name = f"Figure {figure.number}" if figure.number else f"Image {position}"
        heading = f"{name} ({block.source or 'unknown tool'}, {block.status}): {plain(block.description)}"
        doc.add_heading(_clean(heading), level=2)
        for label, value in figure.fields:
            paragraph = doc.add_paragraph()
            paragraph.add_run(f"{label}: ").bold = True
            paragraph.add_run(_clean(value))
        if figure.code:
            _add_code(doc, figure.code)
        if figure.note:
            doc.add_paragraph(_clean(figure.note))


def build_docx(
    article: Article, *, appendix: bool = True, title: str | None = None, include_unfinished: bool = False
) -> DocxDocument:
    """The article as a python-docx Document (save it, or inspect it in tests)."""
    doc: Any = Document()
    page_title = article_title(article, title)
    doc.core_properties.title = _clean(plain(page_title, 255))  # Word caps core properties at 255
    doc.core_properties.comments = "Exported by LLM-I Studio"
    if title and title.strip():
        doc.add_heading(_clean(page_title), level=0)
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    figs = figures(article, include_unfinished=include_unfinished)
    by_id = {f.block.id: f for f in figs}
    for block in article.blocks:
        if isinstance(block, TextBlock):
            _add_markdown(doc, block.text, parser)
        elif block.id in by_id:
            _add_figure(doc, by_id[block.id])
    _add_credits(doc, figs, article, appendix)
    return doc


def render_docx(
    article: Article, *, appendix: bool = True, title: str | None = None, include_unfinished: bool = False
) -> bytes:
    buffer = io.BytesIO()
    build_docx(article, appendix=appendix, title=title, include_unfinished=include_unfinished).save(buffer)
    return buffer.getvalue()
