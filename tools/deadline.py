"""One overall deadline for a whole HTTP exchange, applied to every socket operation.

httpx's timeouts bound each operation (connect, one read, one write); a server that trickles its
headers or body a byte at a time never trips them. ``DeadlineStream`` wraps the connection the
downloader's network backend opens, and cuts every read, write and TLS handshake to what is left
of one deadline.
"""

from __future__ import annotations

import time
from typing import Any

import httpcore


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
