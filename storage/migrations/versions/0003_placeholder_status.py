"""Image versions may be 'placeholder': a call that was not run (its tool is off, or code was asked
for a photo); the user fills it by an upload or a later run.

Revision ID: 0003
Revises: 0002 (owners)
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OLD = "status IS NULL OR status IN ('queued', 'running', 'ok', 'failed', 'invalid')"
_NEW = "status IS NULL OR status IN ('queued', 'running', 'ok', 'failed', 'invalid', 'placeholder')"


def _set_check(condition: str) -> None:
    with op.batch_alter_table("block_versions") as batch:
        batch.drop_constraint("ck_block_versions_status", type_="check")
        batch.create_check_constraint("ck_block_versions_status", condition)


def upgrade() -> None:
    _set_check(_NEW)


def downgrade() -> None:
    op.execute("UPDATE block_versions SET status = 'failed' WHERE status = 'placeholder'")
    _set_check(_OLD)
