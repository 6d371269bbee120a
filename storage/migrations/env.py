"""Alembic environment: migrate the engine the studio hands over, or a URL given with ``-x url=``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from storage.db import make_engine
from storage.schema import Base

MIGRATION_LOCK_KEY = 0x11_4D_15_70  # any fixed bigint: the advisory lock id of "migrating the studio"
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = context.get_x_argument(as_dictionary=True).get("url")
        if not url:
            raise SystemExit("pass the database with -x url=sqlite:///PATH/studio.db")
        engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # One transaction (BEGIN IMMEDIATE, see storage.db) around every step: Alembic would
            # commit each revision on its own on SQLite, and a second process could then read an
            # old revision between two steps and run a step again.
            connection.begin()
        # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Several app processes may open one new database at once: the first migrates, the
                # others wait here (the lock ends with the transaction), then find the head revision.
                connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) mode is not supported; run against a database")
run_migrations_online()
