"""The stream guards over scripted chunk streams: odd chunk boundaries, CJK, tags in between."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.article import REPETITION, Article
from studio.core.engine import Engine
from studio.core.events import ArticleDone, TextDelta, ToolCallQueued
from studio.core.guards import HELD_KEEP, MAX_HOLD, TextGuard, tool_talk
from studio.core.prompts import system_prompt, user_prompt
from studio.core.runner import ToolRunner
from studio.core.stream import Tag, TagStreamLexer, Text

SAMPLE = Path(__file__).parents[2] / "data" / "response-four-tools.txt"
OFF = {"search": None, "diffusion": None, "code": None, "edit": None}


def chunked(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def guarded(text: str, size: int, guard: TextGuard) -> str:
    """The text as an engine shows it: lexed into text and tags, text through the guard."""
    lexer, out = TagStreamLexer(), []

    def take(pieces: list[Text | Tag] | list) -> None:  # type: ignore[type-arg]
        for piece in pieces:
            if isinstance(piece, Text):
                out.append(guard.feed(piece.text))
            else:
                out.append(guard.boundary())
                if not guard.looped:
                    out.append(piece.raw)

    for chunk in chunked(text, size):
        take(lexer.feed(chunk))
    take(lexer.close())
    out.append(guard.close())
    return "".join(out)


def writer_prompts(brief: str) -> list[str]:
    return [
        system_prompt(OFF, max_images=4, compact=True),
        user_prompt(brief, wanted_images=None, user_image_count=0),
    ]


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
def test_the_shipped_sample_passes_unchanged_at_any_chunk_size(size: int) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    guard = TextGuard(prompts=writer_prompts("An article about lighthouses"), brief="An article about lighthouses")
    assert guarded(text, size, guard) == text
    assert guard.take_removals() == [] and not guard.looped


@pytest.mark.parametrize("size", [1, 2, 5, 11])
def test_a_chinese_loop_is_cut_at_its_first_repeat(size: int) -> None:
    head = "# 茶文化\n\n茶是中国的传统饮品，历史悠久。茶文化是中国文化和中华民族的重要组成部分。"
    guard = TextGuard()
    out = guarded(head + "茶文化是中国文化和中华民族的重要组成部分。" * 11, size, guard)
    assert out == head
    removed = guard.take_removals()
    assert [r.kind for r in removed] == [REPETITION]
    assert removed[0].text == "茶文化是中国文化和中华民族的重要组成部分。"
    assert guard.looped


def test_a_cjk_clause_loop_without_a_full_stop_is_caught() -> None:
    clause = "茶文化是中国文化和中华民族的重要组成部分，"
    guard = TextGuard()
    out = guarded("茶很好喝。" + clause * 8, 4, guard)
    assert out == "茶很好喝。" + clause
    assert guard.looped


def test_an_english_section_repeating_itself_drops_its_heading_too() -> None:
    section = (
        "## The Ming dynasty\n\nThe Ming rebuilt the Great Wall in brick and stone. "
        "Porcelain from Jingdezhen reached Europe by sea.\n\n"
    )
    text = "# A history of China\n\n" + section + section + "## The Qing dynasty\n\nThe Qing came from the north.\n"
    guard = TextGuard()
    out = guarded(text, 5, guard)
    assert out == "# A history of China\n\n" + section
    assert guard.looped


def test_a_tag_between_the_repeats_is_dropped_with_them() -> None:
    tag = "<imgen>{'source': 'search', 'description': 'A tea field', 'params': {'query': 'tea field'}}</imgen>"
    sentence = "Tea fields cover the hills of Fujian province in spring.\n\n"
    guard = TextGuard()
    out = guarded(sentence + tag + "\n\n" + sentence + tag, 9, guard)
    assert out == sentence + tag  # the blank line after it waited for the next sentence


def test_short_repeats_and_code_lines_are_no_loop() -> None:
    text = (
        "# Recipes\n\n## Ingredients\n\nFlour. Water.\n\n## Ingredients\n\nSalt. Water.\n\n"
        "Stir well. Stir well.\n\n```python\nprint(x)\nprint(x)\nprint(x)\nprint(x)\n```\n\nDone at last.\n"
    )
    guard = TextGuard()
    assert guarded(text, 4, guard) == text
    assert not guard.looped


def test_the_third_short_repeat_is_a_loop() -> None:
    guard = TextGuard()
    out = guarded("Tea is good. Tea is good. Tea is good. Tea is good.", 3, guard)
    assert out == "Tea is good. Tea is good. "
    assert guard.looped


def test_a_phrase_looping_inside_one_sentence_is_caught() -> None:
    guard = TextGuard()
    out = guarded("Tea is old. " + "and the leaves of the tea plant " * 40, 13, guard)
    assert out == "Tea is old. "
    assert guard.looped


def test_a_continuation_may_not_repeat_what_was_written() -> None:
    written = "Tea reached Japan with Buddhist monks in the ninth century."
    guard = TextGuard(written=written)
    assert guarded(" " + written + " More.", 6, guard) == ""
    assert guard.looped


ISSUE_TOOL_TALK = [
    "The chart uses search and diffusion to generate images.",
    "This chart is drawn using the diffusion and code sources.",
    "The chart is an empty string.",
    "The description is a short caption of this one picture.",
    "Bees use search and diffusion to navigate the environment.",
    "The image tag below has a short description of the hive.",
    "Each imgen block becomes a picture.",
    "The params hold the query for the search source.",
    "A placeholder tag is filled later by the user.",
    "The image tag's description names the bee.",
    "Its source is diffusion, so the picture is imagined.",
]
ORDINARY = [
    "Bees search for nectar in the morning.",
    "We edited the code of the website to load faster.",
    "Search engines rank pages by links and content.",
    "Diffusion of gases is slower in cold air.",
    "Search and edit your code in one editor.",
    "Use a placeholder image while the page loads.",
    "HTML tags like div and span structure a page.",
    "The description of the painting in the catalogue is brief.",
    "Open source code lets anyone read how it works.",
    "Stable Diffusion is an image model released in 2022.",
    "The function returns an empty string when the input is missing.",
    "The editor lets you edit photos and search your library.",
    "Heat diffusion explains why the pan's handle warms up.",
    "Police search the area and the code of conduct applies.",
    "A search party found the hikers at dawn.",
    "The museum's caption reads: gift of the artist.",
    "Each picture in the album tells a story.",
    "Our parameters were tuned by grid search.",
    "Innovation spreads by diffusion through social networks.",
    "The tool shed holds rakes, shovels and a wheelbarrow.",
    "Google and other search tools index the web.",
    "Photoshop's edit tools include a clone stamp.",
    "Wrap inline code in code tags.",
    "The HTML image tag needs an alt attribute.",
    "Use search tags to find posts about hiking.",
    "A placeholder holds the seat until the guest arrives.",
    "The source of the Nile was a mystery for centuries.",
    "Lorem ipsum is placeholder text used in design mock-ups.",
]


@pytest.mark.parametrize("sentence", ISSUE_TOOL_TALK)
def test_tool_talk_is_removed_and_recorded(sentence: str) -> None:
    guard = TextGuard()
    text = "Honeybees live in colonies. " + sentence + " They make honey.\n"
    out = guarded(text, 7, guard)
    assert out == "Honeybees live in colonies. They make honey.\n"
    removed = guard.take_removals()
    assert [r.kind for r in removed] == ["tool_talk"] and removed[0].text == sentence


def test_ordinary_sentences_with_tool_words_survive() -> None:
    text = " ".join(ORDINARY) + "\n"
    guard = TextGuard(prompts=writer_prompts("An article about software"), brief="An article about software")
    assert guarded(text, 5, guard) == text, guard.take_removals()
    assert [s for s in ORDINARY if tool_talk(s)] == []


def test_an_echo_of_the_prompt_is_removed_but_the_brief_may_be_quoted() -> None:
    brief = "Write a short article about the history of tea in China"
    guard = TextGuard(prompts=writer_prompts(brief), brief=brief)
    text = (
        "The history of tea in China spans many dynasties. "
        "Write about the subject only, never about these rules today. "
        "End the article with a complete sentence of yours. "
        "Green tea came first.\n"
    )
    out = guarded(text, 6, guard)
    assert out == "The history of tea in China spans many dynasties. Green tea came first.\n"
    assert [r.kind for r in guard.take_removals()] == ["echo", "echo"]


def test_a_dropped_sentence_keeps_its_paragraph_break() -> None:
    guard = TextGuard()
    out = guarded("Bees dance.\n\nThe chart uses search and diffusion.\n\n## Hives\n\nHives are warm.\n", 3, guard)
    assert out == "Bees dance.\n\n\n\n## Hives\n\nHives are warm.\n"


# --- through the engine -----------------------------------------------------------------------------
class ClosingStream:
    """A model stream that records whether the engine closed it (as an HTTP stream is closed)."""

    def __init__(self, chunks: list[str]) -> None:
        self.chunks, self.closed, self.sent = chunks, threading.Event(), 0

    def __iter__(self) -> Iterator[str]:
        return self._gen()

    def _gen(self) -> Iterator[str]:
        try:
            for chunk in self.chunks:
                self.sent += 1
                yield chunk
        finally:
            self.closed.set()


def test_the_engine_closes_a_looping_stream_and_records_the_removal() -> None:
    sentence = "Tea is the second most consumed drink in the world after water. "
    chunks = chunked("# Tea\n\n" + sentence * 200, 5)
    stream = ClosingStream(chunks)
    gen = iter(stream)
    article = Article(brief="tea")
    events = list(Engine(ToolRunner({})).run(gen, article, guard=TextGuard()))
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None
    assert stream.closed.is_set() and stream.sent < len(chunks) // 10  # stopped near the first repeat
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "# Tea\n\n" + sentence
    assert article.repetition_removed and "repetition removed" in article.guard_note()
    assert article.to_dict()["repetition_removed"] is True
    assert article.to_dict()["removed"][0]["kind"] == REPETITION


def test_tags_pass_the_engine_untouched_between_guarded_text() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    article = Article()
    events = list(Engine(ToolRunner({})).run(chunked(text, 3), article, guard=TextGuard()))
    assert sum(isinstance(e, ToolCallQueued) for e in events) == 4
    assert article.to_llmi_text() == text
    assert article.removed == []


def test_text_is_held_only_until_its_sentence_ends() -> None:
    guard = TextGuard()
    assert guard.feed("Bees dance. Th") == "Bees dance. "
    assert guard.feed("ey sing") == ""
    assert guard.feed(".") == ""  # "3." or "e.g." may go on: wait for what follows
    assert guard.feed("\n") == "They sing.\n"
    assert guard.feed("茶很好，") == "茶很好，"  # a CJK clause ends at its comma
    long = " ".join(f"word{i}" for i in range(120))  # no sentence end for long: judged and shown anyway,
    shown = guard.feed(long)  # all but its end (held, so that a cycle crossing the cut is caught)
    assert shown == long[: len(long) - HELD_KEEP] and len(long) > MAX_HOLD
    assert shown + guard.close() == long and not guard.looped
    assert guard.feed("x" * 700) == "" and guard.looped  # the same few letters over and over


def test_a_cycle_with_no_sentence_end_is_removed_before_it_shows() -> None:
    # measured (1.5B, data-marathon, bench run r5): a dict-like line, then an emoji cycle that
    # only became periodic after the first MAX_HOLD characters had been judged and shown
    start = (
        "{'code': 'diffusion', 'description': 'Box-plot and line chart of marathon finishing times by age "
        "group, with a median time per age group.', 'params': {'prompt': 'Box-plot and line-chart of "
        "marathon finishing times by age-group, with a median time per age-group.'}'} "
        "📊 📈 📈 📊 📊 📉 📈 📉 📉 📉 🔒 📉 📉 💻 📉 📉 ♦️ ♦️ ♦️ 📉 📉 ★️ ★️ ★️ 📉 📉 😌 😌 😌 "
        "📉 📉 😀 😀 😀 📉 📉 ☀️ ☀️ ☀️ 📉 📉 🌟 🌟 🌟 ♪ ♪ ♪ ♪ 📉 📉 "
    )
    cycle = "♪ ♪ ♪ ☀️ ☀️ ♪ ♪ ♪ ♥️ ♥️ ♥️ ♪ ♪ ♪ 💻 💻 💻 ♪ ♪ ♪ 😌 😌 😌 ♪ ♪ ♪ 😀 😀 😀 ♪ ♪ ♪ ★️ ★️ ★️ "
    text = "The chart shows the trend.\n\n" + start + cycle * 3 + cycle[:40] + "♪♦..'\n\n"
    assert len(start) + 3 * len(cycle) > MAX_HOLD  # the third period ends past the cut
    guard, shown = TextGuard(), ""
    for i in range(0, len(text), 4):  # as a model streams it
        shown += guard.feed(text[i : i + 4])
    shown += guard.close()
    assert guard.looped and [r.reason for r in guard.take_removals()] == ["repeats a phrase over and over"]
    assert shown.startswith("The chart shows the trend.\n\n") and cycle not in shown


def test_a_heading_held_when_a_loop_comes_is_given_back_only_when_it_is_the_studios() -> None:
    for keep, expected in ((True, "## Growing\n\n"), (False, "")):
        guard = TextGuard()
        assert guard.feed("Tea began in China long ago.\n\n") == "Tea began in China long ago.\n\n"
        assert guard.feed("## Growing\n\n") == ""  # held until the next sentence's verdict
        assert guard.feed("Tea began in China long ago. More") == ""
        assert guard.looped
        assert guard.resume(keep_headings=keep) == expected
        assert guard.feed("Tea grows on hills.\n\n") == "Tea grows on hills.\n\n"


class _Sections:
    """A chunk source whose headings are its own and which can skip a looping section."""

    owns_headings = True

    def __init__(self, chunks: list[str]) -> None:
        self._chunks = iter(chunks)

    def __iter__(self) -> _Sections:
        return self

    def __next__(self) -> str:
        return next(self._chunks)

    def skip_section(self) -> bool:
        return True


def test_a_heading_given_back_after_a_loop_starts_its_own_paragraph() -> None:
    # the text before it was kept without its paragraph end ("...18th century. ## The First
    # Bicycle" on the 1.5B model): the engine puts the heading on its own line
    from studio.core.article import Article
    from studio.core.engine import Engine
    from studio.core.runner import ToolRunner

    loop = "Tea began in China long ago. "  # judged when the next chunk comes, which is dropped with it
    chunks = [loop, "## Growing\n\n", loop, "It is old. ", "Hills."]
    done = list(Engine(ToolRunner({})).run(_Sections(chunks), Article(), guard=TextGuard()))[-1]
    text = done.article.to_llmi_text()
    assert "ago. \n\n## Growing\n\nHills." in text, repr(text)
