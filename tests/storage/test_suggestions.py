"""A decided suggestion in the store: its versions and its one preference event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.errors import NotFound, Refused
from storage import Scope, Store, export_preferences, repo
from storage.pref_rows import preference_rows
from storage.prefs import list_preference_events
from storage.suggestions import record_suggestion

OLD = "Tides rise and fall.\n"


def decide(store: Store, aid: int, kept: str, *, base: int = 1, block: str = "b1", owner: str | None = None) -> str:
    decision, _ = record_suggestion(
        store, aid, block, base_version=base, suggested_text="Tides move.\n", kept_text=kept,
        instruction="Make it shorter.", details={"selection": "rise and fall", "suggested": "move"}, owner=owner,
    )  # fmt: skip
    return decision


def test_whole_accept_partial_and_reject_each_log_one_event(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    start = len(list_preference_events(store))
    assert decide(store, aid, "Tides move.\n") == "accept"
    b1 = repo.open_article(store, aid).block("b1")
    assert (b1.current_version, b1.current.text, b1.current.origin) == (2, "Tides move.\n", "suggest")

    assert decide(store, aid, "Tides move.\n", base=2) == "accept"  # a suggestion on the new text
    assert decide(store, aid, "Tides rise.\n", base=3) == "partial"
    b1 = repo.open_article(store, aid).block("b1")
    assert (b1.current_version, b1.current.text) == (5, "Tides rise.\n")  # 4: the whole suggestion, 5: as kept
    assert decide(store, aid, "Tides rise.\n", base=5) == "reject"
    b1 = repo.open_article(store, aid).block("b1")
    assert (b1.current_version, b1.current.text, b1.candidate) == (5, "Tides rise.\n", None)

    events = list_preference_events(store)[start:]
    assert [e.kind for e in events] == ["accept", "accept", "accept", "revert"]  # one per decision, nothing else
    partial, reject = events[2], events[3]
    assert (partial.context["chosen"]["number"], partial.context["rejected"]["number"]) == (5, 4)
    assert (reject.context["chosen"]["number"], reject.context["rejected"]["number"]) == (5, 6)
    assert reject.context["suggestion"] == {
        "selection": "rise and fall", "suggested": "move", "decision": "reject", "instruction": "Make it shorter.",
        "base_version": 5,
    }  # fmt: skip
    rows, _ = preference_rows(events)
    assert {r["origin"] for r in rows} == {"suggestion"}


def test_a_changed_block_an_image_block_and_another_owner_are_refused(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    repo.add_text_version(store, aid, "b1", "Tides rise and fall twice a day.\n", manual=True)
    with pytest.raises(Refused, match="changed since the suggestion was made"):
        decide(store, aid, "Tides move.\n", base=1)
    with pytest.raises(Refused, match="image block"):
        decide(store, aid, "x", block="b2")
    with pytest.raises(NotFound):
        decide(store, aid, "Tides move.\n", base=2, owner="someone-else")
    assert repo.open_article(store, aid).block("b1").current.text == "Tides rise and fall twice a day.\n"


def test_the_trl_export_carries_the_decided_suggestions(store: Store, article: tuple[int, int], tmp_path: Path) -> None:
    _, aid = article
    decide(store, aid, "Tides rise.\n")  # partial: kept over the whole suggestion
    decide(store, aid, "Tides rise.\n", base=3)  # reject: the text over the suggestion
    out = export_preferences(store, tmp_path / "prefs", Scope(article_id=aid))
    rows = [json.loads(line) for line in (out.out_dir / "preferences.jsonl").read_text().splitlines()]
    mine = [r for r in rows if r["origin"] == "suggestion"]
    assert [(r["event"], r["chosen_origin"], r["rejected_origin"]) for r in mine] == [
        ("accept", "suggest", "suggest"), ("revert", "suggest", "suggest")
    ]  # fmt: skip
    assert "Tides rise." in mine[0]["chosen"][0]["content"] and "Tides move." in mine[0]["rejected"][0]["content"]


def test_an_accepted_suggestion_is_one_history_step_that_undo_takes_back(
    store: Store, article: tuple[int, int]
) -> None:
    from storage import history

    _, aid = article
    decide(store, aid, "Tides rise.\n")  # partial: two versions, one step
    assert repo.open_article(store, aid).block("b1").current.text == "Tides rise.\n"
    history.undo(store, aid)
    assert repo.open_article(store, aid).block("b1").current.text == OLD
    history.redo(store, aid)
    assert repo.open_article(store, aid).block("b1").current.text == "Tides rise.\n"
    rows, _ = preference_rows(list_preference_events(store))
    assert [r["origin"] for r in rows if r["origin"] == "suggestion"] == ["suggestion"]  # redone: it stands
