"""The preference log (append-only) and its export for TRL's DPO and reward trainers.

Logging
-------
``storage.repo`` appends one ``preference_events`` row, in the same transaction as the change,
for every regenerate / rewrite (kind ``regenerate`` / ``rewrite``: from-version and to-version,
nothing kept yet), accept / revert (``accept`` / ``revert``: ``chosen`` is the version the user
kept, ``rejected`` the one it beat) and article rating (``rating``). Each row carries its whole
context as JSON (brief, settings, input images, the article text before and after the block in
LLM-I format, each version's call, result, asset hash and tag), so the export needs nothing
else and outlives project deletes. Nothing updates or deletes these rows: the API has no such
function and a database trigger refuses UPDATE/DELETE.

Export format (``export_preferences(store, out_dir)``)
-------------------------------------------------------
``out_dir/preferences.jsonl``: one JSON object per line, the *standard preference format with an
explicit prompt* that TRL's ``DPOTrainer`` and ``RewardTrainer`` read (``datasets.load_dataset(
"json", data_files=...)``)::

    {"prompt": "<brief>\\n\\n<article text before the block>",   # the brief alone if nothing before
     "chosen": "<kept version>", "rejected": "<other version>",
     "chosen_image": "images/<sha256>.png" | null, "rejected_image": ... | null,
     "prompt_images": ["images/<sha256>.png", ...],             # the user's input images
     "meta": {"event_id", "event", "created_at", "project_id", "article_id", "block_id",
              "block_kind", "chosen_version", "rejected_version", "chosen_status",
              "rejected_status", "text_after"}}

- For a text block, chosen/rejected are the two texts. For an image block they are the two
  versions' LLM-I tags (``<imgen>{'source': ..., 'description': ..., 'params': {...}}</imgen>``),
  exactly what the model would write; the rendered images are ``chosen_image`` /
  ``rejected_image`` (null where that version has no image, e.g. it failed) for multimodal
  reward models. Two versions of one call with a new seed have equal tags and differ only in
  their images: text-only training should drop rows where ``chosen == rejected``.
- Image paths are relative to the JSONL; the files are copies of the assets in ``images/``.
  They are deliberately not named ``images``: TRL treats an ``images`` column as the prompt's
  vision input and would demand a processor from a text-only model.
- Rows come from ``accept`` and ``revert`` events that name a rejected version. The same two
  versions of a block judged again (accept B over A, later revert to A) give one row, the
  latest judgement. Article text before the block is cut to its last 4,000 characters.

``out_dir/ratings.jsonl``: one line per article rating, in the unpaired format
(``prompt`` / ``completion`` / ``label``) that TRL's ``KTOTrainer`` reads::

    {"prompt": "<brief>", "completion": "<whole article in LLM-I format>", "label": true|false,
     "thumbs": 1 | -1 | null, "stars": 1..5 | null, "comment": "...",
     "completion_images": ["images/...", ...], "prompt_images": [...], "meta": {...}}

``label`` is thumbs up, or 4-5 stars where only stars were given. ``completion_images`` has one
entry per image block of the article, in order: a path, or null where that call made no image.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.errors import StorageError
from storage.db import Store
from storage.schema import PREFERENCE_KINDS, Article, Block, BlockVersion, PreferenceEvent
from storage.views import PreferenceEventInfo, version_info

CONTEXT_BEFORE_CHARS = 4000
CONTEXT_AFTER_CHARS = 1000
_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif", "image/svg+xml": ".svg"}


# --- logging (called by storage.repo inside its transaction) -----------------------------------


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
        "tag": info.tag,
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


def _current_tag(b: Block) -> str:
    current = next(v for v in b.versions if v.number == b.current_version)
    return version_info(current, b).tag


def block_context(s: Session, block: Block) -> dict[str, Any]:
    """Where the block stands: brief, settings, and the article text around it (current versions)."""
    blocks = _ordered_blocks(s, block.article_id)
    before = "".join(_current_tag(b) for b in blocks if b.position < block.position)
    after = "".join(_current_tag(b) for b in blocks if b.position > block.position)
    article = s.get(Article, block.article_id)
    if article is None:  # the block's article row is gone: the foreign key forbids it
        raise StorageError(f"block {block.key} has no article {block.article_id}")
    return {
        **_article_base(article),
        "block_id": block.key,
        "block_kind": block.kind,
        "position": block.position,
        "image_index": block.image_index,
        "text_before": before[-CONTEXT_BEFORE_CHARS:],
        "text_after": after[:CONTEXT_AFTER_CHARS],
    }


def article_context(s: Session, article: Article) -> dict[str, Any]:
    """The whole article as it stands (for ratings): its text and its current images."""
    blocks = _ordered_blocks(s, article.id)
    images = []
    for b in blocks:
        if b.kind == "image":
            v = next(v for v in b.versions if v.number == b.current_version)
            images.append({"block_id": b.key, "status": v.status, "asset_sha256": v.asset_sha256, "mime": v.mime})
    return {**_article_base(article), "llmi_text": "".join(_current_tag(b) for b in blocks), "images": images}


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
    event = PreferenceEvent(
        kind=kind,
        project_id=article.project_id if article else None,
        article_id=article.id if article else None,
        block_key=block.key if block else None,
        chosen_version_id=chosen.id if chosen else None,
        rejected_version_id=rejected.id if rejected else None,
        context=context,
    )
    s.add(event)
    s.flush()
    return event


def list_preference_events(store: Store, since_id: int = 0, kind: str | None = None) -> list[PreferenceEventInfo]:
    """Events with id > ``since_id`` in log order (optionally of one kind)."""
    with store.read() as s:
        query = select(PreferenceEvent).where(PreferenceEvent.id > since_id).order_by(PreferenceEvent.id)
        if kind is not None:
            query = query.where(PreferenceEvent.kind == kind)
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
            )
            for e in s.scalars(query)
        ]


# --- export ------------------------------------------------------------------------------------


class _Bundler:
    """Copies assets beside the JSONL once each and hands out their relative paths."""

    def __init__(self, store: Store, out_dir: Path) -> None:
        self.store, self.dir = store, out_dir / "images"
        self.dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, sha256: str | None, mime: str | None) -> str | None:
        if not sha256 or not self.store.assets.exists(sha256):
            return None  # no image (failed call) or the file is gone: the row says so with null
        name = sha256 + _EXT.get(mime or "", ".bin")
        target = self.dir / name
        if not target.exists():
            shutil.copyfile(self.store.assets.path(sha256), target)
        return f"images/{name}"


def _pair_rows(events: list[PreferenceEventInfo], bundle: _Bundler) -> list[dict[str, Any]]:
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in events:
        c = e.context
        chosen, rejected = c.get("chosen"), c.get("rejected")
        manual = e.kind == "rewrite" and bool(c.get("manual"))  # the user's own edit beats the text it replaced
        if (e.kind not in ("accept", "revert") and not manual) or not chosen or not rejected:
            continue
        before = c.get("text_before") or ""
        row = {
            "prompt": f"{c['brief']}\n\n{before}" if before else c["brief"],
            "chosen": chosen["tag"],
            "rejected": rejected["tag"],
            "chosen_image": bundle(chosen.get("asset_sha256"), chosen.get("mime")),
            "rejected_image": bundle(rejected.get("asset_sha256"), rejected.get("mime")),
            "prompt_images": [p for i in c.get("input_images", []) if (p := bundle(i["sha256"], i["mime"]))],
            "meta": {
                "event_id": e.id,
                "event": "edit" if manual else e.kind,
                "created_at": e.created_at.isoformat(),
                "project_id": e.project_id,
                "article_id": e.article_id,
                "block_id": e.block_key,
                "block_kind": c.get("block_kind"),
                "chosen_version": chosen["number"],
                "rejected_version": rejected["number"],
                "chosen_status": chosen.get("status"),
                "rejected_status": rejected.get("status"),
                "text_after": c.get("text_after", ""),
            },
        }
        pair = frozenset((chosen["id"], rejected["id"]))
        key = (e.article_id, e.block_key, pair)
        latest.pop(key, None)  # re-insert so rows keep the order of their latest judgement
        latest[key] = row
    return list(latest.values())


def _rating_rows(events: list[PreferenceEventInfo], bundle: _Bundler) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        c = e.context
        thumbs, stars = c.get("thumbs"), c.get("stars")
        rows.append(
            {
                "prompt": c["brief"],
                "completion": c.get("llmi_text", ""),
                "label": thumbs == 1 if thumbs is not None else (stars or 0) >= 4,
                "thumbs": thumbs,
                "stars": stars,
                "comment": c.get("comment", ""),
                "completion_images": [bundle(i["asset_sha256"], i["mime"]) for i in c.get("images", [])],
                "prompt_images": [p for i in c.get("input_images", []) if (p := bundle(i["sha256"], i["mime"]))],
                "meta": {
                    "event_id": e.id,
                    "created_at": e.created_at.isoformat(),
                    "project_id": e.project_id,
                    "article_id": e.article_id,
                },
            }
        )
    return rows


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".jsonl", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)  # a reader never sees half a file


def export_preferences(store: Store, out_dir: Path, *, article_id: int | None = None) -> Path:
    """Write ``preferences.jsonl``, ``ratings.jsonl`` and ``images/`` into ``out_dir`` (format above).

    ``article_id``: only that article's events (default: the whole log). Returns the path of
    ``preferences.jsonl``; ``ratings.jsonl`` lies beside it.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        events = [e for e in list_preference_events(store) if article_id is None or e.article_id == article_id]
        bundle = _Bundler(store, out_dir)
        prefs_path = out_dir / "preferences.jsonl"
        _write_jsonl(prefs_path, _pair_rows(events, bundle))
        _write_jsonl(out_dir / "ratings.jsonl", _rating_rows([e for e in events if e.kind == "rating"], bundle))
    except OSError as exc:
        raise StorageError(f"cannot write the preference export to {out_dir}: {exc}") from exc
    return prefs_path
