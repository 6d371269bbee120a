"""HTML export, and the material every export test shares: tiny real images, the injection corpus.

Every payload, wherever it is placed, would set its own global ``window.__pwned_<n>`` (or
``parent.``/``top.`` from a frame) if it ever ran; the browser test asserts none exists.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from studio.core.article import Article, ImageBlock, TextBlock
from studio.export import render_html, write_html
from studio.export.html import ALLOWED_TAGS, CSP

# "@N" is replaced by the payload's number. Each entry is one classic way out of a sanitizer
# or out of an attribute/text context.
PAYLOADS = [
    "<script>window.__pwned_@N=1</script>",
    '<img src=x onerror="window.__pwned_@N=1">',
    "<img src=x onerror=window.__pwned_@N=1",  # unclosed
    '<svg onload="window.__pwned_@N=1"></svg>',
    "<svg><script>window.__pwned_@N=1</script></svg>",
    '<svg><a xlink:href="javascript:window.__pwned_@N=1"><text y="20">svg link @N</text></a></svg>',
    '<svg><animate onbegin="window.__pwned_@N=1" attributeName="x" dur="1s"/></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned_@N=1">',
    '<math href="javascript:window.__pwned_@N=1">math link @N</math>',
    '<iframe src="javascript:parent.__pwned_@N=1"></iframe>',
    '<iframe srcdoc="<script>parent.__pwned_@N=1</script>"></iframe>',
    '<object data="javascript:window.__pwned_@N=1"></object>',
    '<embed src="javascript:window.__pwned_@N=1">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned_@N=1">',
    '<a href="javascript:window.__pwned_@N=1">js link @N</a>',
    "[md link @N](javascript:window.__pwned_@N=1)",
    "![md image @N](javascript:window.__pwned_@N=1)",
    "[md data @N](data:text/html,%3Cscript%3Ewindow.__pwned_@N=1%3C/script%3E)",
    '<a href="data:text/html,<script>window.__pwned_@N=1</script>">data link @N</a>',
    '<a href="jav&#x09;ascript:window.__pwned_@N=1">tab link @N</a>',
    '<a href="&#106;avascript:window.__pwned_@N=1">entity link @N</a>',
    '<a href="  JaVaScRiPt:window.__pwned_@N=1">case link @N</a>',
    '<a href="vbscript:window.__pwned_@N=1">vb link @N</a>',
    '<a href="https://ok.example/@N" onclick="window.__pwned_@N=1">onclick link @N</a>',
    '<div onmouseover="window.__pwned_@N=1">hover me @N</div>',
    '<details open ontoggle="window.__pwned_@N=1"><summary>s</summary>d</details>',
    '<input autofocus onfocus="window.__pwned_@N=1">',
    '<body onload="window.__pwned_@N=1">',
    '<form action="javascript:window.__pwned_@N=1"><button>go @N</button></form>',
    '<base href="javascript:window.__pwned_@N=1//">',
    '<link rel="stylesheet" href="javascript:window.__pwned_@N=1">',
    '<div style="background:url(javascript:window.__pwned_@N=1)">styled @N</div>',
    '<p style="width:expression(window.__pwned_@N=1)">expr @N</p>',
    "<style>@import 'javascript:window.__pwned_@N=1';</style>",
    "<scr<script>ipt>window.__pwned_@N=1</scr</script>ipt>",
    '<noscript><p title="</noscript><img src=x onerror=window.__pwned_@N=1>">',
    "<template><script>window.__pwned_@N=1</script></template>",
    '"><script>window.__pwned_@N=1</script>',
    "' onmouseover='window.__pwned_@N=1' x='",
    '" onfocus="window.__pwned_@N=1" autofocus="',
    "</figcaption></figure><script>window.__pwned_@N=1</script>",
    "</title><script>window.__pwned_@N=1</script>",
    "</style><script>window.__pwned_@N=1</script>",
    "</textarea></pre></code><script>window.__pwned_@N=1</script>",
    "&lt;script&gt;window.__pwned_@N=1&lt;/script&gt;",
    "&#60;img src=x onerror=window.__pwned_@N=1&#62;",
    "<!--><img src=x onerror=window.__pwned_@N=1>-->",
    "<![CDATA[<img src=x onerror=window.__pwned_@N=1>]]>",
]


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (48, 32), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


@dataclass
class Corpus:
    """An article carrying the corpus everywhere, plus what an honest reader must see."""

    article: Article
    title: str
    honest: list[str] = field(default_factory=list)
    operator: list[str] = field(default_factory=list)  # error text: never in an export
    count: int = 0

    def payloads(self, _where: str) -> str:
        """All payloads, each with its own number (``_where`` only documents the placement)."""
        parts = []
        for template in PAYLOADS:
            self.count += 1
            parts.append(template.replace("@N", str(self.count)))
        return " ".join(parts)


def injected_article() -> Corpus:
    """Payloads in text, descriptions, search titles, page URLs, errors, provenance, brief."""
    corpus = Corpus(Article(), "")
    art = corpus.article
    art.brief = "Honest brief. " + corpus.payloads("brief")
    art.error = "Honest stream error. " + corpus.payloads("error")
    corpus.operator.append("Honest stream error")
    corpus.title = "Honest title " + corpus.payloads("title")

    def text(marker: str) -> TextBlock:
        corpus.honest.append(marker)
        block = TextBlock(art.new_id(), f"## {marker}\n\n{corpus.payloads(marker)}\n\n{marker} ends here.\n")
        art.blocks.append(block)
        return block

    text("Honest paragraph one")
    for page_url in ("javascript:window.__pwned_page=1", "https://ok.example/page?a=1&b=2"):
        corpus.honest.append(f"Honest search caption {page_url[:5]}")
        art.blocks.append(
            ImageBlock(
                art.new_id(), len(art.image_blocks()), "search",
                f"Honest search caption {page_url[:5]} " + corpus.payloads("desc"),
                {"query": "q " + corpus.payloads("query")}, "<imgen>raw</imgen>", status="ok",
                provenance={
                    "query": corpus.payloads("query"),
                    "image_url": "https://img.example/a.png\" onerror=\"window.__pwned_iu=1",
                    "page_url": page_url,
                    "title": "Honest page title " + corpus.payloads("title"),
                    "source": "ok.example " + corpus.payloads("domain"),
                    "licence": corpus.payloads("licence"),
                },
                image=png_bytes((200, 30, 30)),
            )
        )  # fmt: skip
    text("Honest paragraph two")
    corpus.honest.append("Honest failure caption")
    art.blocks.append(
        ImageBlock(
            art.new_id(), len(art.image_blocks()), "code", "Honest failure caption " + corpus.payloads("fdesc"),
            {"code": "plt.plot([1])\n" + corpus.payloads("code")}, "<imgen>raw</imgen>", status="failed",
            error="Honest error reason " + corpus.payloads("errmsg"),
        )
    )  # fmt: skip
    corpus.operator.append("Honest error reason")
    art.blocks.append(
        ImageBlock(
            art.new_id(), len(art.image_blocks()), "diffusion", "Honest generated caption " + corpus.payloads("dd"),
            {"prompt": corpus.payloads("prompt")}, "<imgen>raw</imgen>", status="ok",
            provenance={"prompt": corpus.payloads("p"), "seed": corpus.payloads("seed"), "model": corpus.payloads("m")},
            image=png_bytes((30, 30, 200)),
        )
    )  # fmt: skip
    corpus.honest.append("Honest generated caption")
    art.blocks.append(
        ImageBlock(
            art.new_id(), len(art.image_blocks()), "edit", "Honest invalid caption " + corpus.payloads("inv"),
            {}, "<imgen>" + corpus.payloads("raw") + "</imgen>", status="invalid",
            error="Honest invalid reason " + corpus.payloads("inverr"),
        )
    )  # fmt: skip
    corpus.operator.append("Honest invalid reason")
    art.blocks.append(
        ImageBlock(
            art.new_id(), len(art.image_blocks()), "edit", "Honest edit caption", {"img_index": 0, "prompt": "x"},
            "<imgen>raw</imgen>", status="ok",
            provenance={"instruction": corpus.payloads("instr"), "parent_sha256": corpus.payloads("sha")},
            image=png_bytes((30, 160, 30), fmt="JPEG"), mime="image/jpeg",
        )
    )  # fmt: skip
    corpus.honest.append("Honest edit caption")
    text("Honest paragraph three")
    return corpus


def plain_article() -> Article:
    """A small well-behaved article: headings, emphasis, a list, three images, a failure."""
    art = Article(brief="Explain tides with pictures.")
    art.blocks = [
        TextBlock("b1", "# Tides explained\n\nThe **Moon** pulls the *oceans*.\n\n- high tide\n- low tide\n"),
        ImageBlock(
            "b2", 0, "search", "Harbour at low tide", {"query": "harbour low tide"}, "raw", status="ok",
            provenance={"query": "harbour low tide", "image_url": "https://img.example/h.png",
                        "page_url": "https://photos.example/harbour", "title": "Harbour photo",
                        "source": "photos.example", "licence_hint": "CC BY 4.0"},
            image=png_bytes((255, 0, 0), (120, 80)),
        ),
        TextBlock("b3", "## The model\n\nA chart helps.\n"),
        ImageBlock(
            "b4", 1, "code", "Tide height over a day", {"code": "plt.plot([0, 1, 0])"}, "raw", status="ok",
            provenance={"code": "plt.plot([0, 1, 0])"}, image=png_bytes((0, 0, 255), (120, 80)),
        ),
        ImageBlock(
            "b5", 2, "diffusion", "Moon over the sea", {"prompt": "moon over the sea"}, "raw", status="ok",
            provenance={"prompt": "moon over the sea", "seed": 1234, "model": "tiny-sd"},
            image=png_bytes((0, 160, 0), (120, 80), "WEBP"), mime="image/webp",
        ),
        ImageBlock(
            "b6", 3, "edit", "Moon in red", {"img_index": 2, "prompt": "make it red"}, "raw", status="failed",
            error="the edit model is not installed",
        ),
        TextBlock("b7", "## Summary\n\nTwice a day.\n"),
    ]  # fmt: skip
    art._next_id = 7
    return art


# ---------------------------------------------------------------- static checks of the HTML


class _Collect(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse_tags(document: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collect()
    parser.feed(document)
    parser.close()
    return parser.tags


STRUCTURE_TAGS = {"html", "head", "meta", "title", "style", "body", "article", "header", "section", "figure",
                  "figcaption", "aside", "img", "div", "dl", "dt", "dd"}  # fmt: skip


def test_corpus_payloads_are_numbered_and_distinct() -> None:
    corpus = injected_article()
    everything = json.dumps(corpus.article.to_dict()) + corpus.title
    numbers = {int(n) for n in re.findall(r"__pwned_(\d+)", everything)}
    assert numbers == set(range(1, corpus.count + 1))
    assert corpus.count >= 20 * len(PAYLOADS)  # every payload in at least 20 places


def test_injection_corpus_leaves_no_active_markup() -> None:
    corpus = injected_article()
    document = render_html(corpus.article, title=corpus.title, include_unfinished=True)
    tags = parse_tags(document)
    allowed = ALLOWED_TAGS | STRUCTURE_TAGS
    assert {t for t, _ in tags} <= allowed, {t for t, _ in tags} - allowed
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if tag == "a" and "href" in attrs:
            assert (attrs["href"] or "").startswith(("https://", "http://", "mailto:")), attrs
            assert attrs["rel"] == "nofollow noopener noreferrer"
        if tag == "img":
            assert (attrs["src"] or "").startswith(("data:image/png;base64,", "data:image/jpeg;base64,")), tag
        if tag == "meta":
            assert attrs.get("http-equiv") in (None, "Content-Security-Policy"), attrs
        assert "style" not in attrs or tag in ("th", "td"), (tag, attrs)
    # One <style> (ours), one <title>; the payload's closing tags did not end them early.
    assert [t for t, _ in tags].count("style") == 1
    assert [t for t, _ in tags].count("title") == 1
    assert "javascript:" not in " ".join(str(a.get("href")) for _, a in tags)
    for marker in corpus.honest:
        assert marker in document
    for marker in corpus.operator:  # error text is for the operator: kept off the page
        assert marker not in document
    assert "Honest failure caption" not in render_html(corpus.article)  # left out by default


def test_csp_meta_comes_first_and_is_strict() -> None:
    tags = parse_tags(render_html(plain_article()))
    assert [t for t, _ in tags[:4]] == ["html", "head", "meta", "meta"]
    assert tags[3][1]["http-equiv"] == "Content-Security-Policy"
    assert tags[3][1]["content"] == CSP
    assert CSP.startswith("default-src 'none'; img-src data:; style-src 'unsafe-inline';")


def test_figures_credits_notes_and_appendix() -> None:
    article = plain_article()
    document = render_html(article)
    tags = parse_tags(document)
    imgs = [a for t, a in tags if t == "img"]
    assert [a["alt"] for a in imgs] == ["Harbour at low tide", "Tide height over a day", "Moon over the sea"]
    assert imgs[2]["src"].startswith("data:image/webp;base64,")
    assert document.count("<figcaption>") == 3
    assert "Figure 1. Harbour at low tide" in document
    links = [a for t, a in tags if t == "a"]
    assert links == [{"href": "https://photos.example/harbour", "rel": "nofollow noopener noreferrer"}]
    assert "Harbour photo</a> (photos.example, CC BY 4.0)" in document
    assert "Generated with tiny-sd, seed 1234" in document
    # The failed edit is left out, and its error never shows.
    assert 'class="image-note"' not in document and "Moon in red" not in document
    assert "the edit model is not installed" not in document
    # Appendix: query; prompt + seed + model; code in <pre>.
    appendix = document[document.index('class="appendix"') :]
    for expected in ("harbour low tide", "moon over the sea", "1234", "tiny-sd"):
        assert expected in appendix
    # Kept on request: a neutral "Figure missing." box, the call in the appendix, still no error text.
    kept = render_html(article, include_unfinished=True)
    assert 'class="image-note"' in kept and "Figure missing." in kept and "Moon in red" in kept
    assert "the edit model is not installed" not in kept
    kept_appendix = kept[kept.index('class="appendix"') :]
    assert "make it red" in kept_appendix and "#2 (figure 3)" in kept_appendix
    assert "<pre><code>plt.plot([0, 1, 0])</code></pre>" in appendix
    assert "@media print" in document
    assert 'class="appendix"' not in render_html(article, appendix=False)


def test_title_from_heading_or_explicit() -> None:
    article = plain_article()
    assert "<title>Tides explained</title>" in render_html(article)
    document = render_html(article, title="My <Title>")
    assert "<title>My &lt;Title&gt;</title>" in document
    assert '<h1 class="article-title">My &lt;Title&gt;</h1>' in document


def test_only_real_raster_images_are_embedded() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>'
    cases = [
        ("svg declared", svg, "image/svg+xml"),
        ("svg called png", svg, "image/png"),
        ("png called html", png_bytes((1, 2, 3)), "text/html"),
        ("html called gif", b"<html>", "image/gif"),
        ("real gif", png_bytes((1, 2, 3), fmt="GIF"), "image/gif"),
    ]
    article = Article()
    for n, (desc, data, mime) in enumerate(cases):
        article.blocks.append(ImageBlock(f"b{n}", n, "code", desc, {}, "", status="ok", image=data, mime=mime))
    document = render_html(article, include_unfinished=True)
    srcs = [a["src"] for t, a in parse_tags(document) if t == "img"]
    assert len(srcs) == 1 and srcs[0].startswith("data:image/gif;base64,")
    body, appendix = document.split('class="appendix"')
    assert body.count("Figure missing.") == 4  # a visible note for each
    assert appendix.count("Figure missing.") == 4
    assert "Figure missing." not in render_html(article)  # left out by default
    assert "svg" not in " ".join(srcs)


def test_write_html_creates_one_self_contained_file(tmp_path: Path) -> None:
    out = write_html(plain_article(), tmp_path / "sub" / "a.html")
    document = out.read_text(encoding="utf-8")
    assert out.parent == tmp_path / "sub"
    for _, attrs in parse_tags(document):
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:image/", "https://")), value
