"""Card actions: one ``act`` event from the page (``{act, block, ...fields}``) onto the session.

No gradio here: ``perform`` maps the event's data onto one ``Session`` call and leaves the
outcome on the view, next to the block it concerns (``notice``), as plain text. A refused or
failed action never raises to the UI: its reason is shown once, where the user acted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.errors import NotFound, Refused
from models.vocab import BlockStatus
from studio.app.failures import explain
from studio.app.ui_model import ArticleView
from studio.app.uploads import read_upload

if TYPE_CHECKING:
    from studio.app.session import Session

BUSY = {
    "regenerate": "regenerating",
    "rewrite": "rewriting",
    "upload": "checking your image",
    "accept": "saving",
    "caption": "saving",
    "edit_text": "saving",
}


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Refused(f"{what} must be a number, got {value!r}") from None


def _regenerate(sess: Session, block: str, data: dict[str, Any]) -> str:
    sess.regenerate(block, "again")
    return _image_outcome(sess, block)


def _image_outcome(sess: Session, block: str) -> str:
    b = sess.view.block(block)
    if b.candidate is not None and b.candidate.number == max(v.number for v in b.history):
        kept = "the working image is kept" if b.status == BlockStatus.OK else "nothing was replaced"
        return f"The new attempt (version {b.candidate.number}) failed: {b.candidate.error}. {kept}."
    stale = sess.stale_edits(block)
    note = f" Images edited from it ({', '.join(stale)}) still show the old one: regenerate them." if stale else ""
    return f"Version {b.version} is shown.{note}"


def _accept(sess: Session, block: str, data: dict[str, Any]) -> str:
    version = _int(data["version"], "version") if data.get("version") is not None else None
    sess.accept(block, version)
    return f"Version {sess.view.block(block).version} accepted."


def _revert(sess: Session, block: str, data: dict[str, Any]) -> str:
    sess.revert(block, _int(data.get("version"), "version"))
    return f"Back to version {sess.view.block(block).version}."


def _discard(sess: Session, block: str, data: dict[str, Any]) -> str:
    sess.discard(block)
    return "Discarded; the current version stays."


def _caption(sess: Session, block: str, data: dict[str, Any]) -> str:
    sess.caption(block, str(data.get("caption") or ""), str(data.get("alt") or ""))
    return "Caption saved."


def _edit_text(sess: Session, block: str, data: dict[str, Any]) -> str:
    sess.edit_text(block, str(data.get("text") or ""))
    return f"Saved as version {sess.view.block(block).version}."


def _rewrite(sess: Session, block: str, data: dict[str, Any]) -> str:
    sess.rewrite(block, str(data.get("instruction") or ""))
    return "Here is the rewrite: accept or discard it."


def _move(sess: Session, block: str, data: dict[str, Any]) -> str:
    sess.move(block, 1 if _int(data.get("offset"), "offset") > 0 else -1)
    return ""


def _insert(sess: Session, block: str, data: dict[str, Any]) -> str:
    key = sess.insert_text(block, str(data.get("text") or ""))
    sess.view.block(key).notice = "Inserted."
    return ""


ACTIONS: dict[str, Callable[[Session, str, dict[str, Any]], str]] = {
    "regenerate": _regenerate,
    "accept": _accept,
    "revert": _revert,
    "discard": _discard,
    "caption": _caption,
    "edit_text": _edit_text,
    "rewrite": _rewrite,
    "move": _move,
    "insert_text": _insert,
}


def perform(sess: Session, data: dict[str, Any], upload_roots: tuple[Path, ...] = ()) -> ArticleView:
    """Run one card action; its outcome (or the reason it failed) is left on the view."""
    act, block = str(data.get("act") or ""), str(data.get("block") or "")
    try:
        if act == "delete":
            sess.delete_block(block)
            sess.view.notice, sess.view.undo_block = "Deleted a block.", block
            return sess.view
        if act == "restore":
            sess.restore_block(block)
            message = "Restored."
        elif act == "upload":
            data_bytes, _ = read_upload(str(data.get("path") or ""), upload_roots)
            sess.replace_image(block, data_bytes, str(data.get("name") or "your image")[:120])
            message = "Your image replaces the previous one (which stays in the history)."
        elif act in ACTIONS:
            message = ACTIONS[act](sess, block, data)
        else:
            raise Refused(f"unknown action {act!r}")
    except Exception as exc:  # the one translator: a StudioError's sentence, anything else logged as a bug
        _leave(sess, block, explain(exc), error=True)
        return sess.view
    if message:
        _leave(sess, block, message, error=False)
    return sess.view


def mark_busy(view: ArticleView, data: dict[str, Any]) -> bool:
    """Show the block the action works on as busy (only it); False when there is nothing to show."""
    label = BUSY.get(str(data.get("act")))
    if not label:
        return False
    try:
        b = view.block(str(data.get("block")))
    except NotFound:
        return False
    b.busy, b.busy_since, b.notice = label, time.time(), ""
    return True


def _leave(sess: Session, block: str, message: str, *, error: bool) -> None:
    sess.view.notice = sess.view.undo_block = ""
    try:
        b = sess.view.block(block)
    except NotFound:
        sess.view.notice, sess.view.notice_error = message, error
        return
    for other in sess.view.blocks:
        other.busy = ""
    b.notice, b.notice_error = message, error
