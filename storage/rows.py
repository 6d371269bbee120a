"""Row look-ups shared by the repository modules (``repo``, ``versions``): a missing id is a
KeyError that names it; statuses are checked against one list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from storage.schema import Article, Block, BlockVersion, Project, utcnow

IMAGE_STATUSES = ("queued", "running", "ok", "failed", "invalid", "placeholder")


def get_row(s: Session, model: Any, row_id: int) -> Any:
    row = s.get(model, row_id)
    if row is None:
        raise KeyError(f"{model.__tablename__} row {row_id} not found")
    return row


def block_row(s: Session, article_id: int, block_key: str) -> Block:
    block = s.scalars(
        select(Block)
        .where(Block.article_id == article_id, Block.key == block_key)
        .options(selectinload(Block.versions))
    ).one_or_none()
    if block is None:
        raise KeyError(f"block {block_key!r} not found in article {article_id}")
    return block


def version_row(block: Block, number: int) -> BlockVersion:
    for v in block.versions:
        if v.number == number:
            return v
    raise KeyError(f"block {block.key!r} has no version {number}")


def touch_project(s: Session, block: Block) -> None:
    project_id = select(Article.project_id).where(Article.id == block.article_id).scalar_subquery()
    s.execute(update(Project).where(Project.id == project_id).values(updated_at=utcnow()))


def check_status(status: str) -> None:
    if status not in IMAGE_STATUSES:
        raise ValueError(f"status must be one of {IMAGE_STATUSES}, got {status!r}")
