"""Editing an article's shape and soft deletes; ``storage.repo`` re-exports these.

- Blocks: insert a text block, delete (soft: ``deleted_at``, undone by ``restore_block``) and
  move one up or down. Positions are rewritten densely, so the order is the one shown. Each
  change is a step of the article's undo history (``storage.history``).
- Projects: ``delete_project`` only hides a project (``deleted_at``); ``restore_project`` brings
  it back; ``purge_deleted_projects`` removes for good what was deleted long enough ago.

Ownership as in ``storage.repo``: every function that takes an id takes ``owner``; another
user's id raises the same ``NotFound`` as an unknown one (``None``: any owner, the admin CLI).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.errors import BlockGone, Refused
from models.vocab import article_title as title_rule
from storage.db import Store
from storage.history import record_step
from storage.naming import capitalised, name_of
from storage.rows import block_row, check_article_owner, project_row, touch_project
from storage.schema import Block, BlockVersion, Project, utcnow
from storage.views import ArticleInfo, ProjectInfo, project_info

PURGE_AFTER = timedelta(days=30)


# --- projects ----------------------------------------------------------------------------------


def delete_project(store: Store, project_id: int, owner: str | None = None) -> ProjectInfo:
    """Hide a project (undo with ``restore_project``); purged later by ``purge_deleted_projects``."""
    with store.write() as s:
        project = project_row(s, project_id, owner)
        project.deleted_at = utcnow()
        return project_info(project)


def restore_project(store: Store, project_id: int, owner: str | None = None) -> ProjectInfo:
    with store.write() as s:
        project = project_row(s, project_id, owner)
        project.deleted_at = None
        project.updated_at = utcnow()
        return project_info(project)


def purge_deleted_projects(store: Store, older_than: timedelta = PURGE_AFTER) -> int:
    """Delete for good the projects deleted more than ``older_than`` ago (the preference log keeps
    its copy). Returns how many."""
    cutoff = utcnow() - older_than
    with store.write() as s:
        rows = list(s.scalars(select(Project).where(Project.deleted_at.is_not(None), Project.deleted_at < cutoff)))
        for row in rows:
            s.delete(row)
        return len(rows)


# --- blocks ------------------------------------------------------------------------------------


def _live_blocks(s: Session, article_id: int) -> list[Block]:
    query = select(Block).where(Block.article_id == article_id, Block.deleted_at.is_(None)).order_by(Block.position)
    return list(s.scalars(query.options(selectinload(Block.versions))))


def _renumber(blocks: list[Block]) -> None:
    for i, block in enumerate(blocks):
        block.position = i


def _next_key(s: Session, article_id: int) -> str:
    keys = s.scalars(select(Block.key).where(Block.article_id == article_id))
    highest = max((int(k[1:]) for k in keys if k.startswith("b") and k[1:].isdigit()), default=0)
    return f"b{highest + 1}"


def insert_text_block(store: Store, article_id: int, after: str | None, text: str, owner: str | None = None) -> str:
    """A new text block after block ``after`` (None: at the start); returns its key."""
    if not text.strip():
        raise Refused("write the text of the new block first")
    with store.write() as s, record_step(s, article_id, "insert", "insert a text block") as step:
        check_article_owner(s, article_id, owner)
        blocks = _live_blocks(s, article_id)
        at = 0 if after is None else next((i + 1 for i, b in enumerate(blocks) if b.key == after), None)
        if at is None:
            raise BlockGone(after, article_id)
        block = Block(article_id=article_id, key=_next_key(s, article_id), position=0, kind="text", current_version=1)
        block.versions.append(BlockVersion(number=1, origin="edit", text=text))
        s.add(block)
        blocks.insert(at, block)
        _renumber(blocks)
        s.flush()
        touch_project(s, block)
        step.label = f"insert {name_of(block)}"
        return block.key


def delete_block(store: Store, article_id: int, block_key: str, owner: str | None = None) -> None:
    """Hide a block from the article (its versions stay; ``restore_block`` undoes it)."""
    with store.write() as s, record_step(s, article_id, "delete", "delete a block") as step:
        block = block_row(s, article_id, block_key, owner)
        step.label = f"delete {name_of(block)}"
        block.deleted_at = utcnow()
        touch_project(s, block)


def restore_block(store: Store, article_id: int, block_key: str, owner: str | None = None) -> None:
    with store.write() as s, record_step(s, article_id, "restore", "restore a block") as step:
        block = block_row(s, article_id, block_key, owner)
        step.label = f"restore {name_of(block)}"
        block.deleted_at = None
        touch_project(s, block)


def move_block(store: Store, article_id: int, block_key: str, offset: int, owner: str | None = None) -> None:
    """Move a block ``offset`` places (-1: up, +1: down) among the blocks shown."""
    where = "up" if offset < 0 else "down"
    with store.write() as s, record_step(s, article_id, "move", f"move a block {where}") as step:
        check_article_owner(s, article_id, owner)
        blocks = _live_blocks(s, article_id)
        i = next((i for i, b in enumerate(blocks) if b.key == block_key), None)
        if i is None:
            raise BlockGone(block_key, article_id)
        step.label = f"move {name_of(blocks[i])} {where}"
        j = i + offset
        if not 0 <= j < len(blocks):
            raise Refused(f"{capitalised(name_of(blocks[i]))} is already the {'first' if offset < 0 else 'last'} block")
        blocks.insert(j, blocks.pop(i))
        _renumber(blocks)
        touch_project(s, blocks[j])


def article_title(info: ArticleInfo) -> str:
    """The article's title, by the one rule (``models.vocab.article_title``) the exporters use too."""
    return title_rule((b.current.text or "" for b in info.blocks if b.kind == "text"), info.brief)
