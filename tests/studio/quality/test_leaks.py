"""The leak check: n-gram overlap between prompt examples and outputs, on known leaked text."""

from __future__ import annotations

from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.prompts import tag_shape
from studio.quality.honesty import article_checks
from studio.quality.leaks import article_output_text, check_leaks, example_phrases, prompt_examples

# The examples our prompts used to carry, and what the issue saw leak from them.
OLD_EXAMPLES = [
    "# How a Bee Colony Works\n\nA strong hive gives 25 to 30 kg of honey a year, depending on the weather.\n\n"
    "Without bees, many fruits and vegetables would not grow.",
    'plt.title("Average bicycle commute distance")\nplt.xlabel("Year")\nplt.ylabel("Distance (km)")',
]
LEAKED_PHOTOSYNTHESIS = (
    "# Photosynthesis\n\nPlants turn light, water and carbon dioxide into sugar and oxygen. The green "
    "pigment chlorophyll catches the light. Without bees, many fruits and vegetables would not grow."
)


def article(text: str, code: str = "", description: str = "") -> Article:
    a = Article(brief="b")
    a.blocks.append(TextBlock("b1", text))
    if code:
        a.blocks.append(ImageBlock("b2", 0, "code", description, {"code": code}, "", status="ok"))
    return a


def test_known_leaked_sentences_are_found() -> None:
    report = check_leaks(LEAKED_PHOTOSYNTHESIS, OLD_EXAMPLES)
    assert report.leaked == ("without bees many fruits and vegetables would not grow",)
    assert 0 < report.overlap < 1
    chart = article("Water moves.", 'plt.title("Average bicycle commute distance")', "Rainfall by month")
    leaked = check_leaks(article_output_text(chart), OLD_EXAMPLES).leaked
    assert leaked == ("average bicycle commute distance",)


def test_clean_text_and_short_common_words_do_not_count() -> None:
    text = "# Bees\n\nBees make honey. A strong colony needs flowers. Many fruits need pollination by insects."
    report = check_leaks(text, OLD_EXAMPLES)
    assert report.leaked == () and report.overlap == 0
    assert "year" not in example_phrases(['plt.xlabel("Year")'])  # one word is no phrase


def test_current_prompt_examples_are_slots_and_a_copied_slot_is_caught() -> None:
    examples = prompt_examples()
    assert tag_shape("search") in examples
    copied = article("# T\n\nSome text.", 'plt.title("<what is measured>")', "<chart type> of <what is measured>")
    checks = article_checks(copied, 1)
    assert "what is measured" in checks["leaks"]["leaked"]
    clean = article("# Coffee\n\nPrices rose in 2024.", 'plt.title("Coffee price causes")', "Bar chart of causes")
    assert article_checks(clean, 1)["leaks"]["leaked"] == []
    # the purpose lines count too (a 1.5B run copied two into an article's text)
    copied_purpose = article("# Kettle\n\n**Image 1:** Illustrations and imagined scenes. Source: diffusion.")
    assert article_checks(copied_purpose, 1)["leaks"]["leaked"] == ["illustrations and imagined scenes"]


def test_a_markdown_image_in_the_text_is_reported() -> None:
    text = '# EVs\n\n![search](https://example.com/search/image.jpg "A charging station") Sales grew.'
    assert article_checks(article(text), 0)["markdown_images"] == ["b1"]
