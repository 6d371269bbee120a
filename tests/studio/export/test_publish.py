"""What leaves the studio is true: credits from each version's provenance, the publish check,
unfinished blocks left out, alt text in every format, and no operator text in any export.

Every format is really written (WeasyPrint, python-docx, the zip) and read back: the PDF through
poppler's pdftotext, the DOCX through python-docx, the zip through zipfile."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import docx
import pytest

from models.provenance import UPLOAD_CREDIT, credit_for, origin_of, public_model_name
from studio.app.export_cli import main
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.words import count_label, word_count
from studio.export import export_article
from studio.export.outdir import save_article_dir
from studio.export.publish_check import publish_check
from tests.studio.export.test_export_html import parse_tags, png_bytes

# What an operator sees and a reader must not: error text, setting names, paths, cache names.
OPERATOR = re.compile(r"STUDIO_|Errno|Hugging Face cache|/root/|/home/|/tmp/|\.cache/|[A-Z]:\\\\")
PLACEHOLDER_ERROR = (
    "[Errno -2] Name or service not known. Set STUDIO_EDIT_MODEL to a local diffusers folder "
    "(/root/.cache/huggingface/hub) or allow downloads: the Hugging Face cache has no weights."
)
ILLUSTRATIVE = 'labels = ["A", "B", "C"]\nvalues = [1, 1, 1]\nplt.bar(labels, values)\n' \
               'plt.gcf().text(0.99, 0.01, "Illustrative numbers")'  # fmt: skip


def publish_article() -> Article:
    """An uploaded image (it replaced a search hit), a placeholder, an illustrative chart, a generated
    picture whose model is a local folder, and a search image with a known licence."""
    art = Article(brief="Lighthouses of Nova Scotia")
    art.blocks = [
        TextBlock("b1", "# Lighthouses\n\nThey guide ships home.\n\n"),
        ImageBlock(
            "b2", 0, "search", "Peggys Point Lighthouse at dusk", {"query": "Peggys Point Lighthouse"}, "",
            status="ok", image=png_bytes((200, 40, 40)),
            provenance={"origin": "upload", "uploaded": "my-lighthouse.png", "alt": "A white lighthouse on granite"},
        ),
        ImageBlock(
            "b3", 1, "edit", "The lighthouse at night", {"img_index": 0, "prompt": "at night"}, "",
            status="placeholder", error=PLACEHOLDER_ERROR,
        ),
        TextBlock("b4", "Lights were counted by decade.\n\n"),
        ImageBlock(
            "b5", 2, "code", "Lighthouses by decade", {"code": ILLUSTRATIVE}, "", status="ok",
            image=png_bytes((40, 40, 200)), provenance={"illustrative": True, "data_from": "illustrative"},
        ),
        ImageBlock(
            "b6", 3, "diffusion", "A storm over the sea", {"prompt": "storm at sea"}, "", status="ok",
            image=png_bytes((40, 160, 40)),
            provenance={"model": "/root/.cache/huggingface/hub/models--stabilityai--sd-turbo", "seed": 7},
        ),
        ImageBlock(
            "b7", 4, "search", "Sambro Island light", {"query": "Sambro Island"}, "", status="ok",
            image=png_bytes((90, 90, 90)),
            provenance={"title": "Sambro Island Light", "page_url": "https://commons.example/sambro",
                        "source": "commons.example", "creator": "J. Doe", "licence": "CC BY-SA 4.0"},
        ),
        TextBlock("b8", "The end.\n"),
    ]  # fmt: skip
    return art


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def all_formats(article: Article, out: Path, **options: bool) -> dict[str, str]:
    """Every format written, read back as text (the zip: article.md + SOURCES.md)."""
    texts: dict[str, str] = {}
    html = export_article(article, "html", out / "a.html", **options)
    texts["html"] = html.read_text(encoding="utf-8")
    with zipfile.ZipFile(export_article(article, "md", out / "a.zip", **options)) as bundle:
        texts["md"] = bundle.read("article.md").decode() + "\n" + bundle.read("SOURCES.md").decode()
    document = docx.Document(str(export_article(article, "docx", out / "a.docx", **options)))
    texts["docx"] = "\n".join(p.text for p in document.paragraphs)
    if shutil.which("pdftotext"):
        texts["pdf"] = pdf_text(export_article(article, "pdf", out / "a.pdf", **options))
    return texts


def test_the_credit_follows_the_versions_origin() -> None:
    assert origin_of("search", {"uploaded": "x.png"}) == "upload"  # older records: the file name marks it
    assert credit_for("search", {"origin": "upload", "uploaded": "x.png"}).line == UPLOAD_CREDIT
    assert credit_for("diffusion", {"origin": "upload"}).label == "your image"
    assert credit_for("search", {"title": "T", "licence": "CC0", "creator": "Ann"}).line == "Source: T (by Ann, CC0)"
    assert credit_for("code", {"data_from": "brief"}).line.startswith("Chart drawn from code; numbers from the brief")
    assert credit_for("edit", {"origin": "url", "url": "https://img.example/a.png"}).line == "Image: img.example"
    assert public_model_name("/root/.cache/hf/models--x") == "models--x" and public_model_name("org/name") == "org/name"


def test_every_format_credits_the_author_leaves_the_placeholder_out_and_shows_no_operator_text(
    tmp_path: Path,
) -> None:
    article = publish_article()
    texts = all_formats(article, tmp_path)
    assert set(texts) >= {"html", "md", "docx"}
    for fmt, text in texts.items():
        flat = " ".join(text.split())
        assert UPLOAD_CREDIT in flat, fmt
        assert "Generated with" in flat and "Query: Peggys" not in flat, fmt
        assert "The lighthouse at night" not in flat and "Figure missing" not in flat, fmt  # left out
        assert "Illustrative numbers" in flat, fmt
        assert not OPERATOR.search(text), (fmt, OPERATOR.search(text))
        # the upload's file name is in the appendix only, never in the figure's credit
        assert "Image: supplied by the author (my-lighthouse" not in flat, fmt
    assert "my-lighthouse.png" in texts["html"].split('class="appendix"')[1]
    assert "File name: my-lighthouse.png" in texts["md"]


def test_kept_unfinished_blocks_are_neutral_boxes(tmp_path: Path) -> None:
    texts = all_formats(publish_article(), tmp_path, include_unfinished=True)
    for fmt, text in texts.items():
        flat = " ".join(text.split())
        assert "Figure missing." in flat and "The lighthouse at night" in flat, fmt
        assert not OPERATOR.search(text), (fmt, OPERATOR.search(text))
        assert "Name or service" not in flat and "diffusers" not in flat, fmt


def test_alt_text_reaches_html_docx_and_markdown(tmp_path: Path) -> None:
    article = publish_article()
    html = export_article(article, "html", tmp_path / "a.html").read_text(encoding="utf-8")
    alts = [a["alt"] for t, a in parse_tags(html) if t == "img"]
    assert alts == ["A white lighthouse on granite", "Lighthouses by decade", "A storm over the sea",
                    "Sambro Island light"]  # fmt: skip
    document = docx.Document(str(export_article(article, "docx", tmp_path / "a.docx")))
    descriptions = [shape._inline.docPr.get("descr") for shape in document.inline_shapes]
    assert descriptions == alts
    with zipfile.ZipFile(export_article(article, "md", tmp_path / "a.zip")) as bundle:
        md = bundle.read("article.md").decode()
    assert "![A white lighthouse on granite](images/b2.png)" in md
    # the PDF is tagged: each figure's structure element carries its /Alt
    pdf = export_article(article, "pdf", tmp_path / "a.pdf").read_bytes()
    streams = b"".join(_inflate(m.group(1)) for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S))
    assert b"/Alt (A white lighthouse on granite)" in streams and b"/Alt (A storm over the sea)" in streams


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:
        return b""


def test_the_checklist_names_the_placeholder_first_then_the_illustrative_chart() -> None:
    article = publish_article()
    article.cut_off = True
    article.blocks.append(ImageBlock("b9", 5, "search", "", {"query": "q"}, "", status="ok", image=png_bytes((1, 1, 1)),
                                     provenance={"title": "No licence"}))  # fmt: skip
    items = publish_check(article)
    assert [(i.kind, i.block_id) for i in items] == [
        ("unfinished", "b3"),
        ("illustrative", "b5"),
        ("no_alt", "b9"),
        ("no_licence", "b9"),
        ("cut_off", None),
    ]
    assert "Image 2 (The lighthouse at night) is a placeholder" in items[0].message
    assert not any(OPERATOR.search(i.message) or "Errno" in i.message for i in items)
    finished = Article(blocks=[TextBlock("b1", "Done.")])
    assert publish_check(finished) == []


def test_cli_prints_the_checklist_and_strict_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    article_dir = tmp_path / "article"
    save_article_dir(publish_article(), article_dir)
    out = tmp_path / "out.html"
    assert main([str(article_dir), "--strict", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "Publish check: 2 things" in err and "[b3]" in err and "[b5]" in err and not out.exists()
    assert main([str(article_dir), "--out", str(out)]) == 0
    assert "The lighthouse at night" not in out.read_text(encoding="utf-8")
    assert main([str(article_dir), "--out", str(out), "--include-unfinished"]) == 0
    assert "Figure missing." in out.read_text(encoding="utf-8")


def test_word_counts_are_cjk_aware() -> None:
    chinese = "灯塔是一种塔形建筑物，夜间在塔顶发光，为船只指引方向。" * 20
    assert word_count(chinese) == 24 * 20 and count_label(chinese) == "480 characters"
    assert count_label("Lighthouses guide ships home.") == "4 words"
    assert word_count("東京タワーは 333 m です. It is tall.") == 13  # 9 kana/kanji, "333", "m", "It is tall."
    assert word_count("등대는 배를 안내한다") == 9  # Hangul syllables, one each
