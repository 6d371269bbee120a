"""Typing bursts: the in-place editor's autosaves of one block, merged into one edit.

The editor saves a block 0.8 s after each pause in typing. Kept one by one, a paragraph typed
with a few pauses would be many versions, many Undo steps (Ctrl+Z taking back three words at a
time) and many near-identical "edit" preference pairs. So an autosave *continues the burst*
when the article's newest history step (done, none undone after it) is this block's own
autosave step by the same user, less than ``window_s`` seconds old (counted from the burst's
first save, so one Undo never takes back more than that much typing):

- the burst keeps ONE version: the autosave's text is written into the version the burst
  made, so the card's "version N" does not grow by one per pause. It is the block's current
  version and nothing else names it yet: any other step (an accept, a rewrite, a suggestion,
  another block's edit, an explicit Markdown edit) ends the burst first, and a suggestion on
  the block checks the text it was made on (``storage.suggestions``);
- the history step is the same one (its ``merge_key`` names the block, the burst's version and
  the user): Undo goes back to the text before the burst (``storage.history.record_step`` joins
  the save's preference event to that step, so undoing the burst takes all of them back);
- the preference log stays append-only (a trigger refuses UPDATE): each save appends an edit
  event with the same two versions, rejected = the text before the burst, chosen = the text
  now, and the export keeps the latest judgement of a pair of versions
  (``storage.pref_rows.preference_rows``): one row per burst. When the text is back to what it
  was before the burst the event is marked ``void`` and the burst makes no row at all.

Explicit edits (the Markdown "Edit" form) never merge, and ``window_s == 0`` turns merging off.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.prefs import block_context, log_event, version_snapshot
from storage.rows import touch_project, version_row
from storage.schema import Block, BlockVersion, HistoryStep, utcnow


def typing_key(block_key: str, version_number: int, owner: str | None) -> str:
    """The history ``merge_key`` of a burst: its block, its version and who typed it (hashed:
    the column is short and an account name may be long)."""
    who = hashlib.sha256((owner or "").encode()).hexdigest()[:12]
    return f"typing {block_key} v{version_number} {who}"[:64]


def open_burst(s: Session, article_id: int, block: Block, owner: str | None, window_s: float) -> HistoryStep | None:
    """The history step this autosave continues, or None (a new burst). Call inside
    ``record_step`` (the article row is locked, so two tabs cannot both continue it)."""
    if window_s <= 0:
        return None
    newest = s.scalars(
        select(HistoryStep).where(HistoryStep.article_id == article_id).order_by(HistoryStep.seq.desc()).limit(1)
    ).one_or_none()
    if newest is None or newest.undone:  # an undone step after it: the user went back, a new burst
        return None
    if newest.merge_key != typing_key(block.key, block.current_version, owner):
        return None
    created = newest.created_at if newest.created_at.tzinfo else newest.created_at.replace(tzinfo=UTC)
    if utcnow() - created >= timedelta(seconds=window_s):
        return None
    before = (newest.before or {}).get(block.key)
    if not before or before.get("current") in (None, block.current_version):
        return None
    return newest


def continue_burst(s: Session, block: Block, burst: HistoryStep, text: str) -> BlockVersion:
    """Write ``text`` into the burst's version and log the burst's pair again (see the module)."""
    version = version_row(block, block.current_version)
    base = version_row(block, int(burst.before[block.key]["current"]))
    replaced = version.text
    version.text = text
    version.created_at = utcnow()  # when this text was saved (the card's time)
    s.flush()
    void = text.strip() == (base.text or "").strip()
    log_event(
        s,
        "rewrite",
        block=block,
        chosen=version,
        rejected=base,
        context={
            **block_context(s, block),
            "from": version_snapshot(base),
            "to": version_snapshot(version),
            "kept": version.number,
            "manual": True,
            "chosen": version_snapshot(version),
            "rejected": version_snapshot(base),
            # the burst's earlier saves: this event supersedes them (same two versions)
            "burst": {"step": burst.seq, "replaced_text": replaced},
            # back to the text before the burst: no preference at all
            "void": void,
        },
    )
    touch_project(s, block)
    return version
