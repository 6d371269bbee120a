"""Ownership at the repository boundary, and live/dead writers across processes (both backends)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from storage import ArticleRecorder, Scope, Store, export_preferences, list_preference_events, processes, repo
from storage.schema import AppProcess, Article, utcnow

from .conftest import record_sample


@pytest.fixture
def two_users(store: Store) -> tuple[int, int]:
    """alice's project with an article; bob has a project of his own."""
    alice = repo.create_project(store, "Alice's tides", owner="alice")
    record_sample_for(store, alice.id, "alice")
    repo.create_project(store, "Bob's", owner="bob")
    article = repo.latest_article(store, alice.id, owner="alice")
    assert article is not None
    return alice.id, article.id


def record_sample_for(store: Store, project_id: int, owner: str) -> int:
    return record_sample(store, project_id, tag=f" ({owner})")


def test_a_user_sees_only_their_projects(store: Store, two_users: tuple[int, int]) -> None:
    assert [p.name for p in repo.list_projects(store, "alice")] == ["Alice's tides"]
    assert [p.name for p in repo.list_projects(store, "bob")] == ["Bob's"]
    assert len(repo.list_projects(store)) == 2  # None: the admin's view


def test_another_users_ids_are_unknown_ids_for_every_call(store: Store, two_users: tuple[int, int]) -> None:
    pid, aid = two_users
    calls = [
        lambda: repo.get_project(store, pid, owner="bob"),
        lambda: repo.rename_project(store, pid, "mine now", owner="bob"),
        lambda: repo.duplicate_project(store, pid, owner="bob"),
        lambda: repo.delete_project(store, pid, owner="bob"),
        lambda: repo.list_articles(store, pid, owner="bob"),
        lambda: repo.latest_article(store, pid, owner="bob"),
        lambda: repo.open_article(store, aid, owner="bob"),
        lambda: repo.list_versions(store, aid, "b1", owner="bob"),
        lambda: repo.add_text_version(store, aid, "b1", "bob was here", owner="bob"),
        lambda: repo.add_image_version(
            store, aid, "b2", source="code", description="x", params={}, image=b"bob-image", owner="bob"
        ),
        lambda: repo.accept_version(store, aid, "b1", owner="bob"),
        lambda: repo.revert_version(store, aid, "b1", 1, owner="bob"),
        lambda: repo.rate_article(store, aid, thumbs=-1, owner="bob"),
        lambda: repo.list_ratings(store, aid, owner="bob"),
        lambda: ArticleRecorder(store, pid, brief="into alice's project", owner="bob"),
    ]
    events_before = list_preference_events(store)
    for call in calls:
        with pytest.raises(KeyError, match="not found"):
            call()
    # nothing changed: same project, one article, one version per block, no new events or files
    assert repo.get_project(store, pid, owner="alice").name == "Alice's tides"
    articles = repo.list_articles(store, pid, owner="alice")
    assert len(articles) == 1 and all(b.version_count == 1 for b in articles[0].blocks)
    assert list_preference_events(store) == events_before
    assert not repo.asset_readable(store, hashlib.sha256(b"bob-image").hexdigest(), None)
    # the message is the same as for an id that does not exist: nothing leaks
    with pytest.raises(KeyError, match="project 99999 not found"):
        repo.get_project(store, 99999, owner="bob")
    with pytest.raises(KeyError, match=f"project {pid} not found"):
        repo.get_project(store, pid, owner="bob")


def test_owner_changes_and_events_carry_the_user(store: Store, two_users: tuple[int, int], tmp_path: Path) -> None:
    pid, aid = two_users
    repo.add_text_version(store, aid, "b1", "Alice's rewrite.\n", owner="alice")
    repo.accept_version(store, aid, "b1", owner="alice")
    bob_pid = repo.list_projects(store, "bob")[0].id
    bob_aid = record_sample_for(store, bob_pid, "bob")
    repo.add_text_version(store, bob_aid, "b1", "Bob's rewrite.\n", owner="bob")
    repo.accept_version(store, bob_aid, "b1", owner="bob")
    assert {e.owner for e in list_preference_events(store, owner="alice")} == {"alice"}
    assert [e.owner for e in list_preference_events(store)] == ["alice", "alice", "bob", "bob"]

    def users(out: Path, owner: str | None) -> list[str]:
        export_preferences(store, out, Scope(owner=owner))
        return [json.loads(line)["user"] for line in (out / "preferences.jsonl").read_text().splitlines()]

    assert users(tmp_path / "alice", "alice") == ["alice"]
    assert users(tmp_path / "bob", "bob") == ["bob"]
    assert users(tmp_path / "all", None) == ["alice", "bob"]
    # each user's images are theirs only (the same bytes would be shared by hash, and owned by both)
    alice_chart = repo.open_article(store, aid, owner="alice").block("b2").current.asset
    bob_chart = repo.open_article(store, bob_aid, owner="bob").block("b2").current.asset
    assert alice_chart and bob_chart and alice_chart.sha256 != bob_chart.sha256
    assert repo.asset_readable(store, alice_chart.sha256, "alice")
    assert not repo.asset_readable(store, alice_chart.sha256, "bob")
    copy = repo.duplicate_project(store, pid, owner="alice")
    assert [p.id for p in repo.list_projects(store, "alice")] == [copy.id, pid]


