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
from storage import list_preference_events, open_store, repo
from storage.db import alembic_config, make_engine
from storage.schema import Base


def _diffs(engine, metadata: MetaData) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def _triggers(engine) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return sorted(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        return sorted(conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())


def test_migrations_create_the_orm_schema(tmp_path: Path, db_url: str | None) -> None:
    engine = make_engine(db_url or f"sqlite:///{tmp_path / 'm.db'}")
    command.upgrade(alembic_config(engine), "head")
    assert _diffs(engine, Base.metadata) == []
    # The comparison does see a difference when there is one.
    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    assert [d[0] for d in _diffs(engine, extra)] == ["add_table"]

    guard = (
        ["preference_events_no_delete", "preference_events_no_update"]
        if engine.dialect.name == "sqlite"
        else ["preference_events_append_only"]
    )
    assert _triggers(engine) == guard

    # down to 0001 and up again: the append-only guard survives the table changes of 0002
    command.downgrade(alembic_config(engine), "0001")
    assert _triggers(engine) == guard
    assert "owner" not in {c["name"] for c in inspect(engine).get_columns("projects")}
    command.upgrade(alembic_config(engine), "head")
    assert _diffs(engine, Base.metadata) == [] and _triggers(engine) == guard

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


def test_0002_gives_existing_rows_to_the_local_user(tmp_path: Path, db_url: str | None) -> None:
    """A store from before accounts: its projects, events and assets become the local user's."""
    engine = make_engine(db_url or f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        now = "2026-11-30 10:00:00+00"
        conn.execute(
            text(f"INSERT INTO projects (id, name, created_at, updated_at) VALUES (1, 'old', '{now}', '{now}')")
        )
        conn.execute(text(
            "INSERT INTO articles (id, project_id, brief, input_images, settings, status, created_at) VALUES "
            f"""(1, 1, 'b', '[{{"sha256": "{"a" * 64}", "mime": "image/png"}}]', '{{}}', 'done', '{now}')"""
        ))  # fmt: skip
        conn.execute(text("INSERT INTO blocks (id, article_id, key, position, kind, current_version) "
                          "VALUES (1, 1, 'b1', 0, 'image', 1)"))  # fmt: skip
        conn.execute(text("INSERT INTO block_versions (id, block_id, number, origin, created_at, asset_sha256) "
                          f"VALUES (1, 1, 1, 'generated', '{now}', '{'b' * 64}')"))  # fmt: skip
        conn.execute(text("INSERT INTO preference_events (created_at, kind, context) "
                          f"VALUES ('{now}', 'accept', '{{}}')"))  # fmt: skip
    command.upgrade(alembic_config(engine), "head")
    engine.dispose()
    store = (
        open_store(db_url, tmp_path / "data") if db_url else open_store(f"sqlite:///{tmp_path / 'old.db'}", tmp_path)
    )
    assert [p.name for p in repo.list_projects(store, "local")] == ["old"] and repo.list_projects(store, "bob") == []
    assert repo.asset_readable(store, "a" * 64, "local") and repo.asset_readable(store, "b" * 64, "local")
    assert [e.owner for e in list_preference_events(store)] == ["local"]
    store.close()


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


def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path: Path, db_url: str | None) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; from storage import open_store, repo; "
        "s = open_store(sys.argv[4] or None, Path(sys.argv[2])); print(repo.create_project(s, sys.argv[3]).id)"
    )
    root = str(Path(__file__).resolve().parents[2])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, root, str(tmp_path), f"p{n}", db_url or ""], stdout=subprocess.PIPE
        )
        for n in range(3)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    store = open_store(db_url, tmp_path)
    assert sorted(p.name for p in repo.list_projects(store)) == ["p0", "p1", "p2"]
    store.close()


def test_threads_opening_one_new_store_at_once_all_succeed(tmp_path: Path, db_url: str | None) -> None:
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(db_url, tmp_path), range(4)))
    for n, store in enumerate(stores):
        repo.create_project(store, f"p{n}")
    assert len(repo.list_projects(stores[0])) == 4
    for store in stores:
        store.close()
