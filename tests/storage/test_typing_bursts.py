"""Typing bursts (storage.typing_bursts) on both backends: the in-place editor's autosaves of one
block within STUDIO_TYPING_MERGE_S are one version, one Undo step and one exported preference
pair; another step in between, an old burst, an explicit edit or a window of 0 start anew."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models.errors import Refused
from storage import Store, repo
from storage.pref_export import export_preferences
from storage.pref_rows import Scope, preference_rows
from storage.prefs import list_preference_events
from storage.schema import HistoryStep
from storage.suggestions import record_suggestion

WINDOW = 60.0
ORIGINAL = "Tides rise and fall.\n"


def autosave(store: Store, aid: int, text: str, key: str = "b1", window: float = WINDOW) -> int:
    """One autosave as the editor sends it; returns the version number now current."""
    return repo.add_text_version(store, aid, key, text, manual=True, owner=None, typing_merge_s=window).number


def current_text(store: Store, aid: int, key: str = "b1") -> str:
    return repo.open_article(store, aid).block(key).current.text or ""


def pairs(store: Store) -> list[dict]:
    return preference_rows(list_preference_events(store))[0]


def exported(store: Store, aid: int, out: Path) -> list[dict]:
    export = export_preferences(store, out, scope=Scope(article_id=aid))
    rows = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert export.counts.preferences == len(rows)
    return rows


def test_three_autosaves_in_the_window_are_one_version_one_step_one_pair(
    store: Store, article: tuple[int, int], tmp_path: Path
) -> None:
    _, aid = article
    assert current_text(store, aid) == ORIGINAL
    numbers = [autosave(store, aid, t) for t in ("Tides rise\n", "Tides rise and\n", "Tides rise and ebb.\n")]
    assert numbers == [2, 2, 2]  # the card keeps saying "version 2"
    versions = repo.list_versions(store, aid, "b1")
    assert len(versions) == 2 and versions[-1].origin == "edit"
    assert current_text(store, aid) == "Tides rise and ebb.\n"

    steps = repo.list_steps(store, aid)
    # named by the text before the burst, not by a save within it
    assert [(s.kind, s.label) for s in steps] == [("edit_text", 'text edit of paragraph "Tides rise and fall."')]
    # the log stays append-only: one event per save, all about the same two versions ...
    edits = [e for e in list_preference_events(store, kind="rewrite") if e.context.get("manual")]
    assert len(edits) == 3
    assert {(e.chosen_version_id, e.rejected_version_id) for e in edits} == {
        (edits[0].chosen_version_id, edits[0].rejected_version_id)
    }
    # ... and the dataset has one pair: the text before the burst against the latest text
    rows = exported(store, aid, tmp_path / "export")
    assert len(rows) == 1
    assert rows[0]["event"] == "edit" and rows[0]["event_id"] == edits[-1].id
    assert rows[0]["rejected_text"] == ORIGINAL and rows[0]["chosen_text"] == "Tides rise and ebb.\n"

    # one Ctrl+Z takes the whole burst back, and the pair with it; Redo brings both back
    assert repo.undo(store, aid).label == 'text edit of paragraph "Tides rise and fall."'
    assert current_text(store, aid) == ORIGINAL
    assert repo.history_state(store, aid).undo is None
    assert pairs(store) == []
    repo.redo(store, aid)
    assert current_text(store, aid) == "Tides rise and ebb.\n"
    assert [r["chosen_text"] for r in pairs(store)] == ["Tides rise and ebb.\n"]


def test_another_step_in_between_ends_the_burst(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    autosave(store, aid, "Tides rise.\n")
    autosave(store, aid, "The moon pulls the sea hard.", key="b3")  # another block's edit
    assert autosave(store, aid, "Tides rise high.\n") == 3  # a new burst: a new version
    assert len(repo.list_steps(store, aid)) == 3
    repo.undo(store, aid)
    assert current_text(store, aid) == "Tides rise.\n"  # Undo stops at the first burst's text

    autosave(store, aid, "Tides rise again.\n")  # after an undo: the undone burst is not continued
    assert [s.label for s in repo.list_steps(store, aid)][-1] == 'text edit of paragraph "Tides rise."'
    assert len(repo.list_steps(store, aid)) == 3 and len(repo.list_versions(store, aid, "b1")) == 4

    # an explicit edit (the Markdown form: no merge) is a step of its own and ends the burst too
    repo.add_text_version(store, aid, "b1", "Tides, edited by hand.\n", manual=True)
    autosave(store, aid, "Tides, edited by hand, then typed.\n")
    assert len(repo.list_steps(store, aid)) == 5 and len(repo.list_versions(store, aid, "b1")) == 6
    repo.undo(store, aid)
    assert current_text(store, aid) == "Tides, edited by hand.\n"


def test_an_accept_in_between_ends_the_burst(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    autosave(store, aid, "Tides rise.\n")
    repo.accept_version(store, aid, "b2")
    autosave(store, aid, "Tides rise high.\n")
    assert [s.kind for s in repo.list_steps(store, aid)] == ["edit_text", "accept", "edit_text"]


def test_a_burst_older_than_the_window_is_not_continued(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    autosave(store, aid, "Tides rise.\n")
    with store.write() as s:  # the burst began 61 s ago
        step = s.scalars(select(HistoryStep).where(HistoryStep.article_id == aid)).one()
        step.created_at = step.created_at - timedelta(seconds=WINDOW + 1)
    assert autosave(store, aid, "Tides rise high.\n") == 3
    assert len(repo.list_steps(store, aid)) == 2 and len(pairs(store)) == 2


def test_window_zero_keeps_one_version_step_and_pair_per_save(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    numbers = [autosave(store, aid, t, window=0) for t in ("Tides rise\n", "Tides rise and\n", "Tides ebb.\n")]
    assert numbers == [2, 3, 4]
    assert len(repo.list_steps(store, aid)) == 3
    assert {(r["rejected_text"], r["chosen_text"]) for r in pairs(store)} == {
        (ORIGINAL, "Tides rise\n"),
        ("Tides rise\n", "Tides rise and\n"),
        ("Tides rise and\n", "Tides ebb.\n"),
    }
    repo.undo(store, aid)
    assert current_text(store, aid) == "Tides rise and\n"


def test_typing_back_to_the_text_before_the_burst_voids_its_pair(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    autosave(store, aid, "Tides rise.\n")
    autosave(store, aid, ORIGINAL)
    assert len(repo.list_steps(store, aid)) == 1 and len(repo.list_versions(store, aid, "b1")) == 2
    assert list_preference_events(store, kind="rewrite")[-1].context["void"] is True
    assert pairs(store) == []
    assert preference_rows(list_preference_events(store), keep_identical=True)[0] == []
    autosave(store, aid, "Tides rise twice a day.\n")  # typed on: the burst's pair is back
    assert [(r["rejected_text"], r["chosen_text"]) for r in pairs(store)] == [(ORIGINAL, "Tides rise twice a day.\n")]


def test_a_suggestion_made_before_typing_on_is_refused(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    base = autosave(store, aid, "Tides rise.\n")
    autosave(store, aid, "Tides rise and fall twice a day.\n")  # same version, new text
    with pytest.raises(Refused, match="typed on"):
        record_suggestion(
            store, aid, "b1", base_version=base, base_text="Tides rise.\n", suggested_text="Tides go up.\n",
            kept_text="Tides go up.\n", instruction="Simpler.", details={}, owner=None,
        )  # fmt: skip
    assert current_text(store, aid) == "Tides rise and fall twice a day.\n"  # nothing typed is lost
