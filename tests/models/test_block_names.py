"""Blocks named for people (models.block_names): what history labels and refusals say instead of
an id. Text by its kind and first words, images by what made them and their caption."""

from __future__ import annotations

import pytest

from models.block_names import WIDTH, block_name, capitalised, image_name, name_for, quoted, text_name
from studio.core.article import ImageBlock, TextBlock


def test_a_paragraph_is_named_by_its_first_five_words() -> None:
    text = "Cities build bike lanes, and the number of riders doubles within five years.\n"
    assert text_name(text) == 'paragraph "Cities build bike lanes, and…"'
    assert text_name("Short one.") == 'paragraph "Short one."'  # nothing cut: no ellipsis


def test_a_heading_is_named_by_its_own_line_without_markdown() -> None:
    assert text_name("# Origins\n\nThe first bikes were wooden.") == 'heading "Origins"'
    assert text_name("## The **history** of [bikes](https://example.org) ##") == 'heading "The history of bikes"'
    assert text_name("#hashtag rather than a heading") == 'paragraph "#hashtag rather than a heading"'


def test_lists_and_quotes_say_so() -> None:
    assert text_name("- Helmets\n- Lights\n") == 'list "Helmets, Lights"'
    assert text_name("> Ride on, said the mayor.") == 'quote "Ride on, said the mayor."'


def test_cjk_text_without_spaces_is_cut_by_width() -> None:
    name = text_name("城市正在修建自行车道，骑车的人数在五年内翻了一番。")
    inside = name.removeprefix('paragraph "').removesuffix('"')
    assert inside.endswith("…") and inside.startswith("城市正在修建自行车道")
    assert len(inside) - 1 <= WIDTH // 2  # a CJK character takes two columns
    assert "，" not in inside[-2:]  # no dangling punctuation before the ellipsis


def test_very_long_text_and_long_words_are_cut() -> None:
    long = "Supercalifragilisticexpialidociously " * 40
    assert quoted(long) == "Supercalifragilisticexpialidociously"[: WIDTH - 1] + "…"  # one word wider than WIDTH
    assert len(quoted("word " * 10_000)) <= WIDTH
    one = "A" * 5_000
    assert text_name(one) == 'paragraph "' + "A" * (WIDTH - 1) + '…"'
    # a cut in the middle of a word goes back to that word's start
    assert quoted("Extraordinarily long sentences tend to lose readers") == "Extraordinarily long sentences tend…"
    assert quoted("Internationalisation reconsiderations overwhelm everybody") == "Internationalisation…"


def test_empty_text_is_an_empty_paragraph() -> None:
    assert text_name("") == "empty paragraph"
    assert text_name("  \n\n \t") == "empty paragraph"
    assert text_name("#") == "empty heading"
    assert block_name("text", text=None) == "empty paragraph"


def test_control_and_bidi_characters_are_dropped() -> None:
    assert text_name("Safe\u202etxt.exe and\x00 more") == 'paragraph "Safetxt.exe and more"'


@pytest.mark.parametrize(
    ("source", "provenance", "kind"),
    [
        ("code", {"origin": "chart"}, "chart"),
        ("search", {"origin": "search"}, "photo"),
        ("diffusion", {"origin": "generated"}, "illustration"),
        ("edit", {"origin": "edited"}, "edited image"),
        ("search", {"origin": "upload"}, "your image"),
        ("search", {"origin": "url", "url": "https://example.org/a.png"}, "your image"),
        ("code", None, "chart"),  # a queued call has no provenance yet: its tool says
        ("search", {"uploaded": "cat.jpg"}, "your image"),  # an older upload record
        (None, None, "image"),  # an invalid tag
    ],
)
def test_each_image_kind_is_named_with_its_caption(source: str | None, provenance: dict | None, kind: str) -> None:
    assert (
        image_name(source, provenance, "Sales by brand in Europe, 2020 to 2024")
        == f'{kind} "Sales by brand in Europe…"'
    )
    assert image_name(source, provenance, "") == kind  # no caption: the kind alone
    assert block_name("image", source=source, provenance=provenance, description="Tides") == f'{kind} "Tides"'


def test_studio_blocks_and_sentences() -> None:
    assert name_for(TextBlock("b1", "## Origins")) == 'heading "Origins"'
    image = ImageBlock("b2", 0, "diffusion", "A dragon over Lisbon", {}, "")
    assert name_for(image) == 'illustration "A dragon over Lisbon"'
    assert capitalised(name_for(image)) == 'Illustration "A dragon over Lisbon"'
    assert capitalised("") == ""
