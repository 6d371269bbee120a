"""The one frame format of a chart job's channels, written and read by both sides.

A frame is an 8-byte header (two big-endian unsigned 32-bit lengths: the JSON part, then the
blob), the JSON part (an object) and the blob (the chart's PNG, or nothing). The parent sends the
request in one and reads the child's report (or the zygote's status on the job) in one; the child
and the zygote write theirs with ``encode``.

Imported as ``tools.sandbox_frame`` by the parent and loaded by file path as ``sandbox_frame``
by the worker (``python -I``; tools/ must not go on sys.path, see ``sandbox_worker._load``), so it
imports only the stdlib. The reading side never trusts a frame: chart code can write straight
into its result channel, so every length is checked against a limit and the JSON's depth is
checked without recursion before ``json.loads`` sees it.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time

HEADER = struct.Struct(">II")  # JSON length, blob length
MAX_REQUEST_BYTES = 1 << 20  # the parent's request: the code (at most 100,000 characters) and limits
MAX_RESULT_BYTES = 16 << 20  # the child's report and its PNG (the worker's own PNG cap is 8 MB)
MAX_STATUS_BYTES = 1 << 16  # the zygote's report on the job: exit, signal, timed_out, cpu_s
MAX_META_BYTES = 1 << 20  # any frame's JSON part: ok, kind, error (cut to 10,000 characters), timings
MAX_JSON_DEPTH = 32  # the child's report nests 2 deep; a forged frame may nest 200,000 deep


class BadFrame(ValueError):
    """A complete frame that must not be trusted; the message says why, for the block."""


def encode(meta: dict, blob: bytes = b"") -> bytes:
    """One frame: the header, ``meta`` as JSON, then ``blob``."""
    data = json.dumps(meta).encode()
    return HEADER.pack(len(data), len(blob)) + data + blob


def frame_size(data: bytes | bytearray) -> int | None:
    """The whole frame's size in bytes as its header announces it; None before the header is in."""
    if len(data) < HEADER.size:
        return None
    n, m = HEADER.unpack_from(data)
    return HEADER.size + n + m


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def check_json_depth(data: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise BadFrame when the JSON in ``data`` nests deeper than ``limit``.

    ``json.loads`` recurses once per level: 200,000 nested ``[`` raise RecursionError, which
    no caller expects. Without recursion and at C speed: drop the strings (they may hold
    brackets), keep only the brackets, then remove innermost pairs ``limit`` times; anything
    left nests deeper (or is unbalanced, which json.loads refuses anyway).
    """
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    if brackets:
        raise BadFrame(f"its JSON nests deeper than {limit} levels or is malformed")


def decode(data: bytes) -> tuple[dict, bytes] | None:
    """The JSON object and the blob of the frame at the start of ``data``, or None when ``data``
    is short or cut off (a job killed mid-write).

    Raises BadFrame for a complete frame that is not a report (bad JSON, too deep, not an
    object): the job wrote it on purpose, and the block says so.
    """
    size = frame_size(data)
    if size is None or len(data) < size:
        return None
    n = HEADER.unpack_from(data)[0]
    raw = data[HEADER.size : HEADER.size + n]
    if n > MAX_META_BYTES:
        raise BadFrame(f"its JSON part is larger than {MAX_META_BYTES // 1024} KB")
    check_json_depth(raw)
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadFrame("its JSON part is not valid JSON") from None
    if not isinstance(meta, dict):
        raise BadFrame("its JSON part is not an object")
    return meta, data[HEADER.size + n : size]


def read_until_complete(sock: socket.socket, deadline: float, limit: int) -> bytes | None:
    """Bytes up to one complete frame (or EOF), or None at the ``time.monotonic`` deadline.

    Returning as soon as the frame is complete (not at EOF) spares the caller the child's exit,
    which for a forked copy of a large interpreter costs tens of milliseconds. A frame announcing
    more than ``limit`` bytes raises BadFrame.
    """
    buf = bytearray()
    while True:
        need = frame_size(buf)
        if need is not None:
            if need > limit:
                raise BadFrame(f"it announces {need:,} bytes, more than the {limit // (1 << 20)} MB limit")
            if len(buf) >= need:
                return bytes(buf[:need])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            return None
        except OSError:
            chunk = b""
        if not chunk:
            return bytes(buf)
        buf += chunk


def read_blocking(sock: socket.socket, limit: int = MAX_REQUEST_BYTES) -> dict:
    """One whole frame's JSON object from a blocking socket (the child reading its request).

    Raises EOFError when the socket ends first, BadFrame when the frame is larger than ``limit``
    or not a JSON object.
    """
    head = _read_exact(sock, HEADER.size)
    size = frame_size(head)
    assert size is not None
    if size > limit:
        raise BadFrame(f"it announces {size:,} bytes, more than the {limit:,} byte limit")
    parsed = decode(head + _read_exact(sock, size - HEADER.size))
    assert parsed is not None  # every byte the header announced was read
    return parsed[0]


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("short read")
        buf += chunk
    return bytes(buf)
