"""Persist an article while the engine writes it: plain methods the studio's event adapter calls.

storage/ may not import studio/, so this knows no event classes; the studio maps each event
onto one method (``TextDelta -> text_delta``, ``ToolCallQueued -> image_queued``,
``ToolCallInvalid -> image_invalid``, ``ToolCallStarted -> image_started``,
``ToolCallFinished / ToolCallFailed -> image_finished``, ``ArticleDone -> done``).

Durability: every image event is committed at once. Text deltas are appended in memory and
committed (as one ``text = text || pending`` update of the text block's current version) when
``flush_interval_s`` has passed since the last commit, or ``flush_every`` deltas are pending,
or any other event arrives, or on ``flush()`` / ``done()``. So a crash or ``kill -9`` loses at
most the text of the last interval; everything committed before it reopens intact (SQLite WAL).
A stream that stalls mid-paragraph keeps its pending text in memory until the next event; the
studio's adapter may call ``flush()`` on a timer if that matters.

One recorder per article; its methods may be called from several threads (one lock).

Ownership: the article belongs to its project's owner; with ``owner`` given the project must be
that user's (else ``NotFound``, and nothing is written). Every asset it stores is claimed for
the project's owner (``asset_owners``). The article row names its ``writer`` (this process, see
``storage.processes``), so other app processes can tell when it died mid-article.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import update

from models.errors import NotFound
from models.text import valid_strings, valid_text
from models.vocab import OUTCOMES, ArticleStatus, BlockStatus, finished_article_status, note_written_params
from storage.db import Store
from storage.processes import process_token
from storage.rows import claim_asset, project_row
from storage.schema import Article, Block, BlockVersion, Project, utcnow

ImageInput = bytes | tuple[bytes, str]  # raw bytes (PNG assumed) or (bytes, mime)


class ArticleRecorder:
    def __init__(
        self,
        store: Store,
        project_id: int,
        *,
        brief: str,
        input_images: Sequence[ImageInput] = (),
        settings: Mapping[str, Any] | None = None,
        flush_interval_s: float = 0.25,
        flush_every: int = 32,
        clock: Callable[[], float] = time.monotonic,
        resume: int | None = None,
        owner: str | None = None,
    ) -> None:
        """Create the article row (status 'running') at once, with its input images as assets.

        ``resume``: an existing article's id instead: it is marked 'running' again and new blocks
        are appended after its last one (a cut-off article being continued); ``brief``,
        ``input_images`` and ``settings`` are then ignored."""
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.flush_every = flush_every
        self._clock = clock
        self._lock = threading.Lock()
        self._blocks: dict[str, tuple[int, int]] = {}  # engine block id -> (block row id, version row id)
        self._queued_params: dict[str, dict[str, Any]] = {}  # the call as the writer made it, per block
        self._pending: dict[str, list[str]] = {}  # text waiting for the next commit, per block
        self._pending_count = 0
        self._last_commit = clock()
        self._position = 0
        if resume is not None:
            with store.write() as s:
                article = s.get(Article, resume)
                if article is None or (owner is not None and article.project.owner != owner):
                    raise NotFound(f"article {resume} not found")
                if article.project_id != project_id:
                    raise NotFound(f"article {resume} not found in project {project_id}")
                self.owner: str = article.project.owner
                positions = [b.position for b in article.blocks]
                self._position = max(positions, default=-1) + 1
                live = [b for b in article.blocks if b.deleted_at is None]
                last = max(live, key=lambda b: b.position, default=None)
                if last is not None and last.kind == "text":  # a continuation may go on in its paragraph
                    current = next(v for v in last.versions if v.number == last.current_version)
                    self._blocks[last.key] = (last.id, current.id)
                article.status, article.error, article.finished_at = ArticleStatus.RUNNING, None, None
                article.writer = process_token()
                self.article_id: int = article.id
            return
        with store.read() as s:  # another user's project id: refused before any file is written
            self.owner = project_row(s, project_id, owner).owner
        refs = []
        for item in input_images:
            data, mime = item if isinstance(item, tuple) else (item, "image/png")
            refs.append({"sha256": store.assets.put(data), "mime": mime})
        with store.write() as s:
            project_row(s, project_id, owner)  # still there
            article = Article(
                project_id=project_id,
                brief=brief,
                input_images=refs,
                settings=dict(settings or {}),
                writer=process_token(),
            )
            s.add(article)
            for ref in refs:
                claim_asset(s, ref["sha256"], self.owner)
            s.execute(update(Project).where(Project.id == project_id).values(updated_at=utcnow()))
            s.flush()
            self.article_id = article.id

    # --- text ------------------------------------------------------------------------------------

    def text_delta(self, block_id: str, text: str) -> None:
        text = valid_text(text)  # a lone surrogate would fail the commit (and every later one)
        with self._lock:
            if block_id not in self._blocks:
                self._flush_locked()
                self._new_block(block_id, "text", None, BlockVersion(number=1, text=text))
                return
            self._pending.setdefault(block_id, []).append(text)
            self._pending_count += 1
            if self._pending_count >= self.flush_every or self._clock() - self._last_commit >= self.flush_interval_s:
                self._flush_locked()

    def flush(self) -> None:
        """Commit pending text now."""
        with self._lock:
            self._flush_locked()

    # --- image calls -------------------------------------------------------------------------------

    def image_queued(
        self,
        block_id: str,
        image_index: int,
        source: str,
        description: str,
        params: Mapping[str, Any],
        raw: str | None = None,
    ) -> None:
        description, params, raw = valid_strings((description, dict(params), raw))
        version = BlockVersion(
            number=1, source=source, description=description, params=dict(params), raw=raw, status=BlockStatus.QUEUED
        )
        with self._lock:
            self._flush_locked()
            self._new_block(block_id, "image", image_index, version)
            self._queued_params[block_id] = dict(params)

    def image_invalid(
        self,
        block_id: str,
        image_index: int,
        raw: str,
        reason: str,
        source: str | None = None,
        description: str = "",
    ) -> None:
        raw, reason, description = valid_strings((raw, reason, description))
        version = BlockVersion(
            number=1,
            source=source,
            description=description,
            params={},
            raw=raw,
            status=BlockStatus.INVALID,
            error=reason,
        )
        with self._lock:
            self._flush_locked()
            self._new_block(block_id, "image", image_index, version)

    def image_started(self, block_id: str, source: str | None = None) -> None:
        self._update_version(block_id, status=BlockStatus.RUNNING)

    def image_finished(
        self,
        block_id: str,
        status: str,
        error: str | None = None,
        image_bytes: bytes | None = None,
        mime: str = "image/png",
        provenance: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        seconds: float = 0.0,
    ) -> None:
        """The tool finished: status 'ok' (with the image), 'failed' (with the reason) or
        'placeholder' (not run: the reason says why and how to fill it).

        ``params``: the params that ran, where a tool filled the call in; the queued ones are
        then kept as ``provenance["written_params"]``."""
        if status not in OUTCOMES:
            raise ValueError(f"a finished call is one of {[str(s) for s in OUTCOMES]}, got {status!r}")
        values: dict[str, Any] = {"status": status, "error": error, "seconds": seconds}
        if image_bytes:
            # The file is written (and renamed into place) before the row that names it commits.
            values.update(asset_sha256=self.store.assets.put(image_bytes), mime=mime)
        # the params keep what ran; provenance keeps what the writer wrote, where they differ
        provenance = note_written_params(provenance, self._queued_params.get(block_id), params)
        if provenance is not None:
            values["provenance"] = dict(provenance)
        if params:
            values["params"] = dict(params)  # final params, e.g. chart code filled in
        self._update_version(block_id, **values)

    # --- end -----------------------------------------------------------------------------------------

    def done(
        self,
        error: str | None = None,
        seconds: float | None = None,
        *,
        cut_off: bool = False,
        stopped: bool = False,
        removed: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """The stream ended; ``error`` where the model stream broke (the blocks stay); ``cut_off``
        where the model stopped at its token limit (kept as ``settings["cut_off"]``, beside the
        settings that shaped the article, so the status values stay as they are); ``stopped``
        where the user stopped it (status 'interrupted', what was written is kept); ``removed``: what
        the stream guards kept out of the text (``settings["removed"]``, kind/text/reason each)."""
        with self._lock:
            self._flush_locked()
            with self.store.write() as s:
                article = s.get(Article, self.article_id)
                values: dict[str, Any] = {
                    "status": finished_article_status(error=error, stopped=stopped),
                    "error": error,
                    "seconds": seconds,
                    "finished_at": utcnow(),
                }
                if article is not None:
                    values["settings"] = {**(article.settings or {}), "cut_off": cut_off}
                    if removed:
                        values["settings"]["removed"] = [dict(r) for r in removed]
                s.execute(update(Article).where(Article.id == self.article_id).values(**values))
                if article is not None:
                    s.execute(update(Project).where(Project.id == article.project_id).values(updated_at=utcnow()))

    # --- internals -------------------------------------------------------------------------------

    def _new_block(self, block_id: str, kind: str, image_index: int | None, version: BlockVersion) -> None:
        if block_id in self._blocks:
            raise ValueError(f"block {block_id!r} was already recorded")
        with self.store.write() as s:
            block = Block(
                article_id=self.article_id,
                key=block_id,
                position=self._position,
                kind=kind,
                image_index=image_index,
                current_version=1,
                versions=[version],
            )
            s.add(block)
            s.flush()
            self._blocks[block_id] = (block.id, version.id)
        self._position += 1
        self._last_commit = self._clock()

    def _update_version(self, block_id: str, **values: Any) -> None:
        values = valid_strings(values)
        with self._lock:
            self._flush_locked()
            _, version_id = self._blocks[block_id]
            with self.store.write() as s:
                s.execute(update(BlockVersion).where(BlockVersion.id == version_id).values(**values))
                if values.get("asset_sha256"):
                    claim_asset(s, values["asset_sha256"], self.owner)
            self._last_commit = self._clock()

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        with self.store.write() as s:
            for block_id, parts in self._pending.items():
                _, version_id = self._blocks[block_id]
                s.execute(
                    update(BlockVersion)
                    .where(BlockVersion.id == version_id)
                    .values(text=BlockVersion.text + "".join(parts))
                )
        self._pending.clear()
        self._pending_count = 0
        self._last_commit = self._clock()
