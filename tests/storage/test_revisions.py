"""The store side of an article-wide revision: a new image block from a tag (queued, or invalid
with its reason), owner checks, and the decision's preference event (not a training pair)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import NotFound
from storage import Store, repo
from storage.pref_export import count_preferences, export_preferences
from storage.pref_rows import Scope, preference_rows
from storage.prefs import list_preference_events


def test_a_new_image_block_goes_where_it_is_asked_and_runs_later(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    keys_before = [b.key for b in repo.open_article(store, aid).blocks]
    key, version_id = repo.insert_image_block(
        store, aid, "b1", source="code", description="Lenses", params={"code": "plt.bar([1], [2])"},
        raw="<imgen>...</imgen>", instruction="add a section on lenses",
    )  # fmt: skip
    info = repo.open_article(store, aid)
    assert [b.key for b in info.blocks] == [keys_before[0], key, *keys_before[1:]]
    new = info.block(key)
    assert (new.kind, new.current.status, new.current.origin) == ("image", "queued", "revise")
    assert new.current.instruction == "add a section on lenses" and new.image_index is None
    repo.finish_image_version(store, version_id, status="ok", image=b"PNG-lens")
    assert repo.open_article(store, aid).block(key).current.asset is not None

    bad, _ = repo.insert_image_block(store, aid, None, source="search", description="x", params={}, raw="<imgen>x",
                                     status="invalid", error="params: query is missing")  # fmt: skip
    first = repo.open_article(store, aid).blocks[0]
    assert (first.key, first.current.status, first.current.error) == (bad, "invalid", "params: query is missing")
    with pytest.raises(NotFound):
        repo.insert_image_block(store, aid, "b99", source="code", description="x", params={}, raw="")
    with pytest.raises(NotFound):
        repo.insert_image_block(store, aid, None, source="code", description="x", params={}, raw="", owner="mallory")


def test_the_decision_is_one_event_with_both_articles_and_no_training_pair(
    store: Store, article: tuple[int, int], tmp_path: Path
) -> None:
    project_id, aid = article
    revision = {"instruction": "use British spelling", "decision": "discard", "before": "old", "after": "old"}
    with pytest.raises(NotFound):
        repo.log_revision(store, aid, revision, accepted=False, owner="mallory")
    event_id = repo.log_revision(store, aid, revision, accepted=False)
    event = list_preference_events(store)[-1]
    assert (event.id, event.kind, event.block_key, event.article_id) == (event_id, "revert", None, aid)
    assert event.context["revision"] == revision and event.context["brief"].startswith("Write about tides")
    assert "llmi_text" in event.context  # the article as it stands
    rows, _ = preference_rows([e for e in list_preference_events(store) if Scope(project_id=project_id).holds(e)])
    assert all(r["event_id"] != event_id for r in rows)
    before = count_preferences(store, Scope(project_id=project_id))
    repo.log_revision(store, aid, {**revision, "decision": "accept_all"}, accepted=True)
    assert count_preferences(store, Scope(project_id=project_id)) == before  # the export reads past it
    exported = export_preferences(store, tmp_path / "prefs", Scope(project_id=project_id))
    assert exported.out_dir.exists()


def test_a_picture_a_revision_inserted_is_one_undo_step(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    before = [b.key for b in repo.open_article(store, aid).blocks]
    key, _ = repo.insert_image_block(store, aid, "b1", source="code", description="Lenses", params={}, raw="")
    assert repo.history_state(store, aid).undo.label == 'insert chart "Lenses" from a revision'  # type: ignore[union-attr]
    assert repo.undo(store, aid).kind == "insert"
    assert [b.key for b in repo.open_article(store, aid).blocks] == before
    repo.redo(store, aid)
    assert key in [b.key for b in repo.open_article(store, aid).blocks]
