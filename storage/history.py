"""One undo history per article, in the store: every change to the article's blocks is a step.

The repository functions that change an article (``storage.versions``: text and image versions,
captions, uploads, rewrites, accept, revert, discard; ``storage.edits``: insert, delete, restore,
move) run inside ``record_step``, in the same transaction as the change. A step keeps, for each
block it changed, the block's pointers before and after (current / accepted / candidate
version, deleted, position). Versions are append-only (the one exception: the version of a typing
burst, ``storage.typing_bursts``, takes each autosave's text), so nothing else needs keeping: ``undo``
writes the ``before`` pointers back and ``redo`` the ``after`` ones, and the versions in between
stay in the block's history.

- The usual model: undone steps are the redo list; a new step drops them.
- Preference events stay truthful: a step remembers the events it logged (``log_event`` notes
  them in ``Session.info``); undoing it logs an ``undo`` event that names them
  (``context["undoes"]``), redoing logs a ``redo`` (``["redoes"]``); nothing is deleted.
  ``storage.pref_rows.undone_event_ids`` tells the export which pairs are taken back.
- Concurrency: every step, undo and redo first locks the article row (``FOR UPDATE`` on
  PostgreSQL; SQLite's write transactions are ``BEGIN IMMEDIATE`` and one at a time anyway), so
  two tabs on one article take turns and ``seq`` numbers never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models.errors import NotFound, Refused
from storage.db import Store
from storage.prefs import HISTORY_EVENTS, log_event
from storage.rows import check_article_owner
from storage.schema import Article, Block, HistoryStep, PreferenceEvent, utcnow

MAX_STEPS = 500  # per article: older steps are dropped (their versions and events stay)

BlockState = dict[str, Any]


@dataclass(frozen=True)
class StepInfo:
    seq: int
    kind: str
    label: str
    undone: bool
    created_at: datetime
    blocks: tuple[str, ...]  # the keys of the blocks it changed


@dataclass(frozen=True)
class HistoryInfo:
    """Where the article's history stands: the step Undo takes back and the one Redo does again."""

    undo: StepInfo | None
    redo: StepInfo | None
    steps: int  # how many steps are kept (done and undone)


@dataclass
class Step:
    """What ``record_step`` yields: the caller may set the label once it knows more."""

    kind: str
    label: str
    merge_key: str | None = None


def lock_article(s: Session, article_id: int) -> None:
    """Take the article's row lock for the rest of the transaction (a no-op on SQLite, whose
    writes are serialised already)."""
    if s.scalar(select(Article.id).where(Article.id == article_id).with_for_update()) is None:
        raise NotFound(f"article {article_id} not found")


def snapshot(s: Session, article_id: int) -> dict[str, BlockState]:
    """Every block's pointers, by key."""
    rows = s.execute(
        select(
            Block.key,
            Block.current_version,
            Block.accepted_version,
            Block.candidate_version,
            Block.deleted_at,
            Block.position,
        ).where(Block.article_id == article_id)
    )
    return {
        key: {
            "current": current,
            "accepted": accepted,
            "candidate": candidate,
            "deleted": deleted_at is not None,
            "position": position,
        }
        for key, current, accepted, candidate, deleted_at, position in rows
    }


@contextmanager
def record_step(s: Session, article_id: int, kind: str, label: str, merge_key: str | None = None) -> Iterator[Step]:
    """Run a change of the article as one history step (inside the caller's write transaction).

    A change that leaves every pointer as it was records nothing. ``merge_key``: when the newest
    step has the same key, this change joins it (the K candidates of one Regenerate are one step;
    an autosave that continues a typing burst, ``storage.typing_bursts``, moves no pointer but
    its preference event joins the burst's step, so undoing the burst takes it back too).
    """
    lock_article(s, article_id)
    before = snapshot(s, article_id)
    s.info[HISTORY_EVENTS] = []
    step = Step(kind, label, merge_key)
    try:
        yield step
        s.flush()
        events = list(s.info.get(HISTORY_EVENTS, []))
    finally:
        s.info.pop(HISTORY_EVENTS, None)
    after = snapshot(s, article_id)
    changed = sorted(k for k in after if before.get(k) != after[k])
    if changed or (events and step.merge_key is not None):
        _append(s, article_id, step, {k: before.get(k) for k in changed}, {k: after[k] for k in changed}, events)


