"""Card actions onto the session: ``apply`` runs one typed action (``card_actions``), ``perform``
leaves its outcome on the view for the page. No gradio here.

``apply`` returns the outcome as a sentence and raises what the user must hear (the API turns it
into an error); ``perform`` leaves either one on the view, next to the block it concerns
(``notice``), as plain text: a refused or failed action never raises to the page.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from models.errors import NotFound, Refused
from models.provenance import is_illustrative
from models.vocab import BlockStatus
from studio.app.call_form import chart_params, params_for
from studio.app.card_actions import (
    Accept,
    Caption,
    CardAction,
    Delete,
    Discard,
    EditCall,
    EditText,
    Insert,
    Move,
    OpenEditor,
    Redo,
    Regenerate,
    Restore,
    Revert,
    Rewrite,
    SaveText,
    Undo,
    Upload,
    parse_action,
)
from studio.app.failures import explain
from studio.app.regenerate import Mode
from studio.app.ui_model import ArticleView
from studio.app.uploads import read_upload

if TYPE_CHECKING:
    from studio.app.session import Session


def as_action(data: Mapping[str, Any] | CardAction) -> CardAction:
    return parse_action(data) if isinstance(data, Mapping) else data


def apply(sess: Session, action: CardAction, upload_roots: tuple[Path, ...] = ()) -> str:
    """Run one action; its outcome as a sentence ("" when the page shows it by itself)."""
    block = action.block
    match action:
        case Regenerate():
            params = action.params if action.how != "again" else None
            source = action.source if action.how == "tool" else None
            sess.regenerate(block, action.how, params=params, source=source)
            return image_outcome(sess, block)
        case EditCall():
            current = sess.view.block(block)
            params = params_for(action.tool, action.query, action.prompt, action.code, action.img_index)
            code_from = ""
            if action.tool == "code":  # a changed data table redraws the chart with the author's numbers
                own = current.source == "code"
                original = str(current.params.get("code") or "") if own else ""
                kept = ""
                if own:
                    illustrative = is_illustrative(current.provenance)
                    kept = "illustrative" if illustrative else str(current.provenance.get("data_from") or "")
                caption = (action.description or current.description).strip()
                params, code_from = chart_params(action.code, action.data, caption, original, kept=kept)
            mode: Mode = "params" if action.tool == current.source else "tool"
            sess.regenerate(block, mode, params=params, source=action.tool,
                            description=action.description.strip() or None, code_from=code_from)  # fmt: skip
            return image_outcome(sess, block)
        case Accept(version=version):
            sess.accept(block, version)
            return f"Version {sess.view.block(block).version} accepted."
        case Revert(version=version):
            sess.revert(block, version)
            return f"Back to version {sess.view.block(block).version}."
        case Discard():
            sess.discard(block)
            return "Discarded; the current version stays."
        case Caption(caption=caption, alt=alt):
            sess.caption(block, caption, alt)
            return "Caption saved."
        case EditText(text=text):
            sess.edit_text(block, text)
            return f"Saved as version {sess.view.block(block).version}."
        case SaveText(text=text, article=article):
            sess.save_text(block, text, article=article)
            return ""  # the page's autosave indicator says "Saved"; a notice on every pause would be noise
        case Rewrite(instruction=instruction):
            sess.rewrite(block, instruction)
            return "Here is the rewrite: accept or discard it."
        case Move(offset=offset):
            sess.move(block, 1 if offset > 0 else -1)
            return ""
        case Insert(text=text):
            key = sess.insert_text(block, text)
            sess.view.block(key).notice = "Inserted."
            return ""
        case Delete():
            sess.delete_block(block)
            return "Deleted a block (Undo or Ctrl+Z brings it back)."
        case Restore():
            sess.restore_block(block)
            return "Restored."
        case Upload(path=path, name=name):
            data, _ = read_upload(path, upload_roots)
            sess.replace_image(block, data, name)
            return "Your image replaces the previous one (which stays in the history)."
        case Undo():
            return sess.undo()
        case Redo():
            return sess.redo()
        case OpenEditor():
            raise Refused("the call editor opens on the page; to run a call, send edit_call")
        case _:
            assert_never(action)


def image_outcome(sess: Session, block: str) -> str:
    """The one message after a new image version: which version is shown, or why the attempt
    failed and what was kept; plus the edits made from the old image."""
    b = sess.view.block(block)
    if b.candidate is not None and b.candidate.number == max(v.number for v in b.history):
        kept = "the working image is kept" if b.status == BlockStatus.OK else "nothing was replaced"
        return f"The new attempt (version {b.candidate.number}) failed: {b.candidate.error}. {kept}."
    stale = sess.stale_edits(block)
    note = f" Images edited from it ({', '.join(stale)}) still show the old one: regenerate them." if stale else ""
    taste = b.notice.rstrip(".")  # Regenerate's K candidates: the taste model's note (editing.py), kept visible
    return f"Version {b.version} is shown.{note}" + (f" {taste[:1].upper()}{taste[1:]}." if taste else "")


def perform(sess: Session, data: Mapping[str, Any] | CardAction, upload_roots: tuple[Path, ...] = ()) -> ArticleView:
    """Run one card action; its outcome (or the reason it failed) is left on the view."""
    block = str(data.get("block") or "") if isinstance(data, Mapping) else data.block
    try:
        action = as_action(data)
        message = apply(sess, action, upload_roots)
    except Exception as exc:  # the one translator: a StudioError's sentence, anything else logged as a bug
        _leave(sess, block, explain(exc), error=True)
        return sess.view
    if isinstance(action, Undo | Redo) and not block:
        block = sess.view.history_block  # the block the step changed ("": the article's notice)
    if isinstance(action, Delete):
        sess.view.notice, sess.view.undo_block = message, block
    elif message:
        _leave(sess, block, message, error=action_failed(sess, action))
    return sess.view


def action_failed(sess: Session, action: CardAction) -> bool:
    """A regenerate or edited call that ran but whose new version failed (a candidate)."""
    if not isinstance(action, Regenerate | EditCall):
        return False
    b = sess.view.block(action.block)
    return b.candidate is not None and b.candidate.number == b.version_count


def mark_busy(view: ArticleView, data: Mapping[str, Any] | CardAction) -> bool:
    """Show the block the action works on as busy (only it); False when there is nothing to show."""
    try:
        action = as_action(data)
        b = view.block(action.block)
    except (Refused, NotFound):
        return False
    if not action.busy:
        return False
    b.busy, b.busy_since, b.notice = action.busy, time.time(), ""
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
