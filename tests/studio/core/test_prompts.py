"""The system and user prompts: all four sources by purpose, tag shapes with slots, no example content."""

from __future__ import annotations

import re

import pytest

from studio.core.prompts import example_texts, system_prompt, tag_shape, user_prompt
from studio.core.protocol import ToolCall, find_tags
from tools.params import SOURCES

ALL_ON = {"search": None, "diffusion": None, "code": None, "edit": None}
OFFLINE = {"search": "no search host", "diffusion": "no weights", "code": None, "edit": "no weights"}


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("available", [ALL_ON, OFFLINE])
def test_all_four_sources_are_offered_by_purpose(small: bool, available: dict[str, str | None]) -> None:
    text = system_prompt(available, max_images=3, compact=small)
    choose = next(line for line in text.splitlines() if line.startswith("Pick the source by what the picture is"))
    for source in SOURCES:
        assert f"'source': '{source}'" in text and f"`{source}`" in choose  # its tag and what it is for
    assert "a photo of something real is `search`, an illustration is `diffusion`" in text
    # the full prompt also has a line per source; the small one not (the 1.5B model copied them)
    assert ("- `search`: photos of real things" in text) is not small
    assert "only charts and diagrams of data are `code`" in text and "never as Markdown images" in text


def test_full_prompt_says_what_an_off_tool_gives() -> None:
    text = system_prompt(OFFLINE, max_images=3, compact=False)
    assert "Some tools are off right now (search, diffusion, edit)" in text
    assert "becomes a placeholder" in text and "Do not draw a photo or an illustration with code" in text
    assert "Some tools are off" not in system_prompt(ALL_ON, max_images=3, compact=False)


@pytest.mark.parametrize("small", [True, False])
def test_no_example_content_only_slots(small: bool) -> None:
    text = system_prompt(ALL_ON, max_images=4, compact=small)
    # no example article, no example title or sentence: every tag shown is a shape with <slots>
    assert "Example" not in text and "# How" not in text and "bee" not in text.lower()
    for line in text.splitlines():
        if "<imgen>{'source'" in line and "SOURCE" not in line:
            desc = re.search(r"'description': '([^']*)'", line)
            assert desc and desc.group(1).startswith("<"), line


def test_tag_shapes_are_not_valid_tags_except_their_format() -> None:
    # Shapes have slots, so they are never mistaken for a real call with content.
    for source in SOURCES:
        shape = tag_shape(source)
        assert "<" in shape.split("'description': '", 1)[1]
    # the two-phase code shape has the literal empty code string
    tags = find_tags(tag_shape("code", two_phase_code=True))
    assert tags and isinstance(tags[0], ToolCall) and tags[0].params_dict() == {"code": ""}


def test_example_texts_cover_every_shape() -> None:
    texts = example_texts()
    assert all(tag_shape(s) in texts for s in SOURCES)


def test_full_prompt_teaches_the_rules() -> None:
    text = system_prompt(ALL_ON, max_images=5, compact=False, style="playful, for children")
    for needle in (
        "<imgen>{'source': SOURCE, 'description': DESCRIPTION, 'params': PARAMS}</imgen>",
        "exactly the keys 'source', 'description' and 'params'",
        "plt.show()",
        "Use 1 to 5 image tags",
        "img_index",
        "Never wrap it in a code block",
        "Style: playful, for children",
    ):
        assert needle in text
    assert "Use exactly 2 image tags" in system_prompt(ALL_ON, max_images=2, compact=True, exact_count=True)


def test_two_phase_code_rules() -> None:
    assert "{'code': ''}" in system_prompt(ALL_ON, max_images=2, compact=True)
    assert "plt.show()" in system_prompt(ALL_ON, max_images=2, compact=False)


@pytest.mark.parametrize("small", [True, False])
def test_no_images_means_no_tags(small: bool) -> None:
    text = system_prompt(ALL_ON, max_images=0, compact=small)
    assert "<imgen>" not in text
    assert "do not write any image tag" in text


def test_unknown_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown tool source"):
        system_prompt({"video": None}, max_images=2, compact=True)


def test_user_prompt() -> None:
    text = user_prompt("  Write about bicycles.  ", wanted_images=3, user_image_count=2)
    assert text.startswith("Write about bicycles.")
    assert "exactly 3 image tags" in text and "img_index 0 to 1" in text
    assert "without images" in user_prompt("x", wanted_images=0, user_image_count=0)
    assert "without images" in user_prompt("x", wanted_images=-1, user_image_count=0)
    assert user_prompt("x", wanted_images=None, user_image_count=0) == "x"
    assert "img_index 0" in user_prompt("x", wanted_images=None, user_image_count=1)
    with pytest.raises(ValueError):
        user_prompt("x", wanted_images=-2, user_image_count=0)


def test_a_brief_that_asks_for_a_chart_is_told_to_draw_it_with_code() -> None:
    from studio.core.brief_plan import plan_text

    assert plan_text("A guide to the water cycle with a chart of annual rainfall").kinds == ("code",)
    assert "code" not in plan_text("A story with a surprising plot").kinds + plan_text("Kyoto in three photos").kinds
    told = user_prompt("A report with a graph of sales", wanted_images=None, user_image_count=0)
    assert "with a `code` tag" in told
    assert "`code`" not in user_prompt("A report with a graph of sales", wanted_images=-1, user_image_count=0)


def test_the_picture_kinds_a_brief_names_are_asked_for_by_source() -> None:
    from studio.core.chart_checks import asked_sources

    kyoto = "A guide to Kyoto with photos of Kinkaku-ji and the Fushimi Inari gates"
    assert asked_sources(kyoto) == ["search"]
    iceland = "An itinerary with a photo of a waterfall, a map-like illustration of the route and a chart of hours"
    assert asked_sources(iceland) == ["code", "search", "diffusion"]
    assert asked_sources("A launch with a product image") == []  # "image" says nothing about the kind
    assert asked_sources("A report on bees with no photos and without a chart") == []
    told = user_prompt(kyoto, wanted_images=2, user_image_count=0)
    assert "with a `search` tag" in told and "`diffusion`" not in told and "`code`" not in told
    assert "`search`" not in user_prompt(kyoto, wanted_images=0, user_image_count=0)
