from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from storage import ArticleRecorder, Store, list_preference_events, repo
from storage.schema import Block, BlockVersion


def test_project_crud(store: Store) -> None:
    a = repo.create_project(store, "  First   draft ")
    b = repo.create_project(store, "Second")
    assert a.name == "First draft"
    assert [p.name for p in repo.list_projects(store)] == ["Second", "First draft"]  # newest change first
    renamed = repo.rename_project(store, a.id, "Renamed")
    assert renamed.name == "Renamed" and renamed.updated_at > a.updated_at
    assert [p.name for p in repo.list_projects(store)] == ["Renamed", "Second"]
    repo.delete_project(store, b.id)
    assert [p.id for p in repo.list_projects(store)] == [a.id]
    with pytest.raises(KeyError):
        repo.get_project(store, b.id)
    with pytest.raises(ValueError):
        repo.create_project(store, "   ")


def test_open_article_has_blocks_in_order_with_their_state(store: Store, article: tuple[int, int]) -> None:
    _, article_id = article
    a = repo.open_article(store, article_id)
    assert a.status == "done" and a.seconds == 1.5 and a.brief == "Write about tides"
    assert [(b.key, b.kind) for b in a.blocks] == [
        ("b1", "text"),
        ("b2", "image"),
        ("b3", "text"),
        ("b4", "image"),
        ("b5", "image"),
    ]
    assert a.block("b1").current.text == "Tides rise and fall.\n"
    chart = a.block("b2").current
    assert chart.status == "ok" and chart.asset is not None
    assert store.assets.read(chart.asset.sha256) == b"PNG-chart-v1"
    assert a.block("b4").current.status == "failed" and a.block("b4").current.error == "search is offline"
    assert a.block("b5").current.status == "invalid" and a.block("b5").current.tag.startswith("<imgen>{'source': 'p")
    assert a.input_images[0].mime == "image/jpeg"
    assert store.assets.read(a.input_images[0].sha256) == b"user-jpeg"
    assert a.llmi_text() == (
        "Tides rise and fall.\n"
        "<imgen>{'source': 'code', 'description': 'Tide chart', 'params': {'code': 'plt.plot([1, 2])'}}</imgen>"
        "The moon pulls the sea."
        "<imgen>{'source': 'search', 'description': 'Bay of Fundy', 'params': {'query': 'Bay of Fundy low tide'}}"
        "</imgen><imgen>{'source': 'paint'}</imgen>"
    )


def test_versions_accept_and_revert(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    v2 = repo.add_image_version(
        store, aid, "b2", source="code", description="Tide chart", params={"code": "plt.bar([1], [2])"}
    )
    assert (v2.number, v2.parent_number, v2.status, v2.origin) == (2, 1, "queued", "regenerate")
    assert repo.open_article(store, aid).block("b2").current_version == 2
    done = repo.finish_image_version(store, v2.id, status="ok", image=b"PNG-chart-v2", seconds=0.3)
    assert done.asset is not None and store.assets.read(done.asset.sha256) == b"PNG-chart-v2"

    block = repo.accept_version(store, aid, "b2")
    assert (block.current_version, block.accepted_version) == (2, 2)
    block = repo.revert_version(store, aid, "b2", 1)
    assert (block.current_version, block.accepted_version) == (1, None)
    assert block.current.params == {"code": "plt.plot([1, 2])"}
    assert [v.number for v in repo.list_versions(store, aid, "b2")] == [1, 2]

    t2 = repo.add_text_version(store, aid, "b1", "Tides go up and down.\n", instruction="simpler")
    assert (t2.number, t2.instruction) == (2, "simpler")
    assert repo.open_article(store, aid).llmi_text().startswith("Tides go up and down.\n<imgen>")

    kinds = [(e.kind, e.block_key) for e in list_preference_events(store)]
    assert kinds == [("regenerate", "b2"), ("accept", "b2"), ("revert", "b2"), ("rewrite", "b1")]
    with pytest.raises(ValueError):
        repo.add_text_version(store, aid, "b2", "text on an image block")
    with pytest.raises(KeyError):
        repo.revert_version(store, aid, "b2", 9)
    with pytest.raises(KeyError):
        repo.list_versions(store, aid, "b99")


def test_duplicate_is_deep_and_independent(store: Store, article: tuple[int, int]) -> None:
    pid, aid = article
    repo.add_text_version(store, aid, "b1", "Second take.\n")
    copy = repo.duplicate_project(store, pid)
    assert copy.name == "Tides (copy)" and copy.id != pid
    original, dup = repo.open_article(store, aid), repo.latest_article(store, copy.id)
    assert dup is not None and dup.id != aid
    assert dup.llmi_text() == original.llmi_text()
    assert [b.version_count for b in dup.blocks] == [b.version_count for b in original.blocks]
    assert dup.block("b2").current.asset == original.block("b2").current.asset  # shared by hash

    repo.revert_version(store, dup.id, "b1", 1)  # changing the copy leaves the original alone
    assert repo.open_article(store, aid).block("b1").current.text == "Second take.\n"
    repo.delete_project(store, pid)  # soft: hidden and restorable
    assert pid not in [p.id for p in repo.list_projects(store)]
    with pytest.raises(KeyError, match="deleted"):
        repo.get_project(store, pid)
    repo.restore_project(store, pid)
    assert repo.get_project(store, pid).name == "Tides"
    repo.delete_project(store, pid)
    assert repo.purge_deleted_projects(store, timedelta(days=1)) == 0  # too recent to purge
    assert repo.purge_deleted_projects(store, timedelta(0)) == 1
    assert repo.latest_article(store, copy.id).block("b2").current.asset == original.block("b2").current.asset
    with store.read() as s:  # the original's rows went with it (cascade), the copy's stayed
        assert s.scalar(select(func.count()).select_from(Block)) == 5
        assert s.scalar(select(func.count()).select_from(BlockVersion)) == 6


def test_ratings(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    repo.rate_article(store, aid, thumbs=1)
    repo.rate_article(store, aid, stars=2, comment="chart is wrong")
    assert [(r.thumbs, r.stars, r.comment) for r in repo.list_ratings(store, aid)] == [
        (1, None, ""),
        (None, 2, "chart is wrong"),
    ]
    with pytest.raises(ValueError):
        repo.rate_article(store, aid, stars=6)
    with pytest.raises(ValueError):
        repo.rate_article(store, aid)


def test_mark_interrupted(store: Store) -> None:
    pid = repo.create_project(store, "p").id
    rec = ArticleRecorder(store, pid, brief="b")
    rec.image_queued("b1", 0, "diffusion", "x", {"prompt": "x"})
    assert repo.mark_interrupted(store) == 1
    a = repo.open_article(store, rec.article_id)
    assert a.status == "interrupted" and a.blocks[0].current.status == "failed"


def test_data_dir_is_0700_and_database_0600(tmp_path: Path) -> None:
    import stat

    from storage.db import open_store

    data = tmp_path / "fresh" / "data"
    old = os.umask(0o022)
    try:
        store = open_store(None, data)
        try:
            with store.write() as s:
                s.execute(text("select 1"))
        finally:
            store.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "studio.db").stat().st_mode) == 0o600
    for extra in ("studio.db-wal", "studio.db-shm"):
        if (data / extra).exists():
            assert stat.S_IMODE((data / extra).stat().st_mode) & 0o077 == 0
