"""Owners and writers: every project and preference event belongs to a user; asset owners; app processes.

Rows that exist before this revision belong to the single local user ('local'), the owner the
studio uses while accounts are off. Columns are added with ADD COLUMN (no table rebuild), so
the append-only triggers of ``preference_events`` stay in place and no row is updated.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LOCAL_USER = "local"  # storage.schema.LOCAL_USER, repeated: a migration must not change with the code


def upgrade() -> None:
    # server_default fills the rows already there without an UPDATE (which the log's trigger refuses)
    for table in ("projects", "preference_events"):
        op.add_column(table, sa.Column("owner", sa.String(length=64), nullable=False, server_default=LOCAL_USER))
        op.create_index(f"ix_{table}_owner", table, ["owner"], unique=False)
    op.add_column("articles", sa.Column("writer", sa.String(length=128), nullable=True))
    op.create_table(
        "asset_owners",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "owner"),
    )
    op.create_table(
        "app_processes",
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    # Assets already referenced (images made, user uploads) belong to the local user, the only
    # one before accounts.
    bind = op.get_bind()
    hashes = set(
        bind.execute(sa.text("SELECT asset_sha256 FROM block_versions WHERE asset_sha256 IS NOT NULL")).scalars()
    )
    for (images,) in bind.execute(sa.select(sa.column("input_images", sa.JSON)).select_from(sa.table("articles"))):
        hashes.update(str(i["sha256"]) for i in images or [] if isinstance(i, dict) and i.get("sha256"))
    if hashes:
        owners = sa.table("asset_owners", sa.column("sha256"), sa.column("owner"), sa.column("created_at"))
        now = datetime.now(UTC)
        op.bulk_insert(owners, [{"sha256": h, "owner": LOCAL_USER, "created_at": now} for h in sorted(hashes)])


def downgrade() -> None:
    op.drop_table("app_processes")
    op.drop_table("asset_owners")
    # batch mode (a rebuild) only where SQLite needs it to drop a column; the log's triggers are
    # recreated because a rebuilt table loses them
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("writer")
    with op.batch_alter_table("projects") as batch:
        batch.drop_index("ix_projects_owner")
        batch.drop_column("owner")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS preference_events_no_{action}")
    with op.batch_alter_table("preference_events") as batch:
        batch.drop_index("ix_preference_events_owner")
        batch.drop_column("owner")
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER preference_events_no_{action.lower()} BEFORE {action} ON preference_events "
                f"BEGIN SELECT RAISE(ABORT, 'preference_events is append-only: {action} refused'); END"
            )
