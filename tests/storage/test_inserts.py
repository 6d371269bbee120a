"""storage.inserts: an inserted image is the article owner's alone, writes nothing for another
user, and a split keeps every character of the text (on SQLite and, with STUDIO_TEST_PG, PostgreSQL)."""

from __future__ import annotations

import hashlib

import pytest

from storage import repo
from storage.db import Store
from storage.prefs import list_preference_events
from tests.storage.conftest import record_sample

PICTURE = b"\x89PNG pretend picture bytes (alice)"


def test_another_users_article_is_not_found_and_nothing_is_written(store: Store) -> None:
    alice = repo.create_project(store, "Alice's", owner="alice")
    record_sample(store, alice.id)
    aid = repo.latest_article(store, alice.id, owner="alice").id
    before = repo.open_article(store, aid, owner="alice")
    sha = hashlib.sha256(PICTURE).hexdigest()
    with pytest.raises(KeyError, match="not found"):
        repo.insert_own_image(store, aid, "b1", image=PICTURE, mime="image/png", description="x",
                                provenance={"origin": "upload"}, owner="bob")  # fmt: skip
    assert not store.assets.exists(sha)  # checked before the file is written
    with pytest.raises(KeyError, match="not found"):
        repo.insert_own_image(store, aid, "b99", image=PICTURE, mime="image/png", description="x",
                                provenance={"origin": "upload"}, owner="alice")  # fmt: skip
    assert not store.assets.exists(sha) and repo.open_article(store, aid, owner="alice") == before
    key = repo.insert_own_image(store, aid, "b1", image=PICTURE, mime="image/png", description="mine",
                                  provenance={"origin": "upload", "uploaded": "m.png"}, owner="alice")  # fmt: skip
    assert repo.asset_readable(store, sha, "alice") and not repo.asset_readable(store, sha, "bob")
    keys = [b.key for b in repo.open_article(store, aid, owner="alice").blocks]
    assert keys[:2] == ["b1", key]


def test_a_split_keeps_the_text_and_logs_no_preference(store: Store) -> None:
    project = repo.create_project(store, "Split")
    record_sample(store, project.id)
    aid = repo.latest_article(store, project.id).id
    text = repo.open_article(store, aid).block("b1").current.text
    events = list_preference_events(store)
    with pytest.raises(ValueError, match="text on both sides"):
        repo.insert_own_image(store, aid, "b1", image=PICTURE, mime="image/png", description="x",
                                provenance={"origin": "upload"}, split=(text, " "))  # fmt: skip
    key = repo.insert_own_image(store, aid, "b1", image=PICTURE, mime="image/png", description="x",
                                  provenance={"origin": "upload"}, split=("Tides ", "rise and fall.\n"))  # fmt: skip
    info = repo.open_article(store, aid)
    order = [b.key for b in info.blocks]
    tail = order[order.index(key) + 1]
    assert order[: order.index(key)] == ["b1"] and info.block(tail).kind == "text"
    assert info.block("b1").current.text + info.block(tail).current.text == "Tides rise and fall.\n" == text
    assert info.block("b1").current.origin == "split" and info.block("b1").version_count == 2
    assert list_preference_events(store) == events


def test_an_inserted_picture_and_its_split_are_one_undo_step(store: Store) -> None:
    project = repo.create_project(store, "Undo")
    record_sample(store, project.id)
    aid = repo.latest_article(store, project.id).id
    before = [(b.key, b.current.text) for b in repo.open_article(store, aid).blocks]
    repo.insert_own_image(store, aid, "b1", image=PICTURE, mime="image/png", description="x",
                          provenance={"origin": "upload"}, split=("Tides ", "rise and fall.\n"))  # fmt: skip
    assert len(repo.open_article(store, aid).blocks) == len(before) + 2
    repo.undo(store, aid)
    assert [(b.key, b.current.text) for b in repo.open_article(store, aid).blocks] == before
    repo.redo(store, aid)
    assert len(repo.open_article(store, aid).blocks) == len(before) + 2
