"""The preference log (append-only): what every regenerate, rewrite, accept, revert and rating
logs, in the same transaction as the change (``storage.repo`` / ``storage.versions`` call
``log_event``).

Kinds: ``regenerate`` / ``rewrite`` (from-version and to-version, nothing kept yet), ``accept`` /
``revert`` (``chosen`` is the version the user kept, ``rejected`` the one it beat),
``rating``, and ``undo`` / ``redo`` (a history step taken back or done again: ``context["undoes"]``
/ ``["redoes"]`` name the events of that step, ``storage.history``). Each row carries its
whole context as JSON, so the export needs nothing else and outlives project deletes: the
brief, the article's ``settings`` (writer backend and model, the system and user prompt as
sent, generation settings, user), input images, the article around
the block as a list of blocks (``blocks_before`` / ``blocks_after``, each block's tag as the
writer wrote it) and each version's call, result, asset hash and tags. Nothing updates or
deletes these rows: the API has no such function and a database trigger refuses UPDATE/DELETE.

"As the writer wrote it": with small models the writer leaves chart code empty and a second
call fills it in. A version keeps the code that ran in ``params`` and the writer's tag in
``raw`` (or the call as made in ``provenance["written_params"]``); ``written_tag`` is the
writer's, ``filled_code`` the code a tool wrote in its place. The TRL dataset export is
``storage.pref_export``.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.errors import StorageError
from models.vocab import BlockStatus, Source
from storage.db import Store
from storage.schema import PREFERENCE_KINDS, Article, Block, BlockVersion, PreferenceEvent, Project
from storage.views import TAG_CLOSE, TAG_OPEN, PreferenceEventInfo, llmi_tag, version_info

MAX_RAW_CHARS = 100_000  # a longer tag is not parsed back (it is still exported as written)
# Session.info key: inside a history step (storage.history.record_step) the ids of the events it
# logs are noted here, so undoing the step can name them in its 'undo' event
HISTORY_EVENTS = "history_events"

# --- logging (called by storage.repo inside its transaction) -----------------------------------


def raw_params(raw: str | None) -> dict[str, Any] | None:
    """The params of a tag as written (``<imgen>{...}</imgen>``, Python literal or JSON), or None.

    Model output is hostile: ``ast.literal_eval`` evaluates no code, the length is capped and any
    failure is just "unknown"."""
    if not raw or len(raw) > MAX_RAW_CHARS:
        return None
    body = raw.strip().removeprefix(TAG_OPEN).removesuffix(TAG_CLOSE)
    try:
        payload = json.loads(body)
    except ValueError:
        try:
            payload = ast.literal_eval(body)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    params = payload.get("params") if isinstance(payload, dict) else None
    return params if isinstance(params, dict) else None


def written_tag(v: BlockVersion, block: Block) -> str:
    """The version as the writer wrote it: a text, the writer's own tag, or the call as made."""
    info = version_info(v, block)
    if block.kind == "text" or v.status == BlockStatus.INVALID or v.source is None:
        return info.tag
    if v.raw:
        return v.raw
    written = (v.provenance or {}).get("written_params")
    return llmi_tag(v.source, v.description or "", written, None) if isinstance(written, dict) else info.tag


def filled_code(v: BlockVersion) -> str | None:
    """The chart code a second call wrote where the writer left it empty (None: nothing filled)."""
    if v.source != Source.CODE or not v.params:
        return None
    code = v.params.get("code")
    written = (v.provenance or {}).get("written_params")
    if not isinstance(written, dict):
        written = raw_params(v.raw)
    if written is None or not isinstance(code, str) or written.get("code") == code:
        return None
    return code


def version_snapshot(v: BlockVersion) -> dict[str, Any]:
    info = version_info(v, v.block)
    return {
        "id": v.id,
        "number": v.number,
        "origin": v.origin,
        "parent_number": v.parent_number,
        "instruction": v.instruction,
        "kind": info.kind,
        "text": v.text,
        "source": v.source,
        "description": v.description,
        "params": info.params,
        "status": v.status,
        "error": v.error,
        "provenance": info.provenance,
        "asset_sha256": v.asset_sha256,
        "mime": v.mime,
        "seconds": v.seconds,
        "tag": info.tag,  # with the params that ran
        "written_tag": written_tag(v, v.block),  # as the writer wrote it
        "filled_code": filled_code(v),
    }


