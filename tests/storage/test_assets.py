from __future__ import annotations

import os

import pytest

from models.errors import StorageError
from storage import ArticleRecorder, Store, repo
from storage.assets import AssetStore, sha256_hex


def test_assets_are_files_by_hash_written_once(tmp_path) -> None:
    assets = AssetStore(tmp_path / "assets")
    digest = assets.put(b"hello image")
    assert digest == sha256_hex(b"hello image")
    path = tmp_path / "assets" / digest[:2] / digest[2:]
    assert assets.path(digest) == path and path.read_bytes() == b"hello image"
    mtime = path.stat().st_mtime_ns
    assert assets.put(b"hello image") == digest
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    assert [p.name for p in path.parent.iterdir()] == [digest[2:]]  # no temp files left
    with pytest.raises(StorageError):
        assets.path("../../etc/passwd")
    with pytest.raises(StorageError, match="missing"):
        assets.read("0" * 64)


def test_images_dedupe_and_the_database_stays_small(store: Store) -> None:
    pid = repo.create_project(store, "big images").id
    rec = ArticleRecorder(store, pid, brief="many pictures")
    images = [os.urandom(200_000) for _ in range(10)]
    for i, data in enumerate(images + images):  # every image twice
        rec.image_queued(f"b{i}", i, "diffusion", f"pic {i}", {"prompt": f"p{i}"})
        rec.image_finished(f"b{i}", "ok", image_bytes=data)
    rec.done()

    files = [p for p in store.assets.root.rglob("*") if p.is_file()]
    assert len(files) == 10  # 20 image versions, 10 distinct files
    assert sorted(p.parent.name + p.name for p in files) == sorted(sha256_hex(d) for d in images)
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:  # fold the WAL into the database file, then weigh it
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db_bytes = (store.data_dir / "studio.db").stat().st_size
    else:  # the version table with its TOAST and indexes
        with store.engine.connect() as conn:
            db_bytes = conn.exec_driver_sql("SELECT pg_total_relation_size('block_versions')").scalar()
    # the images (2 MB) are not in it: the schema alone is ~25 pages of 4 KiB (history_steps added some)
    assert db_bytes < 200_000 and sum(p.stat().st_size for p in files) == 2_000_000
    # every stored image belongs to the project's owner, once
    assert all(repo.asset_readable(store, sha256_hex(d), "local") for d in images)
    assert not repo.asset_readable(store, sha256_hex(images[0]), "someone-else")
    article = repo.open_article(store, rec.article_id)
    assert article.block("b3").current.asset == article.block("b13").current.asset


_PUT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; from storage.assets import AssetStore; "
    "a = AssetStore(Path(sys.argv[2])); n = int(sys.argv[3]); "
    "[a.put(bytes([k % 7]) * 300_000 + (f's{k % 7}' if k % 2 else f'u{n}-{k}').encode()) for k in range(40)]"
)


def test_processes_writing_one_asset_folder_at_once_leave_whole_files_and_no_temp_files(tmp_path) -> None:
    """Four processes put the same 7 images (raced renames of equal bytes) and 20 own ones each."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    procs = [subprocess.Popen([sys.executable, "-c", _PUT, root, str(tmp_path / "assets"), str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    files = [p for p in (tmp_path / "assets").rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(".tmp-")]
    assert len(files) == 7 + 4 * 20
    for f in files:  # each file's bytes hash to its name: nothing torn or mixed
        assert sha256_hex(f.read_bytes()) == f.parent.name + f.name
