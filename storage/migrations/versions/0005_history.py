"""The article's undo history (``history_steps``) and the ``undo`` / ``redo`` preference events.

Revision ID: 0005
Revises: 0004 (soft delete)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OLD_KINDS = "kind IN ('regenerate', 'accept', 'revert', 'rewrite', 'rating')"
_NEW_KINDS = "kind IN ('regenerate', 'accept', 'revert', 'rewrite', 'rating', 'undo', 'redo')"


def upgrade() -> None:
    op.create_table(
        "history_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("merge_key", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("undone", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "seq", name="uq_history_steps_seq"),
    )
    _set_kinds(_NEW_KINDS)


def downgrade() -> None:
    op.drop_table("history_steps")
    # undo / redo rows cannot stay under the old CHECK, and the log is append-only: a downgrade
    # of a store that logged them stops here with the database's own refusal
    _set_kinds(_OLD_KINDS)


def _set_kinds(condition: str) -> None:
    """Replace the kind CHECK. SQLite rebuilds the table for it (batch mode), which drops its
    append-only triggers (SQLite drops them before the old table's rows go, so none fires):
    they are created again. PostgreSQL alters the constraint in place; its trigger stays."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS preference_events_no_{action}")
    with op.batch_alter_table("preference_events") as batch:
        batch.drop_constraint("ck_preference_events_kind", type_="check")
        batch.create_check_constraint("ck_preference_events_kind", condition)
    if sqlite:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER preference_events_no_{action.lower()} BEFORE {action} ON preference_events "
                f"BEGIN SELECT RAISE(ABORT, 'preference_events is append-only: {action} refused'); END"
            )
