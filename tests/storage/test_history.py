"""The article's undo history in the store (SQLite and PostgreSQL): every kind of change is a
step, undo and redo walk it, a new change drops the redo list, an undone accept stays in the
preference log as an 'undo' event (and leaves the TRL export), two writers take turns."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from models.errors import BlockGone, Refused
from storage import Store, open_store, repo
from storage.pref_export import export_preferences
from storage.pref_rows import Scope, preference_rows
from storage.prefs import list_preference_events


def text(store: Store, aid: int, key: str) -> str:
    return repo.open_article(store, aid).block(key).current.text or ""


def keys(store: Store, aid: int) -> list[str]:
    return [b.key for b in repo.open_article(store, aid).blocks]


def test_a_written_article_has_no_history_yet(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    state = repo.history_state(store, aid)
    assert (state.undo, state.redo, state.steps) == (None, None, 0)
    with pytest.raises(Refused, match="nothing to undo"):
        repo.undo(store, aid)
    with pytest.raises(Refused, match="nothing to redo"):
        repo.redo(store, aid)


def test_undo_and_redo_walk_text_edits_image_versions_accepts_moves_inserts_and_deletes(
    store: Store, article: tuple[int, int]
) -> None:
    _, aid = article
    original = keys(store, aid)
    repo.add_text_version(store, aid, "b1", "Tides come in twice a day.\n", manual=True)
    v2 = repo.add_image_version(store, aid, "b2", source="code", description="Tide chart", params={"code": "x"},
                                status="ok", image=b"PNG-chart-v2")  # fmt: skip
    repo.accept_version(store, aid, "b2", v2.number)
    repo.add_image_version(store, aid, "b2", source="code", description="Tides by hour", params={"code": "x"},
                           status="ok", asset_sha256=repo.open_article(store, aid).block("b2").current.asset.sha256,  # type: ignore[union-attr]
                           origin="caption", current=True, keep_accepted=True)  # fmt: skip
    repo.move_block(store, aid, "b3", -1)
    new = repo.insert_text_block(store, aid, "b1", "A new paragraph.\n\n")
    repo.delete_block(store, aid, "b4")
    steps = repo.list_steps(store, aid)
    assert [s.kind for s in steps] == ["edit_text", "regenerate", "accept", "caption", "move", "insert", "delete"]
    assert repo.history_state(store, aid).undo.label == 'delete photo "Bay of Fundy"'  # type: ignore[union-attr]
    final = keys(store, aid)
    assert "b4" not in final and new in final

    # undo everything, newest first, checking each state on the way
    assert repo.undo(store, aid).kind == "delete" and "b4" in keys(store, aid)
    assert repo.undo(store, aid).kind == "insert" and new not in keys(store, aid)
    repo.undo(store, aid)  # the move
    assert keys(store, aid) == original
    repo.undo(store, aid)  # the caption
    assert repo.open_article(store, aid).block("b2").current.description == "Tide chart"
    repo.undo(store, aid)  # the accept
    b2 = repo.open_article(store, aid).block("b2")
    assert (b2.current_version, b2.accepted_version) == (v2.number, None)
    repo.undo(store, aid)  # the new image
    assert repo.open_article(store, aid).block("b2").current_version == 1
    repo.undo(store, aid)  # the text edit
    assert text(store, aid, "b1") == "Tides rise and fall.\n"
    with pytest.raises(Refused, match="nothing to undo"):
        repo.undo(store, aid)
    state = repo.history_state(store, aid)
    assert state.undo is None and state.redo is not None and state.redo.kind == "edit_text"

    # redo everything, oldest first
    for _ in range(7):
        repo.redo(store, aid)
    assert keys(store, aid) == final and text(store, aid, "b1") == "Tides come in twice a day.\n"
    b2 = repo.open_article(store, aid).block("b2")
    assert b2.accepted_version == b2.current_version and b2.current.description == "Tides by hour"
    assert repo.history_state(store, aid).redo is None


def test_a_new_change_after_an_undo_clears_redo(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    repo.add_text_version(store, aid, "b1", "First edit.\n", manual=True)
    repo.add_text_version(store, aid, "b1", "Second edit.\n", manual=True)
    repo.undo(store, aid)
    assert text(store, aid, "b1") == "First edit.\n" and repo.history_state(store, aid).redo is not None
    repo.add_text_version(store, aid, "b3", "The moon pulls the sea hard.", manual=True)
    assert repo.history_state(store, aid).redo is None
    with pytest.raises(Refused, match="nothing to redo"):
        repo.redo(store, aid)
    # the dropped edit is still a version of b1 (versions are never lost)
    assert [v.text for v in repo.list_versions(store, aid, "b1")][-1] == "Second edit.\n"
    assert [s.kind for s in repo.list_steps(store, aid)] == ["edit_text", "edit_text"]


def test_merged_candidates_are_one_step_and_a_no_change_records_nothing(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    for n in range(3):
        repo.add_image_version(store, aid, "b2", source="code", description="Tide chart", params={"code": str(n)},
                               status="ok", image=f"PNG-{n}".encode(), current=None if n == 2 else False,
                               merge_key="regen-1")  # fmt: skip
    assert len(repo.list_steps(store, aid)) == 1
    repo.undo(store, aid)
    b2 = repo.open_article(store, aid).block("b2")
    assert (b2.current_version, b2.candidate) == (1, None)
    repo.redo(store, aid)
    assert repo.open_article(store, aid).block("b2").current_version == 4
    repo.restore_block(store, aid, "b2")  # not deleted: nothing changes, no step
    assert len(repo.list_steps(store, aid)) == 1


def test_an_undone_accept_is_an_undo_event_and_leaves_the_export(
    store: Store, article: tuple[int, int], tmp_path: Path
) -> None:
    _, aid = article
    v2 = repo.add_image_version(store, aid, "b2", source="code", description="Tide chart", params={"code": "y"},
                                status="ok", image=b"PNG-chart-v2")  # fmt: skip
    repo.accept_version(store, aid, "b2", v2.number, rejected=1)
    accept = list_preference_events(store, kind="accept")[-1]
    assert len(preference_rows(list_preference_events(store))[0]) == 1

    repo.undo(store, aid)
    undo = list_preference_events(store, kind="undo")[-1]
    assert undo.context["undoes"] == [accept.id] and undo.context["kinds"] == ["accept"]
    assert undo.block_key == "b2" and undo.context["step"]["kind"] == "accept"
    assert list_preference_events(store, kind="accept")[-1].id == accept.id  # kept, not deleted
    assert preference_rows(list_preference_events(store))[0] == []
    assert export_preferences(store, tmp_path / "undone", scope=Scope(article_id=aid)).counts.preferences == 0

    repo.redo(store, aid)
    redo = list_preference_events(store, kind="redo")[-1]
    assert redo.context["redoes"] == [accept.id]
    rows = preference_rows(list_preference_events(store))[0]
    assert len(rows) == 1 and rows[0]["event"] == "accept"


def test_every_label_names_the_block_by_its_words_as_it_was_when_the_step_began(
    store: Store, article: tuple[int, int]
) -> None:
    _, aid = article
    repo.add_text_version(store, aid, "b1", "# Tides\n", manual=True)
    repo.add_text_version(store, aid, "b1", "# Tides and moons\n", manual=True)  # named by the text it replaced
    repo.add_text_version(store, aid, "b3", "The moon pulls the sea twice a day, every day.", candidate=True)
    repo.discard_candidate(store, aid, "b3")
    repo.add_text_version(store, aid, "b3", "The moon pulls.", candidate=True)
    repo.accept_version(store, aid, "b3", 3)
    repo.revert_version(store, aid, "b3", 1)
    chart = repo.add_image_version(store, aid, "b2", source="code", description="Tides by hour in Brest, 2024",
                                   params={"code": "x"}, status="ok", image=b"PNG-chart-v2")  # fmt: skip
    repo.add_image_version(store, aid, "b2", source="code", description="Tides", params={"code": "x"}, status="ok",
                           asset_sha256=chart.asset.sha256, origin="caption", current=True)  # type: ignore[union-attr]  # fmt: skip
    repo.add_image_version(store, aid, "b2", source="search", description="My photo", params={}, status="ok",
                           image=b"PNG-mine", origin="upload", provenance={"origin": "upload"})  # fmt: skip
    repo.move_block(store, aid, "b3", -1)
    new = repo.insert_text_block(store, aid, "b1", "城市正在修建自行车道，骑车的人数在五年内翻了一番。")
    repo.delete_block(store, aid, "b4")
    repo.restore_block(store, aid, "b4")
    picture = repo.insert_own_image(store, aid, "b3", image=b"PNG-own", mime="image/png", description="Grandma's boat",
                                    provenance={"origin": "upload"})  # fmt: skip
    labels = [s.label for s in repo.list_steps(store, aid)]
    assert labels == [
        'text edit of paragraph "Tides rise and fall."',
        'text edit of heading "Tides"',
        'rewrite of paragraph "The moon pulls the sea."',
        'discard the candidate of paragraph "The moon pulls the sea."',
        'rewrite of paragraph "The moon pulls the sea."',
        'accept version 3 of paragraph "The moon pulls the sea."',
        'back to version 1 of paragraph "The moon pulls."',
        'new image for chart "Tide chart"',
        'caption of chart "Tides by hour in Brest…"',
        'your image in chart "Tides"',
        'move paragraph "The moon pulls the sea." up',
        'insert paragraph "城市正在修建自行车道，骑车的人数在…"',
        'delete photo "Bay of Fundy"',
        'restore photo "Bay of Fundy"',
        'insert your image "Grandma\'s boat"',
    ]
    assert not any(key in label for label in labels for key in ("b1", "b2", "b3", "b4", new, picture))
    with pytest.raises(Refused, match=r'^Heading "Tides and moons" is already the first block$'):
        repo.move_block(store, aid, "b1", -1)
    with pytest.raises(Refused, match=r'^Your image "My photo" has nothing waiting'):
        repo.discard_candidate(store, aid, "b2")


def test_history_survives_reopening_the_store(tmp_path: Path, db_url: str | None) -> None:
    first = open_store(db_url, tmp_path / "data")
    project = repo.create_project(first, "Tides")
    from tests.storage.conftest import record_sample

    aid = record_sample(first, project.id)
    repo.add_text_version(first, aid, "b1", "Edited.\n", manual=True)
    first.close()
    again = open_store(db_url, tmp_path / "data")
    try:
        assert repo.undo(again, aid).label == 'text edit of paragraph "Tides rise and fall."'
        assert text(again, aid, "b1") == "Tides rise and fall.\n"
    finally:
        again.close()


def test_another_users_history_is_not_found(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    repo.add_text_version(store, aid, "b1", "Edited.\n", manual=True)
    with pytest.raises(Exception, match="not found"):
        repo.undo(store, aid, owner="mallory")
    with pytest.raises(Exception, match="not found"):
        repo.history_state(store, aid, owner="mallory")
    assert text(store, aid, "b1") == "Edited.\n"


def test_a_block_that_is_not_in_the_article_is_refused_in_words_not_ids(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    with pytest.raises(BlockGone) as gone:
        repo.add_text_version(store, aid, "b99", "Typed in a stale page.\n", manual=True)
    message = str(gone.value)
    assert "b99" not in message and str(aid) not in message and "Reload the page" in message
    assert (gone.value.key, gone.value.article_id) == ("b99", aid)  # kept for logs and code


def test_two_writers_at_once_keep_one_consistent_history(store: Store, article: tuple[int, int]) -> None:
    """Four tabs edit and undo the same article in lock step (a barrier before every call): every
    step gets its own seq, no undo takes back a step twice, and undoing all that is left brings
    back exactly the original text of every block. (On PostgreSQL, without the article's row lock
    two transactions read the same newest seq and one fails on the unique key.)"""
    _, aid = article
    errors: list[BaseException] = []
    tabs = [("b1", 0), ("b3", 1), ("b1", 2), ("b3", 3)]
    barrier = threading.Barrier(len(tabs))

    def tab(key: str, n: int) -> None:
        try:
            for i in range(6):
                barrier.wait(timeout=60)
                if i % 3 == 2:
                    repo.undo(store, aid)
                else:
                    repo.add_text_version(store, aid, key, f"{key} edit {n}.{i}.\n", manual=True)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=t) for t in tabs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    steps = repo.list_steps(store, aid)
    # round one: 8 edits, 4 undone; round two: the first edit drops those 4, 8 more edits, 4 undone
    assert len({s.seq for s in steps}) == len(steps) == 12 and sum(s.undone for s in steps) == 4
    undos = [e for e in list_preference_events(store, kind="undo") if e.article_id == aid]
    assert len(undos) == 8 and len({i for e in undos for i in e.context["undoes"]}) == 8
    while repo.history_state(store, aid).undo is not None:
        repo.undo(store, aid)
    assert text(store, aid, "b1") == "Tides rise and fall.\n"
    assert text(store, aid, "b3") == "The moon pulls the sea."
