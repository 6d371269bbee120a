"""Parent side of the chart sandbox: starts the warm worker, hands it jobs, reads results.

``Sandbox`` owns one long-lived zygote process (``tools/sandbox_worker.py``, see its docstring for
the isolation layers). The zygote is started with an environment built from nothing (no variable
of the studio's environment is copied, so API keys never reach it) and ``python -I`` (no user
site, no PYTHON* variables). Each job gets two fresh socket pairs whose far ends travel to the
zygote over a SOCK_SEQPACKET control socket (SCM_RIGHTS); the forked child reads the request from
one and writes the result into it, and the zygote writes the exit status into the other once it
has reaped the child. So concurrent jobs never share a channel, and only the control send is
serialised. A dead zygote is restarted on the next job.

A job holds its slot until the zygote has reaped its process: once the result frame is read the
parent writes one byte on the status channel, the zygote kills the job's process group, reaps
it and only then reports. ``JobSlots`` bounds the jobs (``max_jobs`` at once, ``per_owner`` of
them for one article), first come, first served, so a hostile article can hold at most its
share and a chart of another article always finds a slot.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from models.errors import ToolError
from tools.sandbox_lockdown import remove_tree

_HEADER_SIZE = 8
_WORKER = Path(__file__).with_name("sandbox_worker.py")
_MAX_RESULT_BYTES = 16 * 1024 * 1024
_MAX_META_BYTES = 1024 * 1024  # the frame's JSON part: ok, kind, error (cut to 10,000 characters), timings
MAX_JSON_DEPTH = 32  # the child's report nests 2 deep; a forged frame may nest 200,000 deep
_GRACE_S = 5.0  # the parent's own backstop beyond the zygote's wall-clock kill
_START_TIMEOUT_S = 120.0
_REAP_S = 2.0  # how long a job killed at the end may take to be reaped before its slot is given up


@dataclass(frozen=True)
class Limits:
    """Per-job limits. memory_mb is address space the code may add on top of the warm image."""

    timeout_s: float = 20.0
    cpu_s: float = 15.0
    memory_mb: int = 1024
    max_file_mb: int = 16
    max_processes: int = 1
    audit_hook: bool = True  # the convenience layer (clear errors); tests switch it off to prove it is not needed


@dataclass(frozen=True)
class Outcome:
    """What came back from one job.

    result: the child's own report ({"ok", "kind", "error", "timings"}) or None when it sent none.
    status: {} when the child reported (its report is final); otherwise the zygote's report on
    the child ({"exit", "signal", "timed_out", "cpu_s"}), {"timed_out": True} when our own
    backstop fired, {"worker_died": True} when the zygote vanished mid-job, or {"error": ...}
    when it refused the job. A dead zygote's own end is added as ``worker_exit`` (its exit
    status, negative for a signal) when it could be read.
    """

    result: dict | None
    png: bytes
    status: dict


def _minimal_env(base_dir: str) -> dict[str, str]:
    """The worker's whole environment. Built, never copied: nothing of the parent leaks."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": base_dir,
        "USER": "nobody",
        "LOGNAME": "nobody",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(base_dir, "mplconfig"),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_MAX_THREADS": "1",
    }


def _pack(meta: dict) -> bytes:
    data = json.dumps(meta).encode()
    return len(data).to_bytes(4, "big") + (0).to_bytes(4, "big") + data


class BadFrame(ValueError):
    """A complete result frame that must not be trusted; the message says why, for the block."""


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


def _parse_frame(data: bytes) -> tuple[dict, bytes] | None:
    """One frame from ``data``, or None when it is short or cut off (a job killed mid-write).

    Raises BadFrame for a complete frame that is not a report (bad JSON, too deep, not an
    object): the job wrote it on purpose, and the block says so.
    """
    if len(data) < _HEADER_SIZE:
        return None
    n, m = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
    if len(data) < _HEADER_SIZE + n + m:
        return None
    raw = data[_HEADER_SIZE : _HEADER_SIZE + n]
    if n > _MAX_META_BYTES:
        raise BadFrame(f"its JSON part is larger than {_MAX_META_BYTES // 1024} KB")
    check_json_depth(raw)
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadFrame("its JSON part is not valid JSON") from None
    if not isinstance(meta, dict):
        raise BadFrame("its JSON part is not an object")
    return meta, data[_HEADER_SIZE + n : _HEADER_SIZE + n + m]


def _read_frame(sock: socket.socket, deadline: float, limit: int) -> bytes | None:
    """Bytes up to one complete frame (or EOF), or None at the deadline.

    Returning as soon as the frame is complete (not at EOF) spares the caller the child's exit,
    which for a forked copy of a large interpreter costs tens of milliseconds. A frame announcing
    more than ``limit`` bytes raises BadFrame.
    """
    buf = bytearray()
    while True:
        if len(buf) >= _HEADER_SIZE:
            need = _HEADER_SIZE + int.from_bytes(buf[:4], "big") + int.from_bytes(buf[4:8], "big")
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


