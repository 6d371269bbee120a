"""An image block the writer puts into an article (a pasted or dropped file, an image URL).

``storage.repo`` re-exports ``insert_own_image`` (``storage.revisions.insert_image_block`` is
the other way in: a call a revision adds, still to run). The block is an ordinary image block with one
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

from models.errors import BlockGone, Refused
from models.vocab import BlockStatus, Source
from storage.db import Store
from storage.edits import _live_blocks, _next_key, _renumber
from storage.history import record_step
from storage.naming import capitalised, name_of
from storage.rows import article_owner, check_article_owner, claim_asset, touch_project
from storage.schema import Article, Block, BlockVersion


def _position(s: Session, article_id: int, after: str | None) -> tuple[list[Block], int]:
    """The blocks shown and the place a new block goes after ``after`` (None: the start)."""
    blocks = _live_blocks(s, article_id)
    at = 0 if after is None else next((i + 1 for i, b in enumerate(blocks) if b.key == after), None)
    if at is None:
        raise BlockGone(after, article_id)
    return blocks, at


def _split_off(s: Session, block: Block, first: str, rest: str) -> Block:
    """Cut a text block in two: ``first`` stays (a new version), ``rest`` is the new block returned."""
    if block.kind != "text":
        raise Refused(f"{capitalised(name_of(block))} is an image block: a picture goes before or after it, not inside")
    if block.candidate_version is not None:
        raise Refused(
            f"{capitalised(name_of(block))} has a suggested rewrite: accept or discard it first, then insert the image"
        )
    if not first.strip() or not rest.strip():
        raise Refused("a split needs text on both sides: insert the image after the block instead")
    number = max(v.number for v in block.versions) + 1
    block.versions.append(BlockVersion(number=number, parent_number=block.current_version, origin="split", text=first))
    block.current_version = number
    tail = Block(article_id=block.article_id, key=_next_key(s, block.article_id), position=0, kind="text",
                 current_version=1)  # fmt: skip
    tail.versions.append(BlockVersion(number=1, origin="split", text=rest))
    s.add(tail)
    s.flush()
    return tail


def insert_own_image(
    store: Store,
    article_id: int,
    after: str | None,
    *,
    image: bytes,
    mime: str,
    description: str,
    provenance: Mapping[str, Any],
    split: tuple[str, str] | None = None,
    owner: str | None = None,
) -> str:
    """A new image block holding ``image`` after block ``after`` (None: at the start); its key.

    ``split``: ``after`` is a text block whose text becomes ``split[0]`` (a new version, origin
    ``split``) and ``split[1]`` goes to a new text block below the image, so a picture can go
    between two paragraphs of one block. One transaction: all of it happens or none. A split is
    no choice between texts, so it logs no preference event.

    Its image index is past every index the article uses, so the edits the model wrote (which
    name earlier images by index) keep pointing at the pictures they changed."""
    with store.read() as s:  # check before the file is written: a bad id or block writes nothing
        check_article_owner(s, article_id, owner)
        _position(s, article_id, after)
    sha = store.assets.put(image)  # file first: a row never points at nothing
    with store.write() as s, record_step(s, article_id, "insert", "insert a picture") as step:
        check_article_owner(s, article_id, owner)
        blocks, at = _position(s, article_id, after)
        if split is not None and at == 0:
            raise Refused("a split needs the block to split: name it in after")
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
        s.flush()  # the image takes its key first; the split-off text gets the next one
        blocks.insert(at, block)
        if split is not None:
            blocks.insert(at + 1, _split_off(s, blocks[at - 1], *split))
        _renumber(blocks)
        s.flush()
        touch_project(s, block)
        step.label = f"insert {name_of(block)}"  # one undo step, the split included
        return block.key
