"""ThinkFilter: <think> blocks leave the stream whatever the chunk boundaries."""

from __future__ import annotations

import itertools

import pytest

from models.thinking import ThinkFilter


def run(chunks: list[str]) -> str:
    thinking = ThinkFilter()
    return "".join(thinking.feed(c) for c in chunks) + thinking.flush()


def splits(text: str, cuts: int) -> list[list[str]]:
    """Every way to cut ``text`` at ``cuts`` points (chunks may be empty)."""
    out = []
    for points in itertools.combinations_with_replacement(range(len(text) + 1), cuts):
        bounds = [0, *points, len(text)]
        out.append([text[a:b] for a, b in itertools.pairwise(bounds)])
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>plan the tags</think>\n\n# Bees\n\nText.", "# Bees\n\nText."),
        ("# Bees\n\nA<think>hidden</think> b", "# Bees\n\nAb"),
        ("a < b and <thinking> is not a tag", "a < b and <thinking> is not a tag"),
        ("reasoning without its opening tag</think>\n# Bees", "reasoning without its opening tag# Bees"),
        ("# Bees\n\n<think>cut off while thinking", "# Bees\n\n"),
        ("ends on a partial <thi", "ends on a partial <thi"),
        ("<think></think>\n\n<think>\n</think>\n\nOK", "OK"),
    ],
)
def test_every_chunking_gives_the_same_text(text: str, expected: str) -> None:
    for chunks in splits(text, 2):
        assert run(chunks) == expected, chunks
    assert run(list(text)) == expected  # one character per chunk


def test_text_is_not_held_back_longer_than_a_possible_tag() -> None:
    thinking = ThinkFilter()
    assert thinking.feed("# Bees\n\nBees dance <") == "# Bees\n\nBees dance "
    assert thinking.feed("b>") == "<b>"
    assert thinking.feed("<think>secret plan") == ""
    assert thinking.feed("</think>Next") == "Next"
    assert thinking.dropped == len("secret plan")