class JobSlots:
    """At most ``total`` jobs at once and ``per_owner`` of them for one owner (an article).

    First come, first served among the waiting jobs that may start: a job of an owner at its
    cap does not hold up another owner's job behind it. With ``per_owner < total`` one owner
    can never take every slot, so another article's chart waits at most for a free slot, never
    for the hostile article's charts to time out one by one.
    """

    def __init__(self, total: int, per_owner: int) -> None:
        self.total = max(1, total)
        self.per_owner = max(1, min(per_owner, self.total))
        self._cond = threading.Condition()
        self._waiting: deque[tuple[object, object]] = deque()  # (ticket, owner), oldest first
        self._held: Counter[object] = Counter()
        self.running = 0

    def acquire(self, owner: object, timeout_s: float, cancel: threading.Event | None = None) -> bool:
        """Wait for a slot; False at the timeout or when ``cancel`` is set."""
        ticket = object()
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._waiting.append((ticket, owner))
            try:
                while not self._may_start(ticket):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or (cancel is not None and cancel.is_set()):
                        return False
                    self._cond.wait(min(remaining, 0.25))  # short: a cancel has no notify
                self.running += 1
                self._held[owner] += 1
                return True
            finally:
                self._waiting.remove((ticket, owner))
                self._cond.notify_all()

    def _may_start(self, ticket: object) -> bool:
        if self.running >= self.total:
            return False
        for waiting, owner in self._waiting:
            if self._held[owner] < self.per_owner:
                return waiting is ticket
        return False

    def release(self, owner: object) -> None:
        with self._cond:
            self.running -= 1
            self._held[owner] -= 1
            if self._held[owner] <= 0:
                del self._held[owner]
            self._cond.notify_all()


_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-launcher")


