"""Which articles are being written now, in this app process, each with its stop flag (mixed
into ``Studio``): a Stop from any tab of the same app reaches the run that writes the article."""

from __future__ import annotations

import threading


class RunningArticles:
    """Thread-safe; the host (``Studio``) sets ``_lock`` and ``_running`` in its ``__init__``."""

    _lock: threading.Lock
    _running: dict[int, threading.Event]  # article id -> its stop flag, while written

    def start_writing(self, article_id: int) -> threading.Event:
        with self._lock:
            return self._running.setdefault(article_id, threading.Event())

    def finish_writing(self, article_id: int) -> None:
        with self._lock:
            self._running.pop(article_id, None)

    def is_writing(self, article_id: int) -> bool:
        with self._lock:
            return article_id in self._running

    def stop(self, article_id: int) -> bool:
        """Ask the run writing this article to stop (from any tab); False when none runs."""
        with self._lock:
            flag = self._running.get(article_id)
        if flag is None:
            return False
        flag.set()
        return True
