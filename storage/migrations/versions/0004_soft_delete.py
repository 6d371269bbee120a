"""Editor state: soft delete of projects and blocks (``deleted_at``: hidden, restorable until
purged) and a block's ``candidate_version`` (a version shown beside the current one).

Revision ID: 0004
Revises: 0003 (placeholder status)
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("blocks", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("blocks", sa.Column("candidate_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.drop_column("candidate_version")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("deleted_at")
