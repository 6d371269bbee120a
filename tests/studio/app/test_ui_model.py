"""View models: events fold into the view, and hostile model/web text stays inert in the HTML."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from studio.app.ui_model import (
    ArticleView,
    BlockView,
    VersionView,
    apply_event,
    event_dict,
    view_dict,
    view_from_article,
)
from studio.app.ui_page import head_html, image_card, page, paragraphs, stage, word_diff
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.events import (
    ArticleDone,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallInvalid,
    ToolCallQueued,
    ToolCallStarted,
)


def png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def test_events_fold_into_blocks_and_states() -> None:
    view = ArticleView(brief="b")
    for event in [
        TextDelta("b1", "Hello "),
        TextDelta("b1", "world"),
        ToolCallQueued("b2", 0, "code", "A chart", {"code": ""}),
        ToolCallInvalid("b3", 1, "<imgen>{bad}</imgen>", "not a dict"),
    ]:
        apply_event(view, event)
    assert [(b.id, b.kind, b.status) for b in view.blocks] == [
        ("b1", "text", "queued"),
        ("b2", "image", "queued"),
        ("b3", "image", "invalid"),
    ]
    assert view.block("b1").text == "Hello world"
    apply_event(view, ToolCallStarted("b2", "code"))
    assert view.block("b2").status == "running"
    apply_event(view, ToolCallFinished("b2", "code", 1.5, {"code": "x"}, png(), "image/png", {"code": "plt.plot()"}))
    assert view.block("b2").status == "ok" and view.block("b2").params == {"code": "plt.plot()"}
    assert view.block("b2").sha256 == hashlib.sha256(png()).hexdigest()
    apply_event(view, ArticleDone(Article(), 2.0, "stream broke"))
    assert view.done and view.status == "failed" and "stopped early" in head_html(view)
    apply_event(view, ArticleDone(Article(), 2.0, "stopped by the user", stopped=True))
    assert view.status == "interrupted" and "stopped" in head_html(view)


def html_of(view: ArticleView) -> str:
    """The page as the server renders it (text as HTML: the in-place editor off; its own tests are
    tests/studio/app/test_save_text.py)."""
    data = page(view, editor="")
    return data["head"] + "".join("".join(b["body"]) + b["tools"] for b in data["blocks"])


def test_failed_card_shows_reason_and_invalid_card_shows_raw_escaped() -> None:
    view = ArticleView()
    apply_event(view, ToolCallQueued("b1", 0, "search", "Tower", {"query": "eiffel"}))
    apply_event(view, ToolCallFailed("b1", "search", "no image results for 'eiffel'", 0.2))
    apply_event(view, ToolCallInvalid("b2", 1, "<imgen><script>alert(1)</script></imgen>", "bad <b>tag</b>"))
    html = html_of(view)
    assert 'data-status="failed"' in html and "no image results for &#39;eiffel&#39;" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "bad &lt;b&gt;tag&lt;/b&gt;" in html
    from markupsafe import Markup

    assert "b1" not in Markup(image_card(view.block("b1"), False)).striptags()  # no internal ids shown


def test_hostile_text_and_links_are_sanitized() -> None:
    view = ArticleView(article_id=1, done=True)
    apply_event(view, TextDelta("b1", "# Title\n<img src=x onerror=alert(1)><script>steal()</script> **bold**"))
    block = BlockView(
        "b2", "image", image_index=0, source="search", description='"><script>x()</script>', status="ok",
        params={"query": "q"}, image=png(), provenance={"page_url": "javascript:alert(1)", "title": "<i>t</i>"},
        sha256="ab" * 32, alt='" onerror="x()',
    )  # fmt: skip
    view.blocks.append(block)
    html = html_of(view)
    assert "<script>" not in html and "<img src=x" not in html and "<script>steal()" not in html
    assert 'alt="&#34; onerror=&#34;x()"' in html  # attribute values stay values
    assert "<strong>bold</strong>" in html and "<h1>Title</h1>" in html
    assert "javascript:" not in html  # the unsafe link is dropped, not rendered
    block.provenance["page_url"] = "https://example.org/page?a=1&b=2"
    card = str(image_card(block, True, view))
    assert 'href="https://example.org/page?a=1&amp;b=2"' in card and "&lt;i&gt;t&lt;/i&gt;" in card
    assert 'src="/studio-asset/' + "ab" * 32 + '"' in card and "base64" not in card


def test_cards_carry_their_actions_only_when_the_article_can_be_edited() -> None:
    block = BlockView("b1", "image", image_index=0, source="code", status="ok", sha256="cd" * 32,
                      params={"code": "plt.plot()"}, description="Chart")  # fmt: skip
    editable = str(image_card(block, True))
    for act in ("regenerate", "open_editor", "accept", "caption", "move", "delete", "insert"):
        assert f'data-act="{act}"' in editable
    assert "data-upload" in editable and "download=" in editable
    assert "data-act" not in str(image_card(block, False)).replace('data-act="lightbox"', "")
    block.accepted = True
    assert 'data-act="accept"' not in str(image_card(block, True))  # already accepted
    failed = BlockView("b2", "image", image_index=1, source="code", status="failed", error="boom")
    assert 'data-act="accept"' not in str(image_card(failed, True))  # only an ok image can be accepted


def test_a_failed_candidate_is_shown_beside_the_working_image() -> None:
    block = BlockView("b1", "image", image_index=0, source="code", status="ok", sha256="cd" * 32, version=1,
                      version_count=2, candidate=VersionView(2, "regenerate", "failed", "NameError: x"),
                      history=[VersionView(1, "generated", "ok", sha256="cd" * 32),
                               VersionView(2, "regenerate", "failed", "NameError: x")])  # fmt: skip
    card = str(image_card(block, True))
    assert "card-candidate" in card and "NameError: x" in card and "is kept" in card
    assert card.count('class="thumb"') == 1  # the failed version has no thumbnail
    assert 'data-act="revert"' not in card  # a failed version cannot be made current


def test_edit_card_shows_before_and_after_and_diffusion_seed() -> None:
    red, blue = png("red"), png("blue")
    view = ArticleView(user_images=[red])
    edit = BlockView("b1", "image", image_index=1, source="edit", status="ok", image=blue,
                     sha256=hashlib.sha256(blue).hexdigest(),
                     params={"img_index": 0, "prompt": "make it blue"}, provenance={"seed": 42})  # fmt: skip
    view.blocks.append(edit)
    card = str(image_card(edit, False, view))
    assert hashlib.sha256(red).hexdigest() in card and hashlib.sha256(blue).hexdigest() in card
    assert "before" in card and "make it blue" in card and "42" in card
    diff = BlockView("b2", "image", source="diffusion", status="ok", params={"prompt": "a cat"},
                     provenance={"seed": 7, "model": "sd-turbo"})  # fmt: skip
    card = str(image_card(diff, False))
    assert "a cat" in card and ">7<" in card and "sd-turbo" in card


def test_text_streams_paragraph_by_paragraph() -> None:
    text = "# T\n\nOne two.\n\n```\ncode\n\nmore code\n```\n\nLast"
    assert paragraphs(text) == ["# T", "One two.", "```\ncode\n\nmore code\n```", "Last"]
    view = ArticleView(article_id=1)
    apply_event(view, TextDelta("b1", "First paragraph.\n\nSecond"))
    before = page(view)["blocks"][0]
    apply_event(view, TextDelta("b1", " grows"))
    after = page(view)["blocks"][0]
    # the finished paragraph is rendered once; the unfinished one is an escaped tail that only grows
    assert before["body"] == after["body"] == ["<p>First paragraph.</p>\n"]
    assert (before["tail"], after["tail"]) == ("Second", "Second grows")
    apply_event(view, TextDelta("b1", " <script>x()</script>&"))
    assert "&lt;script&gt;x()&lt;/script&gt;&amp;" in page(view)["blocks"][0]["tail"]  # escaped while it grows
    apply_event(view, TextDelta("b1", "\n\n"))
    done = page(view)["blocks"][0]
    assert done["tail"] == "" and done["body"][1].startswith("<p>Second grows") and "<script" not in done["body"][1]


def test_stage_names_what_is_happening() -> None:
    view = ArticleView(article_id=1)
    assert stage(view) == "loading the model and reading the brief"
    apply_event(view, TextDelta("b1", "Text"))
    assert stage(view) == "writing"
    apply_event(view, ToolCallQueued("b2", 0, "code", "Chart", {"code": ""}))
    apply_event(view, ToolCallStarted("b2", "code"))
    assert stage(view, two_phase_code=True) == "writing chart code for image 1"
    assert stage(view) == "running the chart tool for image 1"
    assert 'data-since="' in head_html(view)  # the page script ticks the elapsed time


def test_word_diff_escapes_and_marks_changes() -> None:
    diff = str(word_diff("a <b> c", "a <i> c d"))
    assert diff == "a <del>&lt;b&gt;</del> <ins>&lt;i&gt;</ins> c <ins>d</ins>"


def test_view_from_article_and_json() -> None:
    article = Article(brief="brief")
    article.blocks = [
        TextBlock("b1", "Intro text"),
        ImageBlock("b2", 0, "code", "Chart", {"code": "x"}, "", status="ok", image=png()),
    ]
    view = view_from_article(article)
    data = view_dict(view)
    assert data["blocks"][1]["image"] == "/studio-asset/" + hashlib.sha256(png()).hexdigest()
    assert data["blocks"][0]["text"] == "Intro text"
    ev = event_dict(ToolCallFinished("b2", "code", 1.23456, {}, b"abc", "image/png"))
    assert ev["type"] == "ToolCallFinished" and ev["image_bytes"] == 3 and "image" not in ev and ev["seconds"] == 1.235
