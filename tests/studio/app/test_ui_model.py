"""View models: events fold into the view, and hostile model/web text stays inert in the HTML."""

from __future__ import annotations

import base64
import io

from PIL import Image

from studio.app.ui_model import (
    ArticleView,
    BlockView,
    apply_event,
    article_html,
    block_choices,
    card_html,
    data_url,
    event_dict,
    progress_line,
    view_dict,
    view_from_article,
)
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
    assert "running" not in progress_line(view) and "1 ok" in progress_line(view)
    apply_event(view, ArticleDone(Article(), 2.0, "stream broke"))
    assert view.done and "stopped early" in progress_line(view)


def test_failed_card_shows_reason_and_invalid_card_shows_raw_escaped() -> None:
    view = ArticleView()
    apply_event(view, ToolCallQueued("b1", 0, "search", "Tower", {"query": "eiffel"}))
    apply_event(view, ToolCallFailed("b1", "search", "no image results for 'eiffel'", 0.2))
    apply_event(view, ToolCallInvalid("b2", 1, "<imgen><script>alert(1)</script></imgen>", "bad <b>tag</b>"))
    html = article_html(view)
    assert 'data-status="failed"' in html and "no image results for &#39;eiffel&#39;" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "bad &lt;b&gt;tag&lt;/b&gt;" in html


def test_hostile_text_and_links_are_sanitized() -> None:
    view = ArticleView()
    apply_event(view, TextDelta("b1", "# Title\n<img src=x onerror=alert(1)><script>steal()</script> **bold**"))
    block = BlockView(
        "b2", "image", image_index=0, source="search", description='"><script>x()</script>', status="ok",
        params={"query": "q"}, image=png(), provenance={"page_url": "javascript:alert(1)", "title": "<i>t</i>"},
    )  # fmt: skip
    view.blocks.append(block)
    html = article_html(view)
    assert "<script>" not in html and "onerror" not in html and "steal()" not in html
    assert "<strong>bold</strong>" in html and "<h1>Title</h1>" in html
    assert "javascript:" not in html  # the unsafe link is dropped, not rendered
    block.provenance["page_url"] = "https://example.org/page?a=1&b=2"
    card = card_html(block, view)
    assert 'href="https://example.org/page?a=1&amp;b=2"' in card and "&lt;i&gt;t&lt;/i&gt;" in card


def test_image_embedded_only_when_bytes_match_the_claimed_type() -> None:
    assert data_url(
        png(),
        "image/png",
    ).startswith("data:image/png;base64,")
    assert data_url(b"<svg onload=alert(1)>", "image/png") is None
    assert data_url(png(), "image/jpeg") is None
    block = BlockView("b1", "image", source="code", status="ok", image=b"<html>", params={"code": "plt.plot()"})
    card = card_html(block)
    assert "<img" not in card and "plt.plot()" in card


def test_edit_card_shows_before_and_after_and_diffusion_seed() -> None:
    red, blue = png("red"), png("blue")
    view = ArticleView(user_images=[red])
    edit = BlockView("b1", "image", image_index=1, source="edit", status="ok", image=blue,
                     params={"img_index": 0, "prompt": "make it blue"}, provenance={"seed": 42})  # fmt: skip
    view.blocks.append(edit)
    card = card_html(edit, view)
    assert base64.b64encode(red).decode() in card and base64.b64encode(blue).decode() in card
    assert "before" in card and "make it blue" in card and "42" in card
    diff = BlockView("b2", "image", source="diffusion", status="ok", params={"prompt": "a cat"},
                     provenance={"seed": 7, "model": "sd-turbo"})  # fmt: skip
    card = card_html(diff)
    assert "a cat" in card and ">7<" in card and "sd-turbo" in card


def test_view_from_article_json_and_choices() -> None:
    article = Article(brief="brief")
    article.blocks = [
        TextBlock("b1", "Intro text"),
        ImageBlock("b2", 0, "code", "Chart", {"code": "x"}, "", status="ok", image=png()),
    ]
    view = view_from_article(article)
    data = view_dict(view)
    assert data["blocks"][1]["image"].startswith("data:image/png") and data["blocks"][0]["text"] == "Intro text"
    assert [v for _, v in block_choices(view)] == ["b2", "b1"]
    ev = event_dict(ToolCallFinished("b2", "code", 1.23456, {}, b"abc", "image/png"))
    assert ev["type"] == "ToolCallFinished" and ev["image_bytes"] == 3 and "image" not in ev and ev["seconds"] == 1.235
