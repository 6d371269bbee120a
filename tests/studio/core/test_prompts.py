"""The system and user prompts: only offered tools, the exact tag format, a valid example."""

from __future__ import annotations

import pytest

from studio.core.prompts import example_article, system_prompt, user_prompt
from studio.core.protocol import TAG_RE, ToolCall, find_tags

ALL_ON = {"search": None, "diffusion": None, "code": None, "edit": None}


@pytest.mark.parametrize("small", [True, False])
def test_off_tool_is_not_offered(small: bool) -> None:
    available = {**ALL_ON, "diffusion": "no GPU weights", "search": "offline"}
    text = system_prompt(available, max_images=3, compact=small)
    assert "`diffusion`" not in text and "`search`" not in text
    assert "'source': 'diffusion'" not in text and "'source': 'search'" not in text
    assert "`code`" in text and "`edit`" in text
    if small:  # a small model is not even told the name
        assert "diffusion" not in text and "search" not in text
    else:
        assert "Not available now, do not use: search, diffusion." in text


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("on", [["search"], ["code"], ["diffusion", "edit"], ["search", "code", "diffusion", "edit"]])
def test_example_tags_are_valid_and_use_only_offered_tools(small: bool, on: list[str]) -> None:
    available = {s: (None if s in on else "off") for s in ALL_ON}
    text = system_prompt(available, max_images=4, compact=small)
    example = text[text.index("# How a Bee Colony Works") :]
    tags = find_tags(example)
    assert tags and all(isinstance(t, ToolCall) for t in tags)
    assert {t.source for t in tags} <= set(on)
    assert "```" not in example  # tags are raw text, never fenced
    # Tags sit alone on their lines.
    for match in TAG_RE.finditer(example):
        line_start = example.rfind("\n", 0, match.start()) + 1
        assert example[line_start : match.start()] == ""


def test_two_phase_example_has_empty_code_and_one_phase_has_runnable_code() -> None:
    two = find_tags(example_article({"code": None}, two_phase_code=True))
    one = find_tags(example_article({"code": None}, two_phase_code=False))
    assert isinstance(two[0], ToolCall) and two[0].params_dict() == {"code": ""}
    assert isinstance(one[0], ToolCall)
    code = one[0].params_dict()["code"]
    assert "plt.bar" in code and "show" not in code and "savefig" not in code
    compile(code, "<example>", "exec")
    # small models default to two phases, the full prompt to code in the tag
    assert "{'code': ''}" in system_prompt({"code": None}, max_images=2, compact=True)
    assert "plt.bar" in system_prompt({"code": None}, max_images=2, compact=False)


def test_full_prompt_teaches_the_rules() -> None:
    text = system_prompt(ALL_ON, max_images=5, compact=False, style="playful, for children")
    for needle in (
        "<imgen>{'source': SOURCE, 'description': DESCRIPTION, 'params': PARAMS}</imgen>",
        "exactly the keys 'source', 'description' and 'params'",
        "plt.show()",
        "at most 5 image tags",
        "img_index",
        "Never wrap it in a code block",
        "Style: playful, for children",
    ):
        assert needle in text


def test_small_prompt_is_shorter() -> None:
    assert len(system_prompt(ALL_ON, max_images=3, compact=True)) < len(
        system_prompt(ALL_ON, max_images=3, compact=False)
    )


@pytest.mark.parametrize("small", [True, False])
def test_no_tools_or_no_images_means_no_tags(small: bool) -> None:
    for available, max_images in (({s: "off" for s in ALL_ON}, 3), (ALL_ON, 0)):
        text = system_prompt(available, max_images=max_images, compact=small)
        assert "<imgen>" not in text
        assert "Do not include any images" in text


def test_edit_without_earlier_image_in_example_is_skipped() -> None:
    # Edit alone: the example has nothing earlier to edit, so it shows no edit tag.
    assert find_tags(example_article({"edit": None})) == []


def test_unknown_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown tool source"):
        system_prompt({"video": None}, max_images=2, compact=True)


def test_user_prompt() -> None:
    text = user_prompt("  Write about bicycles.  ", wanted_images=3, user_image_count=2)
    assert text.startswith("Write about bicycles.")
    assert "exactly 3 image tags" in text and "img_index 0 to 1" in text
    assert "without images" in user_prompt("x", wanted_images=0, user_image_count=0)
    assert user_prompt("x", wanted_images=None, user_image_count=0) == "x"
    assert "img_index 0" in user_prompt("x", wanted_images=None, user_image_count=1)
    with pytest.raises(ValueError):
        user_prompt("x", wanted_images=-1, user_image_count=0)
