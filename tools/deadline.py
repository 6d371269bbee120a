"""Deadlines: ``call_with_deadline`` (the one way to wait for blocking work at most so long) and
one overall deadline for a whole HTTP exchange, applied to every socket operation.

``call_with_deadline`` runs the work on a daemon thread and waits on a ``concurrent.futures``
Future: the tool runner, the image search and the downloader's DNS lookup all bound calls that
have no deadline of their own with it. The thread is abandoned, never joined, when time runs out
(``ThreadPoolExecutor`` would join it at exit, so a stalled resolver could hold the process).

httpx's timeouts bound each operation (connect, one read, one write); a server that trickles its
headers or body a byte at a time never trips them. ``DeadlineStream`` wraps the connection the
downloader's network backend opens, and cuts every read, write and TLS handshake to what is left
of one deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import httpcore

T = TypeVar("T")


def call_with_deadline(func: Callable[[], T], timeout_s: float, *, name: str = "deadline") -> T:
    """``func()``'s value (or its exception), or ``TimeoutError`` when it has not ended within
    ``timeout_s``; the work goes on in its abandoned daemon thread until its own limits end it."""
    future: Future[T] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(func())
        except BaseException as exc:  # handed to the waiting caller by the future
            future.set_exception(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future.result(timeout=timeout_s)  # concurrent.futures.TimeoutError is TimeoutError


def time_left(deadline: float | None, timeout: float | None) -> float | None:
    """The time an operation may take: its own timeout, cut to what is left before the deadline."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the download's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write (TLS handshake, headers, body) ends by the deadline,
    so a server that trickles its headers a byte at a time is cut off at the deadline too."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float | None) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, time_left(self._deadline, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, time_left(self._deadline, timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, time_left(self._deadline, timeout))
        return DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
