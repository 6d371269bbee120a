"""The revision diff: blocks aligned (text by content, images by their call), word marks, and the
merge of the accepted blocks."""

from __future__ import annotations

import pytest

from studio.core.article import Article
from studio.core.block_diff import (
    Piece,
    UnknownChange,
    article_text,
    block_texts,
    diff_blocks,
    image_piece,
    merge_plan,
    merged_pieces,
    paragraphs,
    text_piece,
    word_marks,
)
from studio.core.protocol import format_tag
from studio.core.revision import current_pieces, read_revision, unwrap_fence


def image(description: str, query: str, block_id: str | None = None) -> Piece:
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
    shape = [(c.op, c.kind, c.old.block_id if c.old else None, c.old.part if c.old else None) for c in changes]
    assert shape == [
        ("same", "text", "b1", 1),
        ("changed", "text", "b1", 2),  # paragraph by paragraph
        ("same", "image", "b2", 0),
        ("same", "text", "b3", 1),
        ("added", "text", None, None),
        ("added", "text", None, None),
        ("removed", "image", "b4", 0),  # where it stood: between b3 and b5
        ("added", "image", None, None),
        ("same", "text", "b5", 1),
    ]
    assert [c.id for c in changes] == [f"c{i}" for i in range(1, 10)]
    assert changes[1].marks() == [("=", "A camera "), ("-", "color"), ("+", "colour"), ("=", " is a box.")]
    assert changes[4].marks() == [("+", "## Lenses")]


def test_a_changed_tag_is_a_removed_image_and_a_new_one_and_spacing_is_not_a_change() -> None:
    new = [
        text_piece("# Cameras\n\nA camera   color is a box.\n"),  # spacing only
        image("A camera", "digital camera"),
        text_piece("Film came first.\n\n"),
        image("Old film", "film"),
        text_piece("The end.\n\n"),
    ]
    ops = [(c.op, c.kind) for c in diff_blocks(OLD, new)]
    assert ops == [("same", "text"), ("same", "text"), ("removed", "image"), ("added", "image"), ("same", "text"),
                   ("same", "image"), ("same", "text")]  # fmt: skip


def test_paragraphs_split_at_blank_lines_but_not_inside_code_fences() -> None:
    assert paragraphs("One\nline two.\n\n\nThree.\n```\ncode\n\nmore code\n```\n\nEnd.") == [
        "One\nline two.", "Three.\n```\ncode\n\nmore code\n```", "End.",
    ]  # fmt: skip


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
    assert [(s.op, s.block_id, s.text, s.after) for s in steps] == [
        ("set_text", "b3", "Film came first, then digital.", None),
        ("insert_image", None, "", ("block", "b4")),  # after the film picture, which stays
    ]
    text = article_text(merged_pieces(changes, {changed_b3, new_image}))
    assert "A camera color is a box." in text  # b1's change was not accepted
    assert "then digital" in text and "'lens'" in text and "'film'" in text  # the film picture stays
    assert merge_plan(changes, set()) == []
    assert [(s.op, s.block_id) for s in merge_plan(changes, {removed_film})] == [("delete", "b4")]
    assert block_texts(changes, {changed_b3})["b1"] == "# Cameras\n\nA camera color is a box."
    with pytest.raises(UnknownChange, match="c99 is not a change of this revision"):
        merge_plan(changes, {"c99"})


def steps_of(old: list[Piece], new: list[Piece], accepted: list[str] | None = None) -> list[tuple[object, ...]]:
    changes = diff_blocks(old, new)
    taken = [c.id for c in changes if c.decidable] if accepted is None else accepted
    return [(s.op, s.block_id, s.text, s.after) for s in merge_plan(changes, taken)]


def test_new_paragraphs_join_the_text_block_next_to_them_else_make_a_block() -> None:
    old = [text_piece("Intro.\n\n", "b1"), image("A", "a", "b2"), image("B", "b", "b3")]
    after_intro = [text_piece("Intro.\n\nMore intro.\n\n"), image("A", "a"), image("B", "b")]
    assert steps_of(old, after_intro) == [("set_text", "b1", "Intro.\n\nMore intro.", None)]
    lead = [text_piece("Lead.\n\nIntro.\n\n"), image("A", "a"), image("B", "b")]
    assert steps_of(old, lead) == [("set_text", "b1", "Lead.\n\nIntro.", None)]
    between = [text_piece("Intro."), image("A", "a"), text_piece("One.\n\nTwo."), image("B", "b")]
    assert steps_of(old, between) == [("insert_text", None, "One.\n\nTwo.", ("block", "b2"))]
    chained = [text_piece("Intro."), image("A", "a"), image("C", "c"), text_piece("After C."), image("B", "b")]
    steps = steps_of(old, chained)
    assert [(op, after) for op, _, _, after in steps] == [("insert_image", ("block", "b2")),
                                                          ("insert_text", ("change", "c3"))]  # fmt: skip


def test_a_block_goes_only_when_all_its_paragraphs_are_removed() -> None:
    old = [text_piece("A.\n\nB.\n\n", "b1"), image("A", "a", "b2")]
    new = [image("A", "a")]
    assert steps_of(old, new) == [("delete", "b1", "", None)]
    assert steps_of(old, new, ["c1"]) == [("set_text", "b1", "B.", None)]


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


def test_an_inserted_section_before_a_changed_paragraph_is_added_not_changed() -> None:
    old = [image("A", "a", "b1"), text_piece("Gray clouds color the end.\n\n", "b2")]
    new = [image("A", "a"), text_piece("## Lenses\n\nA lens bends light.\n\nGrey clouds colour the end.\n\n")]
    shape = [(c.op, c.new.text if c.new and c.kind == "text" else c.kind) for c in diff_blocks(old, new)]
    assert shape == [
        ("same", "image"),
        ("added", "## Lenses"),
        ("added", "A lens bends light."),
        ("changed", "Grey clouds colour the end."),
    ]


def test_an_answer_wrapped_in_a_code_fence_is_unwrapped() -> None:
    article = Article(brief="b")
    answer = (
        "```markdown\n# T\n\nOne.\n\n<imgen>{'source': 'search', 'description': 'A cat', 'params': {'query': 'cat'}}"
    )
    answer += "</imgen>\n\nTwo.\n```\n"
    pieces = list(read_revision([answer], article))[-1].pieces
    texts = [p.text.strip() for p in pieces if p.kind == "text"]
    assert texts == ["# T\n\nOne.", "Two."]
    inner = "```python\nprint(1)\n```\n\nAfter."  # a code block inside the article is kept
    assert [p.text for p in unwrap_fence([text_piece(inner)])] == [inner]
    code_only = "```python\nprint(1)\n```"  # an article that is one code block stays one
    assert [p.text for p in unwrap_fence([text_piece(code_only)])] == [code_only]
