"""Row look-ups shared by the repository modules (``repo``, ``versions``): a missing id is a
NotFound (a StudioError) that names it; statuses are checked against one list.

Ownership: every look-up by id takes ``owner``. ``None`` means "any owner" (the admin CLI, the
recorder's own rows); an account name means the row must belong to that user, and a row of
another user raises the same NotFound as a missing one, so ids of other users' projects leak
nothing (not even that they exist)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from models.errors import BlockGone, NotFound
from models.vocab import LISTED_CUT_OFF, ArticleStatus, BlockStatus
from storage.schema import Article, AssetOwner, Block, BlockVersion, Project, utcnow

IMAGE_STATUSES: tuple[str, ...] = tuple(BlockStatus)


def get_row(s: Session, model: Any, row_id: int) -> Any:
    row = s.get(model, row_id)
    if row is None:
        raise NotFound(f"{model.__tablename__} row {row_id} not found")
    return row


def project_row(s: Session, project_id: int, owner: str | None) -> Project:
    project = s.get(Project, project_id)
    if project is None or (owner is not None and project.owner != owner):
        raise NotFound(f"project {project_id} not found")
    return project


def check_article_owner(s: Session, article_id: int, owner: str | None) -> None:
    """NotFound unless the article exists and (when ``owner`` is given) its project is theirs."""
    found = s.scalar(
        select(Project.owner).join(Article, Article.project_id == Project.id).where(Article.id == article_id)
    )
    if found is None or (owner is not None and found != owner):
        raise NotFound(f"article {article_id} not found")


def article_owner(s: Session, article_id: int) -> str:
    found = s.scalar(
        select(Project.owner).join(Article, Article.project_id == Project.id).where(Article.id == article_id)
    )
    if found is None:
        raise NotFound(f"article {article_id} not found")
    return str(found)


def claim_asset(s: Session, sha256: str, owner: str) -> None:
    """Record that ``owner`` may read the asset ``sha256`` (idempotent, safe between processes)."""
    values = {"sha256": sha256, "owner": owner, "created_at": utcnow()}
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        s.execute(postgresql.insert(AssetOwner).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        s.execute(sqlite.insert(AssetOwner).values(**values).on_conflict_do_nothing())
    elif s.get(AssetOwner, (sha256, owner)) is None:
        s.add(AssetOwner(**values))


def block_row(s: Session, article_id: int, block_key: str, owner: str | None = None) -> Block:
    check_article_owner(s, article_id, owner)
    block = s.scalars(
        select(Block)
        .where(Block.article_id == article_id, Block.key == block_key)
        .options(selectinload(Block.versions))
    ).one_or_none()
    if block is None:
        raise BlockGone(block_key, article_id)
    return block


def version_row(block: Block, number: int) -> BlockVersion:
    for v in block.versions:
        if v.number == number:
            return v
    raise NotFound(f"block {block.key!r} has no version {number}")


def touch_project(s: Session, block: Block) -> None:
    project_id = select(Article.project_id).where(Article.id == block.article_id).scalar_subquery()
    s.execute(update(Project).where(Project.id == project_id).values(updated_at=utcnow()))


def listed_status(status: str, settings: dict[str, Any] | None) -> str:
    """An article's status as its list shows it: a finished article the model ended at its token
    limit reads 'cut off'."""
    if status == ArticleStatus.DONE and (settings or {}).get("cut_off"):
        return LISTED_CUT_OFF
    return status


def check_status(status: str) -> None:
    if status not in IMAGE_STATUSES:
        raise ValueError(f"status must be one of {IMAGE_STATUSES}, got {status!r}")
