"""Rebuild an Article from the directory the CLI writes (DIR/article.json + DIR/images/).

The directory may come from anywhere (a download, a colleague), so it is read as untrusted:
image paths must be relative and stay inside DIR after resolving symlinks, block ids must be
plain tokens (they become file names in the Markdown bundle), image files are size-capped and
checked against their recorded sha256. A broken directory raises StorageError with what is
wrong and where; it never reads a file outside DIR.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from models.vocab import BlockStatus
from studio.core.article import Article, ImageBlock, TextBlock, stored_removals
from studio.core.errors import StorageError
from studio.export.sources import safe_block_id

MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_JSON_BYTES = 64 * 1024 * 1024
_NUMERIC_ID_RE = re.compile(r"^b(\d+)$")


def _fail(where: Path, why: str) -> StorageError:
    return StorageError(f"cannot load the article in {where}: {why}")


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _read_image(root: Path, rel: Any, expected_sha: Any, block_id: str) -> bytes:
    if not isinstance(rel, str) or not rel:
        raise _fail(root, f"block {block_id}: image path must be a string")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or "\\" in rel or ":" in rel:
        raise _fail(root, f"block {block_id}: image path {rel!r} must be relative and stay inside the directory")
    path = (root / pure).resolve()
    if not path.is_relative_to(root):
        raise _fail(root, f"block {block_id}: image path {rel!r} leads outside the directory")
    if not path.is_file():
        raise _fail(root, f"block {block_id}: image file {rel!r} is missing")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise _fail(root, f"block {block_id}: image file {rel!r} is larger than {MAX_IMAGE_BYTES} bytes")
    data = path.read_bytes()
    if isinstance(expected_sha, str) and expected_sha and hashlib.sha256(data).hexdigest() != expected_sha.lower():
        raise _fail(root, f"block {block_id}: image file {rel!r} does not match its recorded sha256")
    return data


def _image_block(root: Path, raw: dict[str, Any], block_id: str) -> ImageBlock:
    status = raw.get("status")
    if status not in tuple(BlockStatus):
        raise _fail(root, f"block {block_id}: unknown status {status!r}")
    params = raw.get("params")
    provenance = raw.get("provenance")
    index = raw.get("image_index")
    seconds = raw.get("seconds")
    block = ImageBlock(
        id=block_id,
        image_index=index if isinstance(index, int) and not isinstance(index, bool) else 0,
        source=raw.get("source") if isinstance(raw.get("source"), str) else None,
        description=_str(raw.get("description")),
        params=params if isinstance(params, dict) else {},
        raw=_str(raw.get("raw")),
        status=BlockStatus(status),
        error=raw.get("error") if isinstance(raw.get("error"), str) else None,
        provenance=provenance if isinstance(provenance, dict) else {},
        seconds=float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else 0.0,
    )
    if raw.get("image") is not None:
        block.image = _read_image(root, raw["image"], raw.get("image_sha256"), block_id)
        block.mime = _str(raw.get("mime"), "image/png")
    return block


def load_article_dir(path: str | Path) -> Article:
    """The Article saved in ``path`` (a directory holding article.json and images/)."""
    root = Path(path).resolve()
    manifest = root / "article.json"
    if not manifest.is_file():
        raise _fail(root, "no article.json (give the directory the `write` command created)")
    if manifest.stat().st_size > MAX_JSON_BYTES:
        raise _fail(root, "article.json is too large")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(root, f"article.json is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("blocks"), list):
        raise _fail(root, "article.json must be an object with a 'blocks' list")

    error = data.get("error")
    article = Article(brief=_str(data.get("brief")), error=error if isinstance(error, str) else None)
    article.cut_off = data.get("cut_off") is True
    article.removed = stored_removals(data.get("removed"))
    seen: set[str] = set()
    for number, raw in enumerate(data["blocks"]):
        if not isinstance(raw, dict):
            raise _fail(root, f"block #{number} is not an object")
        try:
            block_id = safe_block_id(_str(raw.get("id")))
        except ValueError as exc:
            raise _fail(root, f"block #{number}: {exc}") from exc
        if block_id in seen:
            raise _fail(root, f"block id {block_id} appears twice")
        seen.add(block_id)
        kind = raw.get("kind")
        if kind == "text":
            article.blocks.append(TextBlock(block_id, _str(raw.get("text"))))
        elif kind == "image":
            article.blocks.append(_image_block(root, raw, block_id))
        else:
            raise _fail(root, f"block {block_id}: unknown kind {kind!r}")
    # Later edits (regenerate, append) must not reuse an id that is already taken.
    numbers = [int(m.group(1)) for b in article.blocks if (m := _NUMERIC_ID_RE.match(b.id))]
    article._next_id = max(numbers, default=0)
    return article
