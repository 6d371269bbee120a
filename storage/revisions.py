"""What an article-wide revision adds to the store beyond the block functions it uses
(``add_text_version`` / ``accept_version`` / ``discard_candidate`` for changed text,
``insert_text_block`` and ``delete_block`` for added and removed text): a new image block from
the writer's tag, and the one preference event of each decision.

Ownership as in ``storage.repo``: ``owner`` given, the article must be that user's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from models.block_names import image_name
from models.errors import BlockGone, StorageError
from models.vocab import BlockStatus
from storage.db import Store
from storage.edits import _live_blocks, _next_key, _renumber
from storage.history import record_step
from storage.prefs import article_context, log_event
from storage.rows import check_article_owner, check_status, touch_project
from storage.schema import Article, Block, BlockVersion


def insert_image_block(
    store: Store,
    article_id: int,
    after: str | None,
    *,
    source: str | None,
    description: str,
    params: Mapping[str, Any],
    raw: str,
    status: str = BlockStatus.QUEUED,
    error: str | None = None,
    instruction: str | None = None,
    owner: str | None = None,
) -> tuple[str, int]:
    """A new image block after block ``after`` (None: at the start) holding a call not run yet
    (``queued``: ``finish_image_version`` records its result) or an invalid tag with its reason.
    Its img_index follows its place among the images (stored as None). Returns (key, version id)."""
    check_status(status)
    with store.write() as s:
        check_article_owner(s, article_id, owner)
        label = f"insert {image_name(source, None, description)} from a revision"
        with record_step(s, article_id, "insert", label):
            return _insert_image(s, article_id, after, source, description, params, raw, status, error, instruction)


def _insert_image(
    s: Session,
    article_id: int,
    after: str | None,
    source: str | None,
    description: str,
    params: Mapping[str, Any],
    raw: str,
    status: str,
    error: str | None,
    instruction: str | None,
) -> tuple[str, int]:
    blocks = _live_blocks(s, article_id)
    at = 0 if after is None else next((i + 1 for i, b in enumerate(blocks) if b.key == after), None)
    if at is None:
        raise BlockGone(after, article_id)
    block = Block(article_id=article_id, key=_next_key(s, article_id), position=0, kind="image", current_version=1)
    version = BlockVersion(
        number=1, origin="revise", instruction=instruction, source=source, description=description,
        params=dict(params), raw=raw, status=status, error=error, provenance={},
    )  # fmt: skip
    block.versions.append(version)
    s.add(block)
    blocks.insert(at, block)
    _renumber(blocks)
    s.flush()
    touch_project(s, block)
    return block.key, version.id


def log_revision(
    store: Store, article_id: int, revision: Mapping[str, Any], *, accepted: bool, owner: str | None = None
) -> int:
    """The decision on a whole revision as one preference event: ``accept`` when any block was
    taken, else ``revert``; its context is the article as it stands now plus ``revision`` (the
    instruction, the decision, the article before, the writer's answer, the merged article and
    every change with whether it was taken). It names no block and no version pair: the pairs
    are the block events of the changed text (``accept_version`` / ``discard_candidate``)."""
    with store.write() as s:
        check_article_owner(s, article_id, owner)
        article = s.get(Article, article_id)
        if article is None:
            raise StorageError(f"article {article_id} is gone")
        context = {**article_context(s, article), "revision": dict(revision)}
        return log_event(s, "accept" if accepted else "revert", article=article, context=context).id
