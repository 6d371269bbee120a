"""One chart job, from the zygote's fork to the result frame (loaded by path by the worker).

``run_child`` reads the request, builds the isolation, runs the code and writes one frame.
Mode "jail" (the default, see ``sandbox_jail``): the forked child enters fresh namespaces and
pivots into the jail's root, then forks again; the grandchild is PID 1 of the job's PID
namespace, seals itself (capabilities, no_new_privs, seccomp) and runs the code, while the child
only waits and passes the grandchild's exit status on to the zygote. Mode "weak" (only by the
explicit setting, where the kernel refuses unprivileged namespaces): no namespaces; a root studio
still drops to the job's uid, and the seccomp filter, rlimits and audit hook apply.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import signal
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable

lockdown = sys.modules["sandbox_lockdown"]
jail = sys.modules["sandbox_jail"]
HEADER = struct.Struct(">II")  # json length, blob length


def pack(meta: dict, blob: bytes = b"") -> bytes:
    data = json.dumps(meta).encode()
    return HEADER.pack(len(data), len(blob)) + data + blob


def read_frame(sock: socket.socket, limit: int = 1 << 20) -> dict:
    """Read one frame (the request) from a blocking socket."""
    head = _read_exact(sock, HEADER.size)
    n, m = HEADER.unpack(head)
    if n + m > limit:
        raise ValueError("request too large")
    meta = json.loads(_read_exact(sock, n))
    _read_exact(sock, m)
    return meta


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("short read")
        buf += chunk
    return bytes(buf)


Execute = Callable[[str], tuple[dict, bytes]]


def run_child(result_fd: int, scratch: str | None, uid: int | None, mode: str, execute: Execute) -> int:
    """Lock down, run one job, write one result frame. Returns the exit code."""
    # Its own process group, which the zygote kills whole once the result frame is read (the
    # zygote sets it too, so there is no window where a kill would miss it).
    os.setpgid(0, 0)
    # Nothing of the zygote's crosses into the jail: only 0-2 and the result channel stay open.
    lockdown.close_inherited(result_fd)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    lockdown.set_parent_death_signal()  # a fork does not inherit it: die with the zygote
    zygote = os.getppid()
    gc.freeze()  # the inherited heap is never collected here: no scans, no copy-on-write faults from gc
    started = time.monotonic()
    sock = socket.socket(fileno=result_fd)
    request = read_frame(sock)
    address_space = lockdown.address_space_now()  # read now: the jail has no /proc
    try:
        seccomp = jail.seccomp_filter(int(request["max_processes"]), None if mode == "jail" else os.getpid())
        if mode == "jail":
            jail.enter(uid, lockdown.NOGROUP, int(request["max_file_mb"]), jail.SCRATCH_INODES)
            # A uid change clears the parent-death signal: set it again, and stop if the zygote
            # died before it was set (nothing would end this job then).
            lockdown.set_parent_death_signal()
            if os.getppid() != zygote:
                os._exit(71)
            _spawn_in_pid_namespace(sock)  # returns in the process that runs the code
            scratch = "/tmp"
        else:
            assert scratch is not None
            os.chdir(scratch)
            lockdown.drop_privileges(uid)
            if os.getppid() != zygote:
                os._exit(71)
        jail.seal(seccomp)
    except (jail.JailError, OSError, ValueError) as exc:
        sock.sendall(pack({"ok": False, "kind": "sandbox", "error": f"the chart sandbox could not be set up: {exc}"}))
        return 0
    lockdown.close_inherited(result_fd)  # again: whatever the set-up opened is closed too
    lockdown.set_limits(request, address_space)
    os.environ.update(HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=scratch)
    tempfile.tempdir = scratch
    if request.get("audit_hook", True):
        sys.addaudithook(lockdown.make_audit_hook(os.path.realpath(scratch)))
    ready = time.monotonic()
    meta, png = execute(request["code"])
    # Where the time went, for benchmarks and slow-chart diagnosis (seconds).
    meta["timings"] = {
        "sandbox_setup": ready - started,
        "run_and_render": time.monotonic() - ready,
        "cpu": time.process_time(),  # this process's user+sys CPU since the fork
    }
    sock.sendall(pack(meta, png))
    sock.close()
    return 0


def _spawn_in_pid_namespace(sock: socket.socket) -> None:
    """Fork twice and return in the process that runs the code.

    The child (outside the new PID namespace) forks PID 1 of the namespace, which only waits:
    the kernel ignores signals that PID 1 has no handler for, so the code must not run there.
    PID 1 forks PID 2, which returns here. PID 1 reports PID 2's wait status to the child over a
    pipe, and the child ends the same way, so the zygote sees the code's own exit or signal.
    """
    status_r, status_w = os.pipe()
    alive_r, alive_w = os.pipe()
    init = os.fork()
    if init:  # the child: wait, then end like the code did
        sock.close()
        os.close(status_w)
        os.close(alive_r)
        os._exit(_end_like(_wait(init), status_r))
    os.close(status_r)
    os.close(alive_w)
    lockdown.set_parent_death_signal()
    os.set_blocking(alive_r, False)
    with contextlib.suppress(BlockingIOError):
        if os.read(alive_r, 1) == b"":
            os._exit(72)  # the child died before the death signal was set
    os.close(alive_r)
    runner = os.fork()
    if runner:  # PID 1
        sock.close()
        os.write(status_w, _wait(runner).to_bytes(4, "big"))
        os._exit(0)
    os.close(status_w)
    lockdown.set_parent_death_signal()


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _end_like(init_status: int, status_r: int) -> int:
    """The code's wait status if PID 1 reported it, else PID 1's own; exit or die the same way."""
    raw = os.read(status_r, 4)
    status = int.from_bytes(raw, "big") if len(raw) == 4 else init_status
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.waitstatus_to_exitcode(status)
