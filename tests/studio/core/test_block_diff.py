"""The revision diff: blocks aligned (text by content, images by their call), word marks, and the
merge of the accepted blocks."""

from __future__ import annotations

import pytest

from studio.core.article import Article
from studio.core.block_diff import (
    UnknownChange,
    article_text,
    diff_blocks,
    image_piece,
    merge_plan,
    merged_pieces,
    text_piece,
    word_marks,
)
from studio.core.protocol import format_tag
from studio.core.revision import current_pieces, read_revision


def image(description: str, query: str, block_id: str | None = None) -> object:
    params = {"query": query}
    return image_piece(format_tag("search", description, params), "search", description, params, block_id=block_id)


OLD = [
    text_piece("# Cameras\n\nA camera color is a box.\n\n", "b1"),
    image("A camera", "camera", "b2"),
    text_piece("Film came first.\n\n", "b3"),
    image("Old film", "film", "b4"),
    text_piece("The end.\n\n", "b5"),
]


def test_same_changed_added_removed_in_article_order() -> None:
    new = [
        text_piece("# Cameras\n\nA camera colour is a box.\n\n"),
        image("A camera", "camera"),  # the same call: kept
        text_piece("Film came first.\n\n"),
        text_piece("## Lenses\n\nA lens bends light.\n\n"),  # a new section
        image("A lens", "lens"),  # a new tag
        text_piece("The end.\n\n"),
    ]  # the film picture is gone
    changes = diff_blocks(OLD, new)
    shape = [(c.op, c.kind, c.old.block_id if c.old else None) for c in changes]
    assert shape == [
        ("changed", "text", "b1"),
        ("same", "image", "b2"),
        ("same", "text", "b3"),
        ("added", "text", None),
        ("removed", "image", "b4"),  # where it stood: between b3 and b5
        ("added", "image", None),
        ("same", "text", "b5"),
    ]
    assert [c.id for c in changes] == [f"c{i}" for i in range(1, 8)]
    assert changes[0].marks() == [("=", "# Cameras\n\nA camera "), ("-", "color"), ("+", "colour"),
                                  ("=", " is a box.\n\n")]  # fmt: skip


def test_a_changed_tag_is_a_removed_image_and_a_new_one_and_spacing_is_not_a_change() -> None:
    new = [
        text_piece("# Cameras\n\nA camera   color is a box.\n"),  # spacing only
        image("A camera", "digital camera"),
        text_piece("Film came first.\n\n"),
        image("Old film", "film"),
        text_piece("The end.\n\n"),
    ]
    ops = [(c.op, c.kind) for c in diff_blocks(OLD, new)]
    assert ops == [("same", "text"), ("removed", "image"), ("added", "image"), ("same", "text"),
                   ("same", "image"), ("same", "text")]  # fmt: skip


def test_an_image_matches_the_call_as_written_too() -> None:
    """A two-phase chart ran with filled code; the writer copies the tag it wrote (empty code)."""
    ran, written = {"code": "plt.bar([1], [2])"}, {"code": ""}
    old = [image_piece(format_tag("code", "Bars", ran), "code", "Bars", ran, block_id="b1", written=written)]
    new = [image_piece(format_tag("code", "Bars", written), "code", "Bars", written)]
    assert [c.op for c in diff_blocks(old, new)] == ["same"]


def test_an_invalid_new_tag_carries_its_reason() -> None:
    article = Article(brief="b")
    answer = "Text.\n\n<imgen>{'source': 'search', 'description': 'x', 'params': {}}</imgen>\n\nMore.\n\n"
    final = list(read_revision([answer], article))[-1]
    assert final.done is not None
    bad = [p for p in final.pieces if p.kind == "image"]
    assert len(bad) == 1 and bad[0].error and "query" in bad[0].error


def test_merge_accepts_only_the_chosen_blocks() -> None:
    new = [
        text_piece("# Cameras\n\nA camera colour is a box.\n\n"),
        image("A camera", "camera"),
        text_piece("Film came first, then digital.\n\n"),
        image("A lens", "lens"),
        text_piece("The end.\n\n"),
    ]
    changes = diff_blocks(OLD, new)
    by_op = {(c.op, c.kind, c.old.block_id if c.old else None): c.id for c in changes}
    changed_b3 = by_op[("changed", "text", "b3")]
    new_image = by_op[("added", "image", None)]
    removed_film = by_op[("removed", "image", "b4")]
    steps = merge_plan(changes, {changed_b3, new_image})
    assert [(s.op, s.block_id, s.after) for s in steps] == [
        ("set_text", "b3", None),
        ("insert_image", None, ("block", "b4")),  # after the film picture, which stays
    ]
    merged = merged_pieces(changes, {changed_b3, new_image})
    text = article_text(merged)
    assert "A camera color is a box." in text  # b1's change was not accepted
    assert "then digital" in text and "'lens'" in text and "'film'" in text  # the film picture stays
    assert merge_plan(changes, set()) == []
    deleted = merge_plan(changes, {removed_film})
    assert [(s.op, s.block_id) for s in deleted] == [("delete", "b4")]
    with pytest.raises(UnknownChange, match="c99 is not a change of this revision"):
        merge_plan(changes, {"c99"})


def test_inserted_blocks_chain_after_each_other() -> None:
    new = [*OLD[:1], text_piece("New one.\n\n"), text_piece("New two.\n\n"), *OLD[1:]]
    new = [text_piece(p.text) if p.kind == "text" else image(p.description, p.params["query"]) for p in new]
    changes = diff_blocks(OLD, new)
    added = [c.id for c in changes if c.op == "added"]
    steps = merge_plan(changes, added)
    assert [(s.op, s.after) for s in steps] == [("insert_text", ("block", "b1")), ("insert_text", ("change", added[0]))]


def test_word_marks_keep_every_character() -> None:
    old, new = "Colour, and grey.", "Color and gray!"
    marks = word_marks(old, new)
    assert "".join(t for op, t in marks if op != "+") == old
    assert "".join(t for op, t in marks if op != "-") == new


def test_current_pieces_round_trip_as_same() -> None:
    article = Article(brief="b")
    answer = (
        "# T\n\nOne.\n\n<imgen>{'source': 'search', 'description': 'A cat', 'params': {'query': 'cat'}}</imgen>\n\nTwo."
    )
    final = list(read_revision([answer], article))[-1]
    stored = final.done.article  # type: ignore[union-attr]
    for i, b in enumerate(stored.blocks):
        b.id = f"b{i + 1}"
    again = list(read_revision([answer], article))[-1]
    assert {c.op for c in diff_blocks(current_pieces(stored), again.pieces)} == {"same"}