def _append(
    s: Session, article_id: int, step: Step, before: dict[str, Any], after: dict[str, Any], events: list[int]
) -> None:
    top = _newest(s, article_id, undone=False)
    joins = top is not None and step.merge_key is not None and top.merge_key == step.merge_key
    if not before and not joins:
        return  # no pointer moved and no step to join: nothing to record
    s.execute(delete(HistoryStep).where(HistoryStep.article_id == article_id, HistoryStep.undone.is_(True)))
    if top is not None and joins:
        # JSON columns: assign new values (an in-place change would not be saved)
        top.before = {**before, **top.before}  # the state before the first change of the group
        top.after = {**top.after, **after}
        top.events = [*top.events, *events]
        # the label stays the first change's: it names the block as it was before the group began
        return
    seq = (s.scalar(select(func.max(HistoryStep.seq)).where(HistoryStep.article_id == article_id)) or 0) + 1
    s.add(
        HistoryStep(
            article_id=article_id,
            seq=seq,
            kind=step.kind,
            label=step.label[:200],
            merge_key=step.merge_key,
            before=before,
            after=after,
            events=events,
            undone=False,
        )
    )
    s.execute(delete(HistoryStep).where(HistoryStep.article_id == article_id, HistoryStep.seq <= seq - MAX_STEPS))


def _newest(s: Session, article_id: int, *, undone: bool) -> HistoryStep | None:
    """The newest done step (what Undo takes back), or the oldest undone one (what Redo does)."""
    order = HistoryStep.seq.desc() if not undone else HistoryStep.seq.asc()
    query = select(HistoryStep).where(HistoryStep.article_id == article_id, HistoryStep.undone.is_(undone))
    return s.scalars(query.order_by(order).limit(1)).one_or_none()


def _apply(s: Session, article_id: int, states: dict[str, BlockState | None]) -> None:
    query = select(Block).where(Block.article_id == article_id, Block.key.in_(list(states)))
    blocks = {b.key: b for b in s.scalars(query)}
    for key, state in states.items():
        block = blocks.get(key)
        if block is None:  # blocks are never removed for good; a missing one has nothing to restore
            continue
        if state is None:  # the step made this block (an insert): undone, it is hidden again
            if block.deleted_at is None:
                block.deleted_at = utcnow()
            continue
        block.current_version = state["current"]
        block.accepted_version = state["accepted"]
        block.candidate_version = state["candidate"]
        block.position = state["position"]
        if state["deleted"] and block.deleted_at is None:
            block.deleted_at = utcnow()
        elif not state["deleted"]:
            block.deleted_at = None
    article = s.get(Article, article_id)
    if article is not None and article.project is not None:
        article.project.updated_at = utcnow()


def _walk(store: Store, article_id: int, owner: str | None, *, redo: bool) -> StepInfo:
    with store.write() as s:
        check_article_owner(s, article_id, owner)
        lock_article(s, article_id)
        step = _newest(s, article_id, undone=redo)
        if step is None:
            raise Refused(f"nothing to {'redo' if redo else 'undo'} in this article")
        _apply(s, article_id, step.after if redo else step.before)
        step.undone = not redo
        if step.events:
            _log_walk(s, article_id, step, redo=redo)
        s.flush()
        return _info(step)


def _log_walk(s: Session, article_id: int, step: HistoryStep, *, redo: bool) -> None:
    """An ``undo`` / ``redo`` preference event naming the events of the step (never deleting them)."""
    ids = [int(i) for i in step.events]
    kinds = dict(s.execute(select(PreferenceEvent.id, PreferenceEvent.kind).where(PreferenceEvent.id.in_(ids))).all())
    article = s.get(Article, article_id)
    block = None
    if len(step.before) == 1:
        block = s.scalars(select(Block).where(Block.article_id == article_id, Block.key.in_(list(step.before)))).first()
    context = {
        ("redoes" if redo else "undoes"): ids,
        "kinds": [kinds.get(i) for i in ids],
        "step": {"seq": step.seq, "kind": step.kind, "label": step.label, "blocks": sorted(step.before)},
    }
    log_event(s, "redo" if redo else "undo", context=context, block=block, article=article)


def undo(store: Store, article_id: int, owner: str | None = None) -> StepInfo:
    """Take back the newest step of the article; Refused when there is none."""
    return _walk(store, article_id, owner, redo=False)


def redo(store: Store, article_id: int, owner: str | None = None) -> StepInfo:
    """Do the oldest undone step again; Refused when there is none (or a new change dropped it)."""
    return _walk(store, article_id, owner, redo=True)


def history_state(store: Store, article_id: int, owner: str | None = None) -> HistoryInfo:
    with store.read() as s:
        check_article_owner(s, article_id, owner)
        done, undone = _newest(s, article_id, undone=False), _newest(s, article_id, undone=True)
        count = s.scalar(select(func.count()).select_from(HistoryStep).where(HistoryStep.article_id == article_id))
        return HistoryInfo(_info(done) if done else None, _info(undone) if undone else None, int(count or 0))


def list_steps(store: Store, article_id: int, owner: str | None = None) -> list[StepInfo]:
    """Every step kept, oldest first (undone ones last)."""
    with store.read() as s:
        check_article_owner(s, article_id, owner)
        query = select(HistoryStep).where(HistoryStep.article_id == article_id).order_by(HistoryStep.seq)
        return [_info(step) for step in s.scalars(query)]


def _info(step: HistoryStep) -> StepInfo:
    return StepInfo(step.seq, step.kind, step.label, step.undone, step.created_at, tuple(sorted(step.before)))
