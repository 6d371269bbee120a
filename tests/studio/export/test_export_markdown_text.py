"""The Markdown export as a writer pastes it: a backslash only where Markdown needs one. Round
trip: article.md rendered back to HTML by markdown-it shows the same text as the HTML export
(``<article>``, appendix aside), for a fixed article and for generated captions, titles and
credits full of punctuation; images, links and tags stay as many as the export made."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from studio.core.article import Article, ImageBlock, TextBlock
from studio.export.html import render_html
from studio.export.markdown import article_markdown, md_line, md_text
from tests.studio.export.test_export_html import plain_article, png_bytes

MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
PUNCTUATED = "Heights (metres) of C# & AT&T's <3 towers, ~30% of snake_case a*b [1] Top #"


class _Text(HTMLParser):
    """The text a reader sees (inside ``scope`` when given), and the tags around it."""

    def __init__(self, scope: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.scope, self.depth = scope, 0 if scope else 1
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag == self.scope
        if self.depth:
            self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag == self.scope

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def _seen(html: str, scope: str | None = None) -> tuple[str, list[str]]:
    parser = _Text(scope)
    parser.feed(html)
    return " ".join("".join(parser.parts).split()), parser.tags


def round_trip(article: Article, title: str | None = None) -> tuple[str, str, str]:
    """(article.md, its text through markdown-it, the HTML export's article text)."""
    md = article_markdown(article, title)
    return md, _seen(MD.render(md))[0], _seen(render_html(article, appendix=False, title=title), "article")[0]


def punctuated_article(description: str = PUNCTUATED, credit: str = "Harbour (CC BY 4.0) *photo*") -> Article:
    art = plain_article()
    art.blocks += [
        ImageBlock(
            "b8", 4, "code", description, {"code": "plt.plot([1])"}, "raw", status="ok",
            provenance={"code": "plt.plot([1])"}, image=png_bytes((1, 2, 3), (40, 30)),
        ),
        ImageBlock(
            "b9", 5, "search", description, {"query": "q"}, "raw", status="ok",
            provenance={"page_url": "https://photos.example/p", "title": credit, "source": "photos.example",
                        "licence_hint": credit},
            image=png_bytes((3, 2, 1), (40, 30)),
        ),
        ImageBlock("b10", 6, "diffusion", description, {"prompt": "x"}, "raw", status="failed", error=description),
        TextBlock("b11", "\n\nThe end.\n"),
    ]  # fmt: skip
    return art


def test_the_markdown_has_no_stray_escapes() -> None:
    md, _, _ = round_trip(plain_article())
    assert "Chart drawn from code (see the appendix)" in md
    assert "(photos.example, CC BY 4.0)" in md
    assert "\\" not in md  # nothing in this article needs a backslash
    md, _, _ = round_trip(punctuated_article())
    assert "Heights (metres) of C# & AT&T's <3 towers, ~30% of snake_case a\\*b \\[1\\] Top #" in md
    assert "\\(" not in md and "\\)" not in md and "\\&" not in md and "\\<" not in md and "\\_" not in md


def test_round_trip_shows_the_same_text_as_the_html_export() -> None:
    for article, title in ((plain_article(), None), (punctuated_article(), "Tides & towers (#2) Top #")):
        md, from_markdown, from_html = round_trip(article, title)
        assert from_markdown == from_html, md
        assert "see the appendix" in from_markdown


def test_only_markup_characters_are_escaped() -> None:
    assert md_text("(see the appendix) a > b | c! 50% ~ 3 snake_case x_1") == (
        "(see the appendix) a > b | c! 50% ~ 3 snake_case x_1"
    )
    assert md_text("*a* _b_ `c` [d](e) ![f](g) <b>h</b> &amp; ~~i~~ j\\*") == (
        "\\*a\\* \\_b\\_ \\`c\\` \\[d\\](e) !\\[f\\](g) \\<b>h\\</b> \\&amp; \\~\\~i\\~\\~ j\\\\\\*"
    )
    assert md_text("C:\\temp") == "C:\\temp" and md_text("ends with \\") == "ends with \\\\"
    assert md_line("> quoted") == "\\> quoted" and md_line("1. first") == "1\\. first"


# Captions, titles and credits written with every ASCII punctuation character, letters, digits,
# spaces and a few non-ASCII letters: whatever they hold, the text survives and the structure
# (images, links, headings) is the export's own.
TEXT = st.text(
    alphabet=st.sampled_from(list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ") + list("aZ09éß水")),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(description=TEXT, credit=TEXT, title=TEXT)
def test_round_trip_holds_for_any_punctuation(description: str, credit: str, title: str) -> None:
    article = punctuated_article(description, credit)
    md, from_markdown, from_html = round_trip(article, title)
    assert from_markdown == from_html, md
    tokens = [t for block in MD.parse(md) for t in [block, *(block.children or [])]]
    assert [str(t.attrs["src"]) for t in tokens if t.type == "image"] == [
        "images/b2.png", "images/b4.png", "images/b5.webp", "images/b8.png", "images/b9.png",
    ]  # fmt: skip
    assert [str(t.attrs["href"]) for t in tokens if t.type == "link_open"] == [
        "https://photos.example/harbour",
        "https://photos.example/p",
    ]
    assert not [t for t in tokens if t.type in ("html_inline", "html_block", "code_inline", "s_open")]
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h1", "h2", "h2"]