def test_a_live_writer_is_left_alone_and_a_dead_one_is_reaped(store: Store) -> None:
    pid = repo.create_project(store, "p").id
    mine = ArticleRecorder(store, pid, brief="written by this process")
    mine.image_queued("b1", 0, "diffusion", "x", {"prompt": "x"})
    token = processes.register(store)
    assert processes.reap(store, stale_s=60) == 0  # this process is alive
    assert repo.open_article(store, mine.article_id).status == "running"

    # a writer on this host whose process is gone (a real child that exited)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = ArticleRecorder(store, pid, brief="its process died")
    remote = ArticleRecorder(store, pid, brief="a process on another host")
    here = socket.gethostname()
    with store.write() as s:
        s.execute(
            update(Article).where(Article.id == gone.article_id).values(writer=f"{here}:{child.stdout.strip()}:dead")
        )
        s.execute(update(Article).where(Article.id == remote.article_id).values(writer="otherhost:42:beef"))
        s.add(AppProcess(token="otherhost:42:beef", host="otherhost", pid=42))
    assert processes.reap(store, stale_s=60) == 1  # the dead local one; the remote one beats recently
    assert repo.open_article(store, gone.article_id).status == "interrupted"
    assert repo.open_article(store, remote.article_id).status == "running"

    with store.write() as s:  # the remote process stops beating
        old = utcnow() - timedelta(seconds=120)
        s.execute(update(AppProcess).where(AppProcess.token == "otherhost:42:beef").values(heartbeat_at=old))
    assert processes.reap(store, stale_s=60) == 1
    assert repo.open_article(store, remote.article_id).status == "interrupted"
    assert repo.open_article(store, mine.article_id).status == "running"
    processes.heartbeat(store, token)
    processes.unregister(store, token)


def test_the_editors_actions_refuse_another_users_article(store: Store, two_users: tuple[int, int]) -> None:
    """Insert/move/delete/restore a block, discard a candidate, a caption reusing an image by hash,
    soft delete/restore a project, continue an article: bob gets "not found" for alice's ids."""
    pid, aid = two_users
    alice_image = hashlib.sha256(b"PNG-chart-v1 (alice)").hexdigest()
    bob_aid = record_sample_for(store, repo.list_projects(store, "bob")[0].id, "bob")
    repo.add_text_version(store, aid, "b1", "a model's idea", candidate=True, owner="alice")
    before = repo.open_article(store, aid, owner="alice")
    events_before = list_preference_events(store)
    caption = dict(source="code", description="mine", params={}, status="ok", origin="caption", current=True)
    calls = [
        lambda: repo.insert_text_block(store, aid, "b1", "bob's paragraph", owner="bob"),
        lambda: repo.move_block(store, aid, "b1", 1, owner="bob"),
        lambda: repo.delete_block(store, aid, "b3", owner="bob"),
        lambda: repo.restore_block(store, aid, "b3", owner="bob"),
        lambda: repo.discard_candidate(store, aid, "b1", owner="bob"),
        lambda: repo.add_text_version(store, aid, "b3", "bob's edit", manual=True, owner="bob"),
        lambda: repo.add_image_version(store, aid, "b2", asset_sha256=alice_image, owner="bob", **caption),
        # alice's image into bob's own article by its hash: he never had it, so it is unknown to him
        lambda: repo.add_image_version(store, bob_aid, "b2", asset_sha256=alice_image, owner="bob", **caption),
        lambda: repo.article_versions(store, aid, owner="bob"),
        lambda: repo.article_summaries(store, pid, owner="bob"),
        lambda: repo.delete_project(store, pid, owner="bob"),
        lambda: ArticleRecorder(store, pid, brief="", resume=aid, owner="bob"),
    ]
    for call in calls:
        with pytest.raises(KeyError, match="not found"):
            call()
    assert repo.open_article(store, aid, owner="alice") == before
    assert list_preference_events(store) == events_before
    assert not repo.asset_readable(store, alice_image, "bob")
    # a project alice deleted stays deleted for bob's restore, and comes back for hers
    repo.delete_project(store, pid, owner="alice")
    with pytest.raises(KeyError, match=f"project {pid} not found"):
        repo.restore_project(store, pid, owner="bob")
    with pytest.raises(KeyError, match="was deleted"):
        repo.get_project(store, pid, owner="alice")
    assert repo.restore_project(store, pid, owner="alice").name == "Alice's tides"
    # alice's own actions still work on her article
    key = repo.insert_text_block(store, aid, "b1", "her paragraph", owner="alice")
    repo.move_block(store, aid, key, 1, owner="alice")
    repo.delete_block(store, aid, key, owner="alice")
    repo.restore_block(store, aid, key, owner="alice")
    repo.discard_candidate(store, aid, "b1", owner="alice")
    repo.add_image_version(store, aid, "b2", asset_sha256=alice_image, owner="alice", **caption)
