"""Editor state in the store: failed attempts stay candidates, only ok versions are accepted,
manual edits are preference pairs, blocks are inserted / moved / deleted (undoably)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import Store, repo
from storage.pref_rows import Scope, preference_rows
from storage.prefs import list_preference_events
from tests.storage.conftest import record_sample


def test_a_failed_regeneration_is_a_candidate_and_never_replaces_a_working_image(
    store: Store, article: tuple[int, int]
) -> None:
    _, aid = article
    v2 = repo.add_image_version(
        store, aid, "b2", source="code", description="Tide chart", params={"code": "boom"}, status="failed",
        error="NameError: boom",
    )  # fmt: skip
    b2 = repo.open_article(store, aid).block("b2")
    assert (b2.current_version, b2.current.status) == (1, "ok")
    assert b2.candidate is not None and b2.candidate.number == v2.number and b2.candidate.error == "NameError: boom"
    with pytest.raises(ValueError, match="only a version that came out ok can be accepted"):
        repo.accept_version(store, aid, "b2", v2.number)
    with pytest.raises(ValueError, match="only a version that came out ok"):
        repo.revert_version(store, aid, "b2", v2.number)
    repo.discard_candidate(store, aid, "b2")
    assert repo.open_article(store, aid).block("b2").candidate is None
    revert = list_preference_events(store, kind="revert")[-1]
    assert revert.context["chosen"]["number"] == 1 and revert.context["rejected"]["number"] == v2.number

    # a queued attempt is current while it runs; when it fails it steps aside for the image it replaced
    v3 = repo.add_image_version(store, aid, "b2", source="code", description="Tide chart", params={"code": "x"})
    assert repo.open_article(store, aid).block("b2").current_version == v3.number
    repo.finish_image_version(store, v3.id, status="failed", error="timeout")
    b2 = repo.open_article(store, aid).block("b2")
    assert (b2.current_version, b2.candidate.number) == (1, v3.number)  # type: ignore[union-attr]


def test_an_invalid_tag_block_cannot_be_accepted(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    with pytest.raises(ValueError, match="invalid"):
        repo.accept_version(store, aid, "b5")


def test_rewrite_candidate_then_manual_edit_in_the_export(
    store: Store, article: tuple[int, int], tmp_path: Path
) -> None:
    _, aid = article
    cand = repo.add_text_version(store, aid, "b1", "Tides come and go.\n", instruction="simpler", candidate=True)
    b1 = repo.open_article(store, aid).block("b1")
    assert b1.current.text == "Tides rise and fall.\n" and b1.candidate is not None
    repo.accept_version(store, aid, "b1", cand.number)
    b1 = repo.open_article(store, aid).block("b1")
    assert (b1.current.text, b1.accepted_version, b1.candidate) == ("Tides come and go.\n", cand.number, None)

    repo.add_text_version(store, aid, "b3", "The moon pulls the oceans.", manual=True)
    assert repo.open_article(store, aid).block("b3").current.text == "The moon pulls the oceans."
    rows = pairs(store, aid)
    edit = next(r for r in rows if r["event"] == "edit")
    assert (edit["chosen_text"], edit["rejected_text"]) == ("The moon pulls the oceans.", "The moon pulls the sea.")
    assert edit["origin"] == "manual edit"
    assert any(r["event"] == "accept" and r["chosen_text"] == "Tides come and go.\n" for r in rows)


def test_export_of_one_article_leaves_the_others_out(store: Store, article: tuple[int, int], tmp_path: Path) -> None:
    pid, aid = article
    other = record_sample(store, pid, tag="-2")
    repo.add_text_version(store, other, "b1", "Other text.\n", manual=True)
    repo.add_text_version(store, aid, "b1", "Mine.\n", manual=True)
    assert [r["article_id"] for r in pairs(store, aid)] == [aid]


def test_insert_move_delete_restore_blocks(store: Store, article: tuple[int, int]) -> None:
    pid, aid = article
    keys = lambda: [b.key for b in repo.open_article(store, aid).blocks]  # noqa: E731
    assert keys() == ["b1", "b2", "b3", "b4", "b5"]
    new = repo.insert_text_block(store, aid, "b2", "A new paragraph.\n")
    assert new == "b6" and keys() == ["b1", "b2", "b6", "b3", "b4", "b5"]
    repo.move_block(store, aid, "b6", -1)
    assert keys() == ["b1", "b6", "b2", "b3", "b4", "b5"]
    with pytest.raises(ValueError, match="already the first"):
        repo.move_block(store, aid, "b1", -1)
    repo.delete_block(store, aid, "b2")
    assert "b2" not in keys() and "b2" not in repo.open_article(store, aid).llmi_text()
    repo.restore_block(store, aid, "b2")
    assert keys() == ["b1", "b6", "b2", "b3", "b4", "b5"]
    with pytest.raises(ValueError, match="write the text"):
        repo.insert_text_block(store, aid, None, "  ")
    copy = repo.duplicate_project(store, pid)
    assert [b.key for b in repo.latest_article(store, copy.id).blocks] == keys()  # type: ignore[union-attr]


def pairs(store: Store, article_id: int) -> list[dict]:
    """The preference rows the TRL export makes of one article's events."""
    events = [e for e in list_preference_events(store) if Scope(article_id=article_id).holds(e)]
    return preference_rows(events, keep_identical=True)[0]
