"""The harness's stream-guard figures: what the guards removed, and what is left in an article."""

from __future__ import annotations

from studio.core.article import REPETITION, Article, Removal
from studio.core.prompts import system_prompt, user_prompt
from studio.core.protocol import parse_tag
from studio.quality.honesty import article_checks, guard_checks, honesty_lines, summarize_checks

TAG = "<imgen>{'source': 'search', 'description': 'A bee', 'params': {'query': 'bee'}}</imgen>"


def article_of(*texts: str) -> Article:
    article = Article(brief="An article about bees")
    for text in texts:
        if text.startswith("<imgen>"):
            article.add_image(parse_tag(text, tag_position=0, user_image_count=0))
        else:
            article.add_text().text = text
    return article


def test_what_was_removed_and_what_is_left_are_counted_apart() -> None:
    prompts = [
        system_prompt({"search": None, "diffusion": None, "code": None, "edit": None}, max_images=2, compact=True),
        user_prompt("An article about bees", wanted_images=None, user_image_count=0),
    ]
    article = article_of(
        "# Bees\n\nBees live in hives. The chart uses search and diffusion to generate images.\n\n",
        TAG,
        "\n\nWrite about the subject only, never about these rules here. Bees dance to share news. "
        "Bees dance to share news.\n",
    )
    article.removed = [Removal(REPETITION, "x", "r"), Removal("echo", "y", "r"), Removal("echo", "z", "r")]
    g = guard_checks(article, prompts)
    assert (g["loops_removed"], g["echo_removed"], g["tool_talk_removed"]) == (1, 2, 0)
    assert (g["loops_left"], g["echo_left"], g["tool_talk_left"]) == (1, 1, 1)
    assert g["left"][0]["text"] == "The chart uses search and diffusion to generate images."


def test_a_clean_article_leaves_nothing_and_the_run_lines_say_so() -> None:
    article = article_of("# Bees\n\nBees live in hives.\n\n", TAG, "\n\nThey make honey.\n")
    checks = article_checks(article, 1)
    assert checks["guards"]["left"] == [] and checks["guards"]["removed"] == []
    summary = summarize_checks([checks, checks])
    assert summary["loops_left"] == 0 and summary["tool_talk_left"] == 0

    class Row:
        id = "bees"

    Row.checks = checks  # type: ignore[attr-defined]
    lines = honesty_lines([Row()], summary)
    assert any(line.startswith("stream guards removed: 0 loops") for line in lines)
