"""Markdown zip and DOCX exports, reopened with real readers (zipfile, markdown-it, python-docx)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

import docx
from docx.oxml.ns import qn
from markdown_it import MarkdownIt
from markdown_it.token import Token
from PIL import Image

from studio.core.article import Article, TextBlock
from studio.export import export_article
from studio.export.docx import build_docx
from studio.export.markdown import article_markdown, sources_markdown
from tests.studio.export.test_export_html import injected_article, parse_tags, plain_article

MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
INERT_TAGS = {"h1", "h2", "p", "em", "strong", "a", "img", "ul", "li", "br", "blockquote", "pre", "code"}


def _walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out += _walk(token.children or [])
    return out


def _md_tokens(text: str) -> list[Token]:
    return _walk(MD.parse(text))


def test_markdown_zip_files_and_references_resolve(tmp_path: Path) -> None:
    article = plain_article()
    out = export_article(article, "md", tmp_path / "a.zip")
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        assert names == ["article.md", "SOURCES.md", "images/b2.png", "images/b4.png", "images/b5.webp"]
        md = bundle.read("article.md").decode("utf-8")
        refs = [t.attrs["src"] for t in _md_tokens(md) if t.type == "image"]
        assert refs == ["images/b2.png", "images/b4.png", "images/b5.webp"]
        for ref, block in zip(refs, [article.block("b2"), article.block("b4"), article.block("b5")], strict=True):
            assert bundle.read(ref) == block.image
        sources = bundle.read("SOURCES.md").decode("utf-8")
    # Text and figures in order, captions under the images, the failure visible.
    order = [md.index(s) for s in ("# Tides explained", "![Harbour", "## The model", "![Tide", "![Moon")]
    assert order == sorted(order)
    assert "*Figure 1. Harbour at low tide*" in md and "Source: [Harbour photo](<https://photos.example/harbour>)" in md
    assert "Moon in red" not in md and "Moon in red" not in sources  # the failed edit is left out
    assert "the edit model is not installed" not in md + sources
    # Credits and reproduction: title + page URL + query; prompt + seed + model; chart code.
    for expected in (
        "[Harbour photo](<https://photos.example/harbour>)",
        "Query: harbour low tide",
        "Prompt: moon over the sea",
        "Seed: 1234",
        "Model: tiny-sd",
        "```python\nplt.plot([0, 1, 0])\n```",
    ):
        assert expected in sources, expected


def test_markdown_untrusted_fields_stay_inert() -> None:
    """Descriptions, titles, URLs, errors and provenance cannot make links, images or HTML."""
    corpus = injected_article()
    article = corpus.article
    # The generated parts only: the image blocks' Markdown, and SOURCES.md.
    generated = Article(brief=article.brief, blocks=[b for b in article.blocks if not isinstance(b, TextBlock)])
    for text in (
        article_markdown(generated, title=corpus.title, include_unfinished=True),
        sources_markdown(article, title=corpus.title, include_unfinished=True),
    ):
        tokens = _md_tokens(text)
        assert not [t for t in tokens if t.type in ("html_inline", "html_block")]
        hrefs = [t.attrs["href"] for t in tokens if t.type == "link_open"]
        assert hrefs and all(str(h).startswith("https://") for h in hrefs), hrefs
        srcs = [str(t.attrs["src"]) for t in tokens if t.type == "image"]
        assert all(PurePosixPath(s).parent == PurePosixPath("images") for s in srcs), srcs
        # Rendered by a Markdown renderer that lets raw HTML through: still only inert tags.
        for tag, attrs in parse_tags(MD.render(text)):
            assert tag in INERT_TAGS and not [a for a in attrs if a.startswith("on")], (tag, attrs)
            assert str(attrs.get("href", "https://")).startswith("https://"), attrs
    md = article_markdown(article, include_unfinished=True)
    for marker in corpus.honest:
        assert marker in md
    for marker in corpus.operator:
        assert marker not in md + sources_markdown(article, include_unfinished=True)


def _body_sequence(document: docx.document.Document) -> list[tuple[str, str]]:
    """(kind, text) for each body element in order: a style name, 'picture' or 'table'."""
    out: list[tuple[str, str]] = []
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:tbl"):
            out.append(("table", ""))
        elif element.tag == qn("w:p"):
            paragraph = docx.text.paragraph.Paragraph(element, document)
            if element.findall(".//" + qn("w:drawing")):
                out.append(("picture", ""))
            elif paragraph.text.strip():
                out.append((paragraph.style.name, paragraph.text))
    return out


def test_docx_headings_paragraphs_and_images_in_order(tmp_path: Path) -> None:
    article = plain_article()
    article.blocks[2] = TextBlock("b3", "## The model\n\nA chart helps.\n\n| h | t |\n|---|---|\n| 0 | 1 |\n")
    out = export_article(article, "docx", tmp_path / "a.docx")
    document = docx.Document(str(out))
    sequence = _body_sequence(document)
    body = sequence[: sequence.index(("Heading 1", "Image credits"))]
    assert body == [
        ("Heading 1", "Tides explained"),
        ("Normal", "The Moon pulls the oceans."),
        ("List Bullet", "high tide"),
        ("List Bullet", "low tide"),
        ("picture", ""),
        ("Caption", "Figure 1. Harbour at low tide"),
        ("Caption", "Source: Harbour photo (photos.example, CC BY 4.0)"),
        ("Heading 2", "The model"),
        ("Normal", "A chart helps."),
        ("table", ""),
        ("picture", ""),
        ("Caption", "Figure 2. Tide height over a day"),
        ("Caption", "Chart drawn from code (see the appendix)"),
        ("picture", ""),
        ("Caption", "Figure 3. Moon over the sea"),
        ("Caption", "Generated with tiny-sd, seed 1234"),
        ("Heading 2", "Summary"),
        ("Normal", "Twice a day."),
    ]
    runs = document.paragraphs[1].runs
    assert [(r.text, bool(r.bold), bool(r.italic)) for r in runs if r.text.strip()] == [
        ("The ", False, False),
        ("Moon", True, False),
        (" pulls the ", False, False),
        ("oceans", False, True),
        (".", False, False),
    ]
    assert document.tables[0].cell(1, 1).text == "1"
    # The pictures are the real images, in order (the WebP converted to PNG for Word).
    blobs = [document.part.related_parts[s._inline.graphic.graphicData.pic.blipFill.blip.embed].blob
             for s in document.inline_shapes]  # fmt: skip
    assert blobs[:2] == [article.block("b2").image, article.block("b4").image]
    with Image.open(io.BytesIO(blobs[2])) as image:
        red, green, blue = image.convert("RGB").getpixel((5, 5))
        assert image.format == "PNG" and red < 10 and 150 < green < 170 and blue < 10  # lossy WebP
    rest = " ".join(text for _, text in sequence)
    assert "Figure 1: Source: Harbour photo (photos.example, CC BY 4.0) — https://photos.example/harbour" in rest
    assert "Prompt: moon over the sea" in rest and "Seed: 1234" in rest and "plt.plot([0, 1, 0])" in rest
    assert document.core_properties.title == "Tides explained"


def test_docx_takes_hostile_text_and_control_characters() -> None:
    corpus = injected_article()
    corpus.article.blocks.append(TextBlock("b99", "Bell\x07 null\x00 vtab\x0b end"))
    document = build_docx(corpus.article, title=corpus.title, include_unfinished=True)
    buffer = io.BytesIO()
    document.save(buffer)
    reopened = docx.Document(io.BytesIO(buffer.getvalue()))
    text = "\n".join(p.text for p in reopened.paragraphs)
    for marker in corpus.honest:
        assert marker in text
    for marker in corpus.operator:
        assert marker not in text
    assert "Bell null" in text and "vtab end" in text  # markdown-it turns NUL into U+FFFD
    assert len(reopened.inline_shapes) == 4
