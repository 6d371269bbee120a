"""Several app processes on one store: who is writing which article, and who is gone.

Every article row names its ``writer``, the process that records it (``process_token()``:
host, pid and a random part). An app process also registers itself in ``app_processes`` and
refreshes ``heartbeat_at`` every few seconds. A 'running' article is interrupted (status
'interrupted', unfinished image calls 'failed') when its writer is certainly dead:

- on this host, its pid is gone (checked with signal 0; a ``kill -9`` is seen at once), or
- it registered a heartbeat that is older than ``stale_s`` (a process on another host that
  died, or a frozen one), or
- it has no writer (rows written before revision 0002).

A writer on another host that never registered (a CLI run there) is left alone: nothing here
can tell whether it still runs. Each app process calls ``reap`` at start and with each
heartbeat, so a process that dies mid-article is cleaned up by its peers, not only by a restart.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import delete, select, update

from models.vocab import ArticleStatus
from storage.db import Store
from storage.repo import mark_interrupted
from storage.schema import AppProcess, Article, utcnow

_TOKEN: tuple[int, str] | None = None


def process_token() -> str:
    """``host:pid:random`` of this process (new after a fork)."""
    global _TOKEN
    if _TOKEN is None or _TOKEN[0] != os.getpid():
        _TOKEN = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    return _TOKEN[1]


def _parse(token: str) -> tuple[str, int] | None:
    host, _, rest = token.partition(":")
    pid, _, _ = rest.partition(":")
    return (host, int(pid)) if pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def register(store: Store) -> str:
    """Announce this process (call once at start); returns its token."""
    token = process_token()
    host, pid = socket.gethostname(), os.getpid()
    with store.write() as s:
        if s.get(AppProcess, token) is None:
            s.add(AppProcess(token=token, host=host, pid=pid))
    return token


def heartbeat(store: Store, token: str) -> None:
    with store.write() as s:
        done = s.execute(update(AppProcess).where(AppProcess.token == token).values(heartbeat_at=utcnow()))
    if not done.rowcount:  # type: ignore[attr-defined]
        register(store)  # forgotten by a peer after a long freeze: announce again


def unregister(store: Store, token: str) -> None:
    """A clean stop: this process writes nothing any more."""
    with store.write() as s:
        s.execute(delete(AppProcess).where(AppProcess.token == token))


def dead_writers(store: Store, stale_s: float) -> set[str | None]:
    """Writers of 'running' articles that are certainly gone (see the module docstring)."""
    here = socket.gethostname()
    with store.read() as s:
        writers = set(s.scalars(select(Article.writer).where(Article.status == ArticleStatus.RUNNING).distinct()))
        beats = {token: beat for token, beat in s.execute(select(AppProcess.token, AppProcess.heartbeat_at))}
    cutoff = utcnow() - timedelta(seconds=stale_s)
    dead: set[str | None] = set()
    for writer in writers:
        if writer is None:
            dead.add(None)
            continue
        where = _parse(writer)
        if where is not None and where[0] == here:
            if not _pid_alive(where[1]) or (where[1] == os.getpid() and writer != process_token()):
                dead.add(writer)  # gone, or an earlier process whose pid this one now has
        elif writer in beats and beats[writer] < cutoff:
            dead.add(writer)
    return dead


def reap(store: Store, stale_s: float = 60.0) -> int:
    """Interrupt the running articles of dead writers; forget processes whose heartbeat is stale.
    Returns how many articles were interrupted."""
    dead = dead_writers(store, stale_s)
    count = mark_interrupted(store, dead) if dead else 0
    cutoff = utcnow() - timedelta(seconds=stale_s)
    with store.write() as s:
        s.execute(delete(AppProcess).where(AppProcess.heartbeat_at < cutoff))
    return count
