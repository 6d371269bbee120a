"""An image block the writer puts into an article (a pasted or dropped file, an image URL).

``storage.repo`` re-exports ``insert_image_block``. The block is an ordinary image block with one
version that is already done: its picture is the writer's, so no tool runs. Its call is a web
search for its caption (``Regenerate`` on the card then finds a web picture like any search
block); its provenance says where the picture came from (``origin`` ``upload`` or ``url``), which
is what every credit line reads (``models.provenance.credit_for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import NotFound
from models.vocab import BlockStatus, Source
from storage.db import Store
from storage.edits import _live_blocks, _next_key, _renumber
from storage.rows import article_owner, check_article_owner, claim_asset, touch_project
from storage.schema import Article, Block, BlockVersion


def _position(s: Session, article_id: int, after: str | None) -> tuple[list[Block], int]:
    """The blocks shown and the place a new block goes after ``after`` (None: the start)."""
    blocks = _live_blocks(s, article_id)
    at = 0 if after is None else next((i + 1 for i, b in enumerate(blocks) if b.key == after), None)
    if at is None:
        raise NotFound(f"block {after!r} not found in article {article_id}: reload the page and try again")
    return blocks, at


def insert_image_block(
    store: Store,
    article_id: int,
    after: str | None,
    *,
    image: bytes,
    mime: str,
    description: str,
    provenance: Mapping[str, Any],
    owner: str | None = None,
) -> str:
    """A new image block holding ``image`` after block ``after`` (None: at the start); its key.

    Its image index is past every index the article uses, so the edits the model wrote (which
    name earlier images by index) keep pointing at the pictures they changed."""
    with store.read() as s:  # check before the file is written: a bad id or block writes nothing
        check_article_owner(s, article_id, owner)
        _position(s, article_id, after)
    sha = store.assets.put(image)  # file first: a row never points at nothing
    with store.write() as s:
        check_article_owner(s, article_id, owner)
        blocks, at = _position(s, article_id, after)
        claim_asset(s, sha, article_owner(s, article_id))
        highest = s.scalar(select(func.max(Block.image_index)).where(Block.article_id == article_id))
        article = s.get(Article, article_id)
        users = len(article.input_images or []) if article is not None else 0
        index = max(users, (highest + 1) if highest is not None else 0)
        block = Block(
            article_id=article_id, key=_next_key(s, article_id), position=0, kind="image", image_index=index,
            current_version=1,
        )  # fmt: skip
        block.versions.append(
            BlockVersion(
                number=1,
                origin="insert",  # how the version came about; provenance["origin"] says whose picture
                instruction="the writer's own image, inserted",
                source=Source.SEARCH,
                description=description,
                params={"query": description},
                status=BlockStatus.OK,
                provenance=dict(provenance),
                asset_sha256=sha,
                mime=mime,
            )
        )
        s.add(block)
        blocks.insert(at, block)
        _renumber(blocks)
        s.flush()
        touch_project(s, block)
        return block.key
