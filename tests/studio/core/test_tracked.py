"""Tracked changes: a word-level diff whose changes can be taken one by one."""

from __future__ import annotations

import itertools

import pytest

from studio.core.tracked import apply_changes, change_ids, tracked_changes

CASES = [
    ("The quick brown fox jumps over the lazy dog.", "The fox jumps over the dog."),
    ("Bike lanes make riders much safer, studies say.", "Bike lanes make riders safer."),
    ("the big dog", "a small cat"),
    ("  leading and trailing  ", "  leading, trailing  "),
    ("Ein Satz.", "One sentence, translated."),
    ("same", "same"),
    ("", "new words"),
    ("old words", ""),
    ("It's a test — with “quotes”.", "It is a test with quotes!"),
]


@pytest.mark.parametrize(("old", "new"), CASES)
def test_all_changes_give_the_suggestion_and_none_the_selection_exactly(old: str, new: str) -> None:
    segments = tracked_changes(old, new)
    assert apply_changes(segments, change_ids(segments)) == new
    assert apply_changes(segments, []) == old


@pytest.mark.parametrize(("old", "new"), CASES[:5])
def test_every_subset_of_changes_is_the_selection_with_those_changes(old: str, new: str) -> None:
    segments = tracked_changes(old, new)
    ids = change_ids(segments)
    for n in range(len(ids) + 1):
        for chosen in itertools.combinations(ids, n):
            text = apply_changes(segments, chosen)
            # each change contributes either its old or its new side, in order
            expected = "".join(s.new if s.kind == "change" and s.id in chosen else s.old for s in segments)
            assert text == expected


def test_words_are_the_grain_and_changes_split_by_spaces_only_are_one() -> None:
    segments = tracked_changes("The quick brown fox jumps over the lazy dog.", "The fox jumps over the dog.")
    changes = [(s.old, s.new) for s in segments if s.kind == "change"]
    assert changes == [("quick brown ", ""), ("lazy ", "")]
    assert change_ids(segments) == ["c1", "c2"]
    one = tracked_changes("the big dog", "a small cat")
    assert [(s.kind, s.old, s.new) for s in one] == [("change", "the big dog", "a small cat")]


def test_reject_one_accept_the_rest() -> None:
    segments = tracked_changes("The quick brown fox jumps over the lazy dog.", "The fox jumps over the dog.")
    assert apply_changes(segments, ["c2"]) == "The quick brown fox jumps over the dog."
    assert apply_changes(segments, ["c1"]) == "The fox jumps over the lazy dog."


def test_while_streaming_the_rest_of_the_selection_is_pending_not_struck_out() -> None:
    segments = tracked_changes("The quick brown fox jumps.", "The fox ju", streaming=True)
    kinds = [(s.kind, s.old, s.new) for s in segments]
    assert kinds[-1] == ("pending", "jumps.", "")
    assert ("change", "", "ju") in kinds
    assert ("change", "quick brown ", "") in kinds
    with pytest.raises(ValueError, match="still being written"):
        apply_changes(segments, [])
    assert tracked_changes("abc def", "", streaming=True)[-1].kind == "pending"
