"""The revise panel's diff is model output: everything in it is escaped, a bad tag says why."""

from __future__ import annotations

from studio.app.revising import Proposal, parse_accept
from studio.app.ui_revise import revision_html
from studio.core.block_diff import diff_blocks, image_piece, text_piece

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def proposal() -> Proposal:
    old = [text_piece("Plain words here.\n\n", "b1")]
    new = [
        text_piece(f"Plain words {HOSTILE} here.\n\n"),
        image_piece("<imgen>bad</imgen>", "search", f"caption {HOSTILE}", {}, error=f"params: {HOSTILE}"),
    ]
    return Proposal("do it", 1, "Plain words here.\n\n", diff_blocks(old, new), done=True, note=HOSTILE)


def test_the_diff_escapes_text_captions_reasons_and_notes() -> None:
    html = revision_html(proposal())
    assert "<script" not in html and "<img" not in html and 'onerror="' not in html
    assert html.count("&lt;script&gt;") == 4  # the text, the caption, the reason, the note
    assert '<section class="rv rv-changed" data-change="c1">' in html
    assert "<ins>" in html and "This tag is not valid: params:" in html


def test_accept_words() -> None:
    p = proposal()
    assert parse_accept("all", p) == ({"c1", "c2"}, "accept_all")
    assert parse_accept("none", p) == (set(), "discard")
    assert parse_accept("", p) == (set(), "discard")
    assert parse_accept("c2", p) == ({"c2"}, "per_block")
    assert parse_accept(["c1", "c2"], p) == ({"c1", "c2"}, "accept_all")
