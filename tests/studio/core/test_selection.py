"""A selection on the rendered page, found in the block's Markdown."""

from __future__ import annotations

import pytest

from models.errors import Refused
from studio.core.selection import SelectionNotFound, locate_selection, rendered_text


def span(markdown: str, selected: str, before: str = "") -> str:
    start, end = locate_selection(markdown, selected, before)
    return markdown[start:end]


def test_plain_text_is_found_as_is() -> None:
    text = "Bike lanes make riders safer. They also calm traffic.\n\n"
    assert span(text, "They also calm traffic.") == "They also calm traffic."


def test_markup_is_skipped_and_a_half_construct_is_widened_to_the_whole() -> None:
    text = "Riders are **much safer** on lanes, says [the city report](https://example.org/r) today."
    assert rendered_text(text)[0] == "Riders are much safer on lanes, says the city report today."
    assert span(text, "safer on lanes") == "**much safer** on lanes"  # never half of the ** markers
    assert span(text, "much safer") == "much safer"  # inside the emphasis: the markers stay around it
    assert span(text, "says the city") == "says [the city report](https://example.org/r)"
    assert span(text, "report today") == "[the city report](https://example.org/r) today"


def test_line_markers_escapes_and_spacing() -> None:
    text = "## A heading\n\n- first item\n- second\\* item\n\nA  line\nbroken here."
    assert span(text, "A heading") == "A heading"
    assert span(text, "first item second* item") == "first item\n- second\\* item"
    assert span(text, "A line broken here.") == "A  line\nbroken here."  # the page squeezes spaces
    assert span(text, "item\n\nA line") == "item\n\nA  line"


def test_entities_show_as_their_character() -> None:
    text = "Salt &amp; pepper, 5 &lt; 6 and &copy; them."
    assert span(text, "Salt & pepper, 5 < 6") == "Salt &amp; pepper, 5 &lt; 6"
    assert span(text, "pepper, 5 <") == "pepper, 5 &lt;"


def test_the_text_before_picks_which_of_two_equal_passages() -> None:
    text = "It rains. The end. It snows. The end."
    first, second = locate_selection(text, "The end.", "It rains."), locate_selection(text, "The end.", "It snows. ")
    assert (first, second) == ((10, 18), (29, 37))
    assert locate_selection(text, "The end.") == (10, 18)  # no hint: the first


def test_a_selection_that_is_not_there_is_refused_in_words() -> None:
    with pytest.raises(SelectionNotFound, match="select it again"):
        locate_selection("Bike lanes.", "Car lanes")
    with pytest.raises(SelectionNotFound, match="select some text"):
        locate_selection("Bike lanes.", "  \n ")
    with pytest.raises(Refused, match="at most 4000"):
        locate_selection("x" * 5000, "x" * 4500)
    with pytest.raises(Refused, match="at most 4000"):
        locate_selection("x", "x" * 100_000)