class Sandbox:
    """A warm, restartable zygote that runs chart code in forked, locked-down children.

    Thread-safe: ``run`` may be called from many threads; each job has its own channels.
    max_jobs: charts that may exist at once (the zygote's slots); per_owner: how many of them
    one owner (an article) may hold. A job beyond either waits for a slot.
    """

    def __init__(
        self, scratch_root: Path | None = None, *, mode: str = "jail", max_jobs: int = 4, per_owner: int = 3
    ) -> None:
        if mode not in ("jail", "weak"):
            raise ToolError(f"unknown sandbox mode {mode!r}")
        self.mode = mode
        self.slots = JobSlots(max_jobs, per_owner)
        self._scratch_root = scratch_root
        self._lock = threading.Lock()  # guards start/stop and the control socket
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._base_dir: str | None = None
        self.runtime = ""

    # ----------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the zygote now (it imports matplotlib & co. once). A no-op when it runs."""
        with self._lock:
            self._ensure_started()

    @property
    def pid(self) -> int | None:
        """The zygote's process id while it runs, else None."""
        return self._proc.pid if self._alive() and self._proc is not None else None

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _ensure_started(self) -> None:
        if self._alive():
            return
        self._stop_locked()
        if self._scratch_root is not None:
            self._scratch_root.mkdir(parents=True, exist_ok=True)
        base = tempfile.mkdtemp(prefix="llmi-code-", dir=self._scratch_root)
        os.chmod(base, 0o711)  # job children (other uids) must reach their own dirs inside
        os.mkdir(os.path.join(base, "mplconfig"), 0o700)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # Spawned from one long-lived thread: the zygote's parent-death signal fires when the
            # *thread* that forked it exits, and tool calls come from short-lived pool threads.
            proc = _LAUNCHER.submit(
                subprocess.Popen,
                [sys.executable, "-I", str(_WORKER), str(theirs.fileno()), base, self.mode, str(self.slots.total)],
                env=_minimal_env(base),
                cwd=base,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                close_fds=True,
                start_new_session=True,
            ).result()
        except OSError as exc:
            ours.close()
            remove_tree(base)
            raise ToolError(f"cannot start the chart worker: {exc}") from exc
        finally:
            theirs.close()
        self._proc, self._ctrl, self._base_dir = proc, ours, base
        ours.settimeout(_START_TIMEOUT_S)
        try:
            hello = json.loads(ours.recv(4096) or b"{}")
        except (TimeoutError, OSError, ValueError):
            hello = {}
        if not hello.get("ready"):
            self._stop_locked()
            raise ToolError("the chart worker did not start (is matplotlib/pandas/seaborn installed?)")
        ours.settimeout(10.0)
        self.runtime = str(hello.get("runtime", ""))

    def close(self) -> None:
        """Stop the zygote and every running job, and delete the scratch directories."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._ctrl is not None:
            self._ctrl.close()  # the zygote sees EOF, kills its children and exits
            self._ctrl = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            self._proc = None
        if self._base_dir is not None:
            remove_tree(self._base_dir)
            self._base_dir = None

    # ----------------------------------------------------------- jobs

    def run(
        self,
        code: str,
        limits: Limits,
        *,
        owner: object = None,
        wait_s: float | None = None,
        cancel: threading.Event | None = None,
    ) -> Outcome:
        """Run one job once a slot is free. Raises ToolError when the worker cannot be started,
        or when no slot came free within ``wait_s`` (default: three of the job's time limits)
        or ``cancel`` was set while waiting."""
        wait = 3 * (limits.timeout_s + _GRACE_S) if wait_s is None else wait_s
        if not self.slots.acquire(owner, max(0.0, wait), cancel):
            if cancel is not None and cancel.is_set():
                raise ToolError("stopped while waiting for a free chart slot")
            raise ToolError(
                f"the chart sandbox is busy: {self.slots.total} charts at once are running "
                f"(one article may hold {self.slots.per_owner}); try again in a moment"
            )
        try:
            return self._run_in_slot(code, limits)
        finally:
            self.slots.release(owner)

    def _run_in_slot(self, code: str, limits: Limits) -> Outcome:
        result_ours, result_theirs = socket.socketpair()
        status_ours, status_theirs = socket.socketpair()
        try:
            self._submit(limits, result_theirs.fileno(), status_theirs.fileno())
            result_theirs.close()
            status_theirs.close()
            request = {
                "code": code,
                "cpu_s": limits.cpu_s,
                "memory_mb": limits.memory_mb,
                "max_file_mb": limits.max_file_mb,
                "max_processes": limits.max_processes,
                "audit_hook": limits.audit_hook,
            }
            deadline = time.monotonic() + limits.timeout_s + _GRACE_S
            with contextlib.suppress(OSError):  # a child killed before reading: the status says why
                result_ours.settimeout(max(0.1, deadline - time.monotonic()))
                result_ours.sendall(_pack(request))
            refused = parsed = raw = None
            try:
                raw = _read_frame(result_ours, deadline, _MAX_RESULT_BYTES)
                parsed = _parse_frame(raw) if raw else None
            except BadFrame as exc:
                refused = f"the chart sandbox returned a result frame that was refused: {exc}"
            result_ours.close()  # a child still writing gets EPIPE instead of blocking until its timeout
            status_deadline = deadline
            if parsed is not None or refused is not None or raw is None:
                # Done with the job (a whole frame, or our backstop fired): the zygote kills its
                # process group now, so a chart that sent its result early and kept running ends
                # here. Without a frame the job is ending by itself: its own exit or signal is
                # the reason, so it is not killed over it.
                with contextlib.suppress(OSError):
                    status_ours.send(b"x", socket.MSG_NOSIGNAL)
                status_deadline = max(deadline, time.monotonic() + _REAP_S)
            # The slot stays taken until the zygote has reaped the job and reported.
            try:
                status_raw = _read_frame(status_ours, status_deadline, 1 << 16)
            except BadFrame:
                status_raw = b""
            if refused is not None:
                return Outcome(result={"ok": False, "kind": "bad_frame", "error": refused}, png=b"", status={})
            if parsed is not None:
                return Outcome(result=parsed[0], png=parsed[1], status={})  # the child's own report is final
        finally:
            for s in (result_ours, result_theirs, status_ours, status_theirs):
                s.close()
        try:
            status_frame = _parse_frame(status_raw) if status_raw else None
        except BadFrame:
            status_frame = None
        if status_frame is not None:
            status = status_frame[0]
        elif raw is None or status_raw is None:
            status = {"timed_out": True}  # our own backstop fired: the zygote did not answer in time
        else:
            status = {"worker_died": True}  # EOF without a status: the zygote vanished mid-job
            exit_status = self._restart_if_dead()
            if exit_status is not None:
                status["worker_exit"] = exit_status
        return Outcome(result=None, png=b"", status=status)

    def _submit(self, limits: Limits, result_fd: int, status_fd: int) -> None:
        msg = json.dumps({"timeout_s": limits.timeout_s}).encode()
        with self._lock:
            for attempt in range(2):
                self._ensure_started()
                assert self._ctrl is not None
                try:
                    socket.send_fds(self._ctrl, [msg], [result_fd, status_fd])
                    return
                except OSError:
                    if attempt:
                        raise ToolError("the chart worker is not accepting jobs") from None
                    self._stop_locked()

    def _restart_if_dead(self) -> int | None:
        """Clean up a dead zygote (the next job starts a new one); its exit status, if it died."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return None
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)  # the zygote's EOF comes a moment before its exit status
            if proc.poll() is None:
                return None
            self._stop_locked()
            return proc.returncode
