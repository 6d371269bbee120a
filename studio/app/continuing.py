"""Continue an article the model cut off at its token limit, or one that was stopped (the core's
``continue_article``): the new text and images are appended to the same stored article, streamed
like a write; a last paragraph that ended mid-sentence is continued, not restarted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from models.errors import Refused
from models.vocab import ArticleStatus
from storage import repo
from storage.recorder import ArticleRecorder
from studio.app.ui_model import ArticleView
from studio.core.agent import Brief, continue_article
from studio.core.events import Event

if TYPE_CHECKING:
    from studio.app.session import RunOptions, Session


STOPPED = (ArticleStatus.INTERRUPTED, ArticleStatus.FAILED)  # stopped by the user, or by an error mid-stream


def can_continue(view: ArticleView) -> bool:
    """Cut off at the token limit, or stopped with something written: *Continue writing*."""
    return view.done and not view.elsewhere and (view.cut_off or (view.status in STOPPED and bool(view.blocks)))


def continue_writing(sess: Session, options: RunOptions | None = None) -> Iterator[tuple[Event | None, ArticleView]]:
    """Yields ``(None, view)`` at once, then each event with the view after it (saved first)."""
    article_id, article = sess._article()
    if sess.view.status in STOPPED and not article.blocks:
        raise Refused("nothing was written before it stopped: write the brief again")
    if not can_continue(sess.view):
        raise Refused("only an article that was stopped or cut off at the token limit can be continued")
    info = repo.open_article(sess.store, article_id, sess.user)
    wanted = info.settings.get("wanted_images")
    brief = Brief(
        info.brief,
        wanted if isinstance(wanted, int) else None,
        tuple(article.user_images),
        str(info.settings.get("style") or ""),
    )
    services = sess.services(options)
    recorder = ArticleRecorder(sess.store, info.project_id, brief="", resume=article_id, owner=sess.user)
    stop = sess.studio.start_writing(article_id)
    sess.writing = True
    view = sess.view
    view.done, view.status, view.cut_off, view.started, view.notice = (
        False,
        ArticleStatus.RUNNING,
        False,
        time.time(),
        "",
    )
    try:
        yield None, view
        yield from sess.follow_recorded(continue_article(article, brief, services, stop=stop), recorder)
    finally:
        sess.writing = False
        sess.studio.finish_writing(article_id)
