from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, text

from models.errors import StorageError
from storage import open_store, repo
from storage.db import alembic_config, make_engine
from storage.schema import Base


def _diffs(engine, metadata: MetaData) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_migrations_create_the_orm_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    command.upgrade(alembic_config(engine), "head")
    assert _diffs(engine, Base.metadata) == []
    # The comparison does see a difference when there is one.
    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    assert [d[0] for d in _diffs(engine, extra)] == ["add_table"]

    with engine.connect() as conn:
        triggers = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all()
        assert sorted(triggers) == ["preference_events_no_delete", "preference_events_no_update"]

    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    command.upgrade(alembic_config(engine), "head")
    assert _diffs(engine, Base.metadata) == []
    engine.dispose()


def test_open_store_sets_sqlite_pragmas_and_reopens(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    assert (tmp_path / "studio.db").is_file()
    with store.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    project = repo.create_project(store, "kept")
    store.close()
    again = open_store(None, tmp_path)  # migrating an up-to-date store is a no-op
    assert [p.name for p in repo.list_projects(again)] == ["kept"]
    assert project.id == repo.list_projects(again)[0].id
    again.close()


def test_explicit_url_passes_through_and_assets_stay_in_data_dir(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "x.db"
    db.parent.mkdir()
    store = open_store(f"sqlite:///{db}", tmp_path / "data")
    repo.create_project(store, "p")
    assert db.is_file() and not (tmp_path / "data" / "studio.db").exists()
    assert store.assets.root == tmp_path / "data" / "assets"
    store.close()


def test_bad_url_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="bad database URL"):
        open_store("nosuchdialect://x", tmp_path)


def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; from storage import open_store, repo; "
        "s = open_store(None, Path(sys.argv[2])); print(repo.create_project(s, sys.argv[3]).id)"
    )
    root = str(Path(__file__).resolve().parents[2])
    procs = [
        subprocess.Popen([sys.executable, "-c", script, root, str(tmp_path), f"p{n}"], stdout=subprocess.PIPE)
        for n in range(2)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    store = open_store(None, tmp_path)
    assert sorted(p.name for p in repo.list_projects(store)) == ["p0", "p1"]
    store.close()


def test_threads_opening_one_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(None, tmp_path), range(4)))
    for n, store in enumerate(stores):
        repo.create_project(store, f"p{n}")
    assert len(repo.list_projects(stores[0])) == 4
    for store in stores:
        store.close()
