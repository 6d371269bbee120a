"""Engine and session set-up: ``open_store(url, data_dir) -> Store``.

SQLite (the default, ``<data_dir>/studio.db``) is tuned for an app that writes while it
streams and is read from several threads at once:

- ``journal_mode=WAL``: readers never block the writer and vice versa; a crash or ``kill -9``
  leaves committed transactions intact (the WAL is replayed on the next open).
- ``synchronous=NORMAL``: safe against process crashes in WAL mode; only an OS crash or power
  loss can drop the last commits. FULL would fsync every commit, and the recorder commits often.
- ``foreign_keys=ON`` (SQLite has it off per connection by default) and ``busy_timeout`` so a
  writer waits for another writer's lock instead of failing at once.
- Writes run in ``BEGIN IMMEDIATE`` transactions (``Store.write()``): the write lock is taken
  up front, so two threads never both read, then both try to upgrade to writing, which in WAL
  mode fails at once with SQLITE_BUSY whatever the timeout. Reads (``Store.read()``) use a
  plain deferred ``BEGIN``. For this the pysqlite driver's own implicit transactions are turned
  off and SQLAlchemy's ``begin`` event emits the BEGIN (the recipe in SQLAlchemy's SQLite docs).
- Writers of one process also queue on a lock of the ``Store``: SQLite allows one writer at a
  time anyway, and a waiter on SQLite's busy handler polls with sleeps of up to 100 ms, while a
  lock hands over at once. Other processes still wait through ``busy_timeout``.

Any other SQLAlchemy URL (``postgresql+psycopg://...``) passes through untouched; the schema is
created and upgraded by Alembic (``storage/migrations``) on every open, so a store is always
at the head revision.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.errors import StorageError
from storage.assets import AssetStore

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 15_000


@dataclass
class Store:
    """A database plus the asset folder beside it. Thread-safe: every call opens its own session."""

    engine: Engine
    assets: AssetStore
    data_dir: Path
    _read: sessionmaker[Session]
    _write: sessionmaker[Session]
    _write_lock: threading.Lock | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction, committed on exit, rolled back on error.

        Do not nest ``write()`` calls in one thread: the second would wait for the first forever.
        """
        lock = self._write_lock or _NO_LOCK
        with lock:
            session = self._write()
            try:
                with session.begin():
                    yield session
            except SQLAlchemyError as exc:
                raise StorageError(f"project store write failed ({self.url}): {exc}") from exc
            finally:
                session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        session = self._read()
        try:
            yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"project store read failed ({self.url}): {exc}") from exc
        finally:
            session.rollback()
            session.close()

    def close(self) -> None:
        self.engine.dispose()


_NO_LOCK = contextlib.nullcontext()
_MIGRATE_LOCK = threading.Lock()


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'studio.db'}"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the SQLite tuning above where it applies."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
        _tune_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def alembic_config(engine: Engine | None = None) -> Any:
    """An Alembic config pointing at ``storage/migrations`` (and at ``engine`` when given)."""
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Upgrade the database to the head revision (creates the schema on a new database)."""
    from alembic import command

    # IMMEDIATE: two processes opening one new SQLite file at once must not both read "no
    # schema" and then both create it; the second waits, then finds the head revision.
    # The lock: Alembic keeps its running context in module globals, so within one process
    # only one thread may migrate at a time.
    try:
        with _MIGRATE_LOCK:
            command.upgrade(alembic_config(engine.execution_options(sqlite_begin="IMMEDIATE")), "head")
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate the project store ({engine.url!r}): {exc}") from exc


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700 when this user owns it: the data folder
    holds the database, the assets and the preference log."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.geteuid():
        path.chmod(0o700)


def private_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask, often 0644);
    SQLite gives its -wal and -shm files the database file's mode."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    if path.stat().st_uid == os.geteuid():
        path.chmod(0o600)


def open_store(url: str | None, data_dir: Path, *, run_migrations: bool = True) -> Store:
    """Open (and migrate) the store: ``url`` or, when None/empty, SQLite in ``data_dir``.

    Assets always live in ``<data_dir>/assets``, also when the database is PostgreSQL.
    """
    data_dir = Path(data_dir)
    try:
        private_dir(data_dir)
        if not url:
            private_file(data_dir / "studio.db")
    except OSError as exc:
        raise StorageError(f"cannot create the data folder {data_dir}: {exc} (set STUDIO_DATA_DIR)") from exc
    try:
        engine = make_engine(url or default_url(data_dir))
    except (SQLAlchemyError, ImportError) as exc:
        raise StorageError(f"bad database URL {url!r}: {exc}") from exc
    if run_migrations:
        migrate(engine)
    write_bind = engine.execution_options(sqlite_begin="IMMEDIATE")
    return Store(
        engine=engine,
        assets=AssetStore(data_dir / "assets"),
        data_dir=data_dir,
        _read=sessionmaker(bind=engine, expire_on_commit=False),
        _write=sessionmaker(bind=write_bind, expire_on_commit=False),
        _write_lock=threading.Lock() if engine.dialect.name == "sqlite" else None,
    )
