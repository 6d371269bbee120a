"""PDF export through WeasyPrint, checked with poppler: text, every image, CJK fonts, no fetches."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

import studio.export.html as export_html
from studio.core.article import Article, TextBlock
from studio.core.errors import ConfigError
from studio.export import export_article
from studio.export.pdf import CJK_FONT_HINT, missing_cjk_languages, render_pdf
from tests.httpserver import LocalServer
from tests.studio.export.test_export_html import plain_article, png_bytes

POPPLER = ("pdftotext", "pdfimages", "pdffonts", "pdftoppm")
needs_poppler = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in POPPLER),
    reason="poppler-utils not installed (apt-get install poppler-utils)",
)
CJK_TEXT = "潮汐是由月球引力引起的。日本語のかな。한국어"


def _run(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True, timeout=60).stdout


def _image_rows(pdf: Path) -> list[list[str]]:
    """`pdfimages -list` rows of real images (soft masks are listed separately)."""
    rows = [line.split() for line in _run("pdfimages", "-list", pdf).splitlines()[2:]]
    return [row for row in rows if row[2] == "image"]


def _has_cjk_font() -> bool:
    return bool(shutil.which("fc-list")) and bool(_run("fc-list", ":lang=zh", "family").strip())


@needs_poppler
def test_pdf_has_the_text_every_image_and_the_credits(tmp_path: Path) -> None:
    pdf = export_article(plain_article(), "pdf", tmp_path / "a.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = " ".join(_run("pdftotext", pdf, "-").split())
    for expected in (
        "Tides explained",
        "The Moon pulls the oceans.",
        "Figure 1. Harbour at low tide",
        "Source: Harbour photo (photos.example, CC BY 4.0)",
        "Figure 3. Moon over the sea",
        "Appendix: how each image was made",
        "plt.plot([0, 1, 0])",
        "moon over the sea",
    ):
        assert expected in text, expected
    assert "the edit model is not installed" not in text and "Moon in red" not in text  # left out
    rows = _image_rows(pdf)
    assert [(row[3], row[4]) for row in rows] == [("120", "80")] * 3
    # Rendered pages show the three images' colours (red PNG, blue PNG, green WebP).
    _run("pdftoppm", "-r", "40", "-png", pdf, tmp_path / "page")
    colours: set[tuple[int, int, int]] = set()
    for page in sorted(tmp_path.glob("page*.png")):
        with Image.open(page) as image:
            colours |= {rgb for _, rgb in image.convert("RGB").getcolors(1_000_000) or []}
    for target in ((255, 0, 0), (0, 0, 255), (0, 160, 0)):
        assert any(sum(abs(a - b) for a, b in zip(rgb, target, strict=True)) < 30 for rgb in colours), target


@needs_poppler
def test_pdf_without_appendix(tmp_path: Path) -> None:
    pdf = export_article(plain_article(), "pdf", tmp_path / "a.pdf", appendix=False)
    text = _run("pdftotext", pdf, "-")
    assert "Figure 2" in text and "Appendix" not in text


@needs_poppler
def test_cjk_text_is_embedded_with_a_cjk_font(tmp_path: Path) -> None:
    if not _has_cjk_font():
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    article = Article(blocks=[TextBlock("b1", f"# 潮汐\n\n{CJK_TEXT}\n")])
    pdf = tmp_path / "cjk.pdf"
    pdf.write_bytes(render_pdf(article))
    fonts = _run("pdffonts", pdf)
    assert "CJK" in fonts, fonts
    text = "".join(_run("pdftotext", pdf, "-").split())
    assert CJK_TEXT.replace(" ", "") in text


def test_cjk_without_a_font_is_refused_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("fc-list") is None:
        pytest.skip("fontconfig tools not installed")
    # A real fontconfig that sees no fonts at all: what a bare machine looks like.
    config = tmp_path / "fonts.conf"
    config.write_text(
        f'<?xml version="1.0"?><fontconfig><dir>{tmp_path / "none"}</dir><cachedir>{tmp_path / "cache"}</cachedir>'
        "</fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    assert missing_cjk_languages("plain ASCII only") == []
    assert missing_cjk_languages(CJK_TEXT) == ["ja", "ko", "zh"]
    article = Article(blocks=[TextBlock("b1", "Tides: 潮汐")])
    with pytest.raises(ConfigError) as info:
        export_article(article, "pdf", tmp_path / "x.pdf")
    assert CJK_FONT_HINT in str(info.value) and "zh" in str(info.value)
    assert not (tmp_path / "x.pdf").exists()


@needs_poppler
def test_pdf_fetches_nothing_even_past_the_sanitizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Second layer: with the sanitizer off, remote and file: resources are still not read."""
    monkeypatch.setattr(export_html, "sanitize_html", lambda fragment: fragment)
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes((255, 0, 255)))
    with LocalServer() as server:
        server.route("/x.png", body=png_bytes((255, 0, 255)), headers={"Content-Type": "image/png"})
        server.route("/s.css", body=b"body { background: red }", headers={"Content-Type": "text/css"})
        text = (
            f'Leak <img src="{server.url("/x.png")}"> <img src="{secret.as_uri()}">'
            f'<link rel="stylesheet" href="{server.url("/s.css")}"><p>after</p>'
        )
        pdf = export_article(Article(blocks=[TextBlock("b1", text)]), "pdf", tmp_path / "a.pdf")
        assert server.requests == []
    assert _image_rows(pdf) == []
    assert "after" in _run("pdftotext", pdf, "-")