def _article_base(article: Article) -> dict[str, Any]:
    return {
        "project_id": article.project_id,
        "article_id": article.id,
        "brief": article.brief,
        "settings": article.settings,
        "input_images": list(article.input_images),
    }


def _ordered_blocks(s: Session, article_id: int) -> list[Block]:
    query = select(Block).where(Block.article_id == article_id).order_by(Block.position)
    return [b for b in s.scalars(query.options(selectinload(Block.versions))) if b.versions and b.deleted_at is None]


def _current(b: Block) -> BlockVersion:
    return next(v for v in b.versions if v.number == b.current_version)


def _block_entry(b: Block) -> dict[str, Any]:
    current = _current(b)
    return {"block_id": b.key, "kind": b.kind, "tag": written_tag(current, b), "filled_code": filled_code(current)}


def block_context(s: Session, block: Block) -> dict[str, Any]:
    """Where the block stands: brief, settings, and the whole article around it (current versions).

    ``blocks_before`` / ``blocks_after`` list every other block (its tag as the writer wrote it),
    so the export can rebuild the article and cut a long one at block boundaries;
    ``text_before`` / ``text_after`` are the same joined."""
    blocks = _ordered_blocks(s, block.article_id)
    before = [_block_entry(b) for b in blocks if b.position < block.position]
    after = [_block_entry(b) for b in blocks if b.position > block.position]
    article = s.get(Article, block.article_id)
    if article is None:  # the block's article row is gone: the foreign key forbids it
        raise StorageError(f"block {block.key} has no article {block.article_id}")
    return {
        **_article_base(article),
        "block_id": block.key,
        "block_kind": block.kind,
        "position": block.position,
        "image_index": block.image_index,
        "blocks_before": before,
        "blocks_after": after,
        "text_before": "".join(b["tag"] for b in before),
        "text_after": "".join(b["tag"] for b in after),
    }


def article_context(s: Session, article: Article) -> dict[str, Any]:
    """The whole article as it stands (for ratings): its blocks, text and current images."""
    blocks = _ordered_blocks(s, article.id)
    images = []
    for b in blocks:
        if b.kind == "image":
            v = _current(b)
            images.append({"block_id": b.key, "status": v.status, "asset_sha256": v.asset_sha256, "mime": v.mime})
    entries = [_block_entry(b) for b in blocks]
    return {
        **_article_base(article),
        "blocks": entries,
        "llmi_text": "".join(e["tag"] for e in entries),
        "images": images,
    }


def log_event(
    s: Session,
    kind: str,
    *,
    context: dict[str, Any],
    block: Block | None = None,
    article: Article | None = None,
    chosen: BlockVersion | None = None,
    rejected: BlockVersion | None = None,
) -> PreferenceEvent:
    """Append one event (the only way rows get into the log)."""
    if kind not in PREFERENCE_KINDS:
        raise ValueError(f"unknown preference event kind {kind!r}")
    if article is None and block is not None:
        article = s.get(Article, block.article_id)
    owner = s.scalar(select(Project.owner).where(Project.id == article.project_id)) if article else None
    if owner is None:
        raise StorageError(f"a {kind!r} preference event needs the article it is about")
    event = PreferenceEvent(
        kind=kind,
        owner=owner,
        project_id=article.project_id if article else None,
        article_id=article.id if article else None,
        block_key=block.key if block else None,
        chosen_version_id=chosen.id if chosen else None,
        rejected_version_id=rejected.id if rejected else None,
        context=context,
    )
    s.add(event)
    s.flush()
    if HISTORY_EVENTS in s.info:
        s.info[HISTORY_EVENTS].append(event.id)
    return event


def list_preference_events(
    store: Store, since_id: int = 0, kind: str | None = None, owner: str | None = None
) -> list[PreferenceEventInfo]:
    """Events with id > ``since_id`` in log order (optionally of one kind, of one user)."""
    with store.read() as s:
        query = select(PreferenceEvent).where(PreferenceEvent.id > since_id).order_by(PreferenceEvent.id)
        if kind is not None:
            query = query.where(PreferenceEvent.kind == kind)
        if owner is not None:
            query = query.where(PreferenceEvent.owner == owner)
        return [
            PreferenceEventInfo(
                e.id,
                e.kind,
                e.created_at,
                e.project_id,
                e.article_id,
                e.block_key,
                e.chosen_version_id,
                e.rejected_version_id,
                dict(e.context),
                e.owner,
            )
            for e in s.scalars(query)
        ]
