"""Block versions: regenerate / rewrite add a version, accept / revert choose one. Each choice
appends a preference event (``storage.prefs``) in the same transaction as the change itself.
``storage.repo`` re-exports these, so callers keep one facade. ``owner`` works as in ``storage.repo``:
given, the block's article must be that user's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.errors import NotFound, Refused
from models.vocab import NO_IMAGE, BlockStatus
from storage.db import Store
from storage.history import record_step
from storage.naming import capitalised, name_of
from storage.prefs import block_context, log_event, version_snapshot
from storage.rows import (
    article_owner,
    block_row,
    check_article_owner,
    check_status,
    claim_asset,
    get_row,
    touch_project,
    version_row,
)
from storage.schema import AssetOwner, Block, BlockVersion
from storage.typing_bursts import continue_burst, open_burst, typing_key
from storage.views import BlockInfo, VersionInfo, block_info, version_info

# Attempts that have no image: kept beside the current version as its candidate, never shown in
# its place (a failed regeneration must not hide a good chart).
NOT_SHOWN = NO_IMAGE
# the history's words for a new image version, by its origin ("{}": the block, storage.naming)
_IMAGE_LABELS = {"upload": "your image in {}", "caption": "caption of {}", "regenerate": "new image for {}"}

# --- block versions ----------------------------------------------------------------------------


def list_versions(store: Store, article_id: int, block_key: str, owner: str | None = None) -> list[VersionInfo]:
    with store.read() as s:
        block = block_row(s, article_id, block_key, owner)
        return [version_info(v, block) for v in block.versions]


def article_versions(store: Store, article_id: int, owner: str | None = None) -> dict[str, list[VersionInfo]]:
    """Every version of every block of an article (for the history shown on each card), by key."""
    with store.read() as s:
        check_article_owner(s, article_id, owner)
        rows = s.scalars(select(Block).where(Block.article_id == article_id).options(selectinload(Block.versions)))
        return {b.key: [version_info(v, b) for v in b.versions] for b in rows}


def add_text_version(
    store: Store,
    article_id: int,
    block_key: str,
    text: str,
    *,
    instruction: str | None = None,
    candidate: bool = False,
    manual: bool = False,
    owner: str | None = None,
    typing_merge_s: float = 0.0,
) -> VersionInfo:
    """A new text for a text block; logs a 'rewrite' event.

    ``candidate``: a model's rewrite, shown beside the current text (as a diff) until it is
    accepted (``accept_version``) or discarded (``discard_candidate``). ``manual``: the user's
    own edit, which becomes current at once and is logged as chosen over the text it replaced.
    ``typing_merge_s`` (> 0, with ``manual``): an autosave of the in-place editor, which joins the
    block's typing burst when that burst is the article's newest step and younger than this many
    seconds (``storage.typing_bursts``: one version, one history step, one exported pair).
    """
    kind, words = ("edit_text", "text edit of {}") if manual else ("rewrite", "rewrite of {}")
    with store.write() as s, record_step(s, article_id, kind, words.format("a block")) as step:
        block = block_row(s, article_id, block_key, owner)
        step.label = words.format(name_of(block))
        if block.kind != "text":
            raise Refused(f"{capitalised(name_of(block))} is an image block: regenerate it or edit its caption")
        typing = manual and not candidate and typing_merge_s > 0
        if typing and (burst := open_burst(s, article_id, block, owner, typing_merge_s)) is not None:
            step.merge_key = burst.merge_key  # record_step joins this save (its event) to the burst's step
            return version_info(continue_burst(s, block, burst, text), block)
        origin = "edit" if manual else "rewrite"
        version = _append_version(
            s, block, origin=origin, make_current=not candidate, chosen=manual, instruction=instruction, text=text
        )
        if typing:  # a new burst: the next autosave of this block may join it
            step.merge_key = typing_key(block_key, version.number, owner)
        return version_info(version, block)


def add_image_version(
    store: Store,
    article_id: int,
    block_key: str,
    *,
    source: str,
    description: str,
    params: Mapping[str, Any],
    status: str = BlockStatus.QUEUED,
    error: str | None = None,
    image: bytes | None = None,
    mime: str = "image/png",
    provenance: Mapping[str, Any] | None = None,
    seconds: float | None = None,
    instruction: str | None = None,
    origin: str = "regenerate",
    asset_sha256: str | None = None,
    current: bool | None = None,
    keep_accepted: bool = False,
    owner: str | None = None,
    merge_key: str | None = None,
) -> VersionInfo:
    """A regeneration of an image block (same call with a new seed, edited params, another tool),
    or the user's own image (``origin='upload'``) or caption (``origin='caption'``, reusing the
    current image by ``asset_sha256``).

    A version that came out ok (or is still on its way) becomes current. One that failed, is
    invalid or is a placeholder (its tool is off) never replaces the current image: it is kept as
    the block's candidate, shown beside it (``finish_image_version`` moves a queued version there
    when it fails). Logs a
    'regenerate' event. ``current``: force it to become current or not (a new caption on any image).
    ``keep_accepted``: the new version only relabels the accepted image (a caption or alt text), so
    it stays accepted. ``merge_key``: versions of one action (Regenerate's K candidates) are one
    step of the article's history (``storage.history``).
    """
    check_status(status)
    with store.read() as s:  # check before the file is written: another user's id writes nothing
        check_article_owner(s, article_id, owner)
        if not image and asset_sha256 and not _owns_asset(s, asset_sha256, article_owner(s, article_id)):
            raise NotFound(f"asset {asset_sha256} not found")  # only an image already in this user's articles
    sha = store.assets.put(image) if image else asset_sha256  # file first: a row never points at nothing
    words = _IMAGE_LABELS.get(origin, "new image version of {}")
    with store.write() as s, record_step(s, article_id, origin, words.format("a picture"), merge_key) as step:
        block = block_row(s, article_id, block_key, owner)
        step.label = words.format(name_of(block))
        if block.kind != "image":
            raise Refused(f"{capitalised(name_of(block))} is a text block: rewrite or edit it instead")
        if sha:
            claim_asset(s, sha, article_owner(s, article_id))
        was_accepted = block.accepted_version is not None and block.accepted_version == block.current_version
        version = _append_version(
            s,
            block,
            origin=origin,
            make_current=current if current is not None else status not in NOT_SHOWN,
            instruction=instruction,
            source=source,
            description=description,
            params=dict(params),
            status=status,
            error=error,
            provenance=dict(provenance or {}),
            asset_sha256=sha,
            mime=mime if sha else None,
            seconds=seconds,
        )
        if keep_accepted and was_accepted and block.current_version == version.number:
            block.accepted_version = version.number
            s.flush()
        return version_info(version, block)


def finish_image_version(
    store: Store,
    version_id: int,
    *,
    status: str,
    error: str | None = None,
    image: bytes | None = None,
    mime: str = "image/png",
    provenance: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    seconds: float | None = None,
    owner: str | None = None,
) -> VersionInfo:
    """Record a tool's progress or result on a version ('running', then 'ok' / 'failed')."""
    check_status(status)
    with store.read() as s:
        check_article_owner(s, get_row(s, BlockVersion, version_id).block.article_id, owner)
    sha = store.assets.put(image) if image else None
    with store.write() as s:
        version = get_row(s, BlockVersion, version_id)
        version.status = status
        if sha:
            claim_asset(s, sha, article_owner(s, version.block.article_id))
        version.error = error
        if sha:
            version.asset_sha256, version.mime = sha, mime
        if provenance is not None:
            version.provenance = dict(provenance)
        if params:
            version.params = dict(params)
        if seconds is not None:
            version.seconds = seconds
        block = version.block
        if status in NOT_SHOWN and block.current_version == version.number and version.parent_number is not None:
            block.current_version, block.candidate_version = version.parent_number, version.number
        return version_info(version, block)


def accept_version(
    store: Store,
    article_id: int,
    block_key: str,
    number: int | None = None,
    *,
    rejected: int | None = None,
    owner: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> BlockInfo:
    """Accept a version (default: the current one); it becomes current and accepted.

    Logs an 'accept' event: chosen = that version, rejected = ``rejected`` if given, else the
    version that was current before (when different), else the one it was regenerated from,
    else the newest other version (None for a block with one version). ``extra``: more context
    for the event (an article-wide revision: its instruction and decision).
    """
    with store.write() as s, record_step(s, article_id, "accept", "accept a version") as step:
        block = block_row(s, article_id, block_key, owner)
        chosen = version_row(block, number or block.current_version)
        step.label = f"accept version {chosen.number} of {name_of(block)}"
        _check_usable(block, chosen, "accepted")
        if rejected is None:
            rejected = _default_rejected(block, chosen)
        loser = version_row(block, rejected) if rejected is not None and rejected != chosen.number else None
        _log_choice(s, "accept", block, chosen, loser, extra)
        block.current_version = block.accepted_version = chosen.number
        block.candidate_version = None
        touch_project(s, block)
        s.flush()
        return block_info(block)


def revert_version(store: Store, article_id: int, block_key: str, number: int, owner: str | None = None) -> BlockInfo:
    """Go back to an earlier version: it becomes current (an acceptance of another version is
    cleared). Logs a 'revert' event: chosen = that version, rejected = the one that was current."""
    with store.write() as s, record_step(s, article_id, "revert", f"back to version {number}") as step:
        block = block_row(s, article_id, block_key, owner)
        step.label = f"back to version {number} of {name_of(block)}"
        chosen = version_row(block, number)
        _check_usable(block, chosen, "made current")
        if chosen.number != block.current_version:
            _log_choice(s, "revert", block, chosen, version_row(block, block.current_version))
            block.current_version = chosen.number
            block.candidate_version = None
            if block.accepted_version not in (None, chosen.number):
                block.accepted_version = None
            touch_project(s, block)
            s.flush()
        return block_info(block)


def discard_candidate(
    store: Store, article_id: int, block_key: str, owner: str | None = None, extra: Mapping[str, Any] | None = None
) -> BlockInfo:
    """Keep the current version over the block's candidate; logs a 'revert' event (chosen = the
    current version, rejected = the candidate)."""
    with store.write() as s, record_step(s, article_id, "discard", "discard a candidate") as step:
        block = block_row(s, article_id, block_key, owner)
        step.label = f"discard the candidate of {name_of(block)}"
        if block.candidate_version is None:
            raise Refused(f"{capitalised(name_of(block))} has nothing waiting to be accepted or discarded")
        _log_choice(
            s,
            "revert",
            block,
            version_row(block, block.current_version),
            version_row(block, block.candidate_version),
            extra,
        )
        block.candidate_version = None
        touch_project(s, block)
        s.flush()
        return block_info(block)


def _owns_asset(s: Session, sha256: str, owner: str) -> bool:
    return s.scalar(select(AssetOwner.sha256).where(AssetOwner.sha256 == sha256, AssetOwner.owner == owner)) is not None


def _check_usable(block: Block, version: BlockVersion, verb: str) -> None:
    """Only an image version that came out ok may be accepted or become current."""
    if block.kind == "image" and version.status != BlockStatus.OK:
        why = f": {version.error}" if version.error else ""
        raise Refused(
            f"version {version.number} of {name_of(block)} has no image ({version.status}{why}); "
            f"only a version that came out ok can be {verb}"
        )


def _default_rejected(block: Block, chosen: BlockVersion) -> int | None:
    if block.current_version != chosen.number:
        return block.current_version
    if chosen.parent_number is not None:
        return chosen.parent_number
    others = [v.number for v in block.versions if v.number != chosen.number]
    return max(others) if others else None


def _append_version(
    s: Session, block: Block, *, origin: str, make_current: bool = True, chosen: bool = False, **values: Any
) -> BlockVersion:
    previous = version_row(block, block.current_version)
    number = max(v.number for v in block.versions) + 1
    version = BlockVersion(number=number, parent_number=previous.number, origin=origin, **values)
    block.versions.append(version)
    if make_current:
        block.current_version = number
        block.candidate_version = None
    else:
        block.candidate_version = number
    s.flush()
    log_event(
        s,
        "rewrite" if block.kind == "text" else "regenerate",
        block=block,
        chosen=version if chosen else None,
        rejected=previous,
        context={
            **block_context(s, block),
            "from": version_snapshot(previous),
            "to": version_snapshot(version),
            # a manual edit is decided (the user wrote it); otherwise the accept / revert /
            # discard that follows says which was kept
            "kept": number if chosen else None,
            "manual": chosen,
            **({"chosen": version_snapshot(version), "rejected": version_snapshot(previous)} if chosen else {}),
        },
    )
    touch_project(s, block)
    return version


def _log_choice(
    s: Session,
    kind: str,
    block: Block,
    chosen: BlockVersion,
    rejected: BlockVersion | None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    context = {
        **(extra or {}),
        **block_context(s, block),
        "chosen": version_snapshot(chosen),
        "rejected": version_snapshot(rejected) if rejected is not None else None,
        "kept": chosen.number,
    }
    log_event(s, kind, block=block, chosen=chosen, rejected=rejected, context=context)
