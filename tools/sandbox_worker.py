"""The chart worker: a warm "zygote" that forks one sandboxed child per job.

This file runs as its own interpreter (``python -I tools/sandbox_worker.py <control fd> <base dir>``),
started by ``tools.sandbox.Sandbox`` with a minimal environment; it imports nothing of the project.

The zygote imports matplotlib (Agg), numpy, pandas and seaborn once, then waits on its control
socket. Each job arrives as two file descriptors: ``result`` (the child reads the request from it
and writes its result into it) and ``status`` (the zygote writes the exit status after reaping the
child). Forking gives every chart a fresh copy of the warm interpreter, so nothing leaks from one
chart to the next, and the zygote itself never runs model-written code.

The child locks itself down before it runs the code, in this order (what each layer guarantees):

1. ``unshare(CLONE_NEWNET | CLONE_NEWNS)`` (needs root / CAP_SYS_ADMIN): a new network namespace
   with only a loopback that is down, so no connection can be made, not even to 127.0.0.1; a new
   mount namespace where /tmp, /var/tmp, /dev/shm and /run/lock are fresh private tmpfs, so
   world-writable places are empty and vanish with the child; /root, /home and any closed
   directory above the interpreter are covered by an empty tmpfs with only the interpreter's
   stdlib and site-packages bound back in, read-only.
   Skipped when not permitted. Other world-readable files (the repository, /etc) stay readable:
   keep secrets in files only the studio's user can read (mode 600).
2. Drop to a per-job unprivileged uid (``UID_BASE + slot``) and gid nogroup, no supplementary
   groups, ``no_new_privs``: the kernel refuses writes to files owned by others (the repository,
   the home directory), reading ``/proc/<pid>/environ`` of any other process, and signalling or
   tracing the concurrent jobs (each has its own uid). Skipped when not root.
3. rlimits: CPU seconds (SIGXCPU, then SIGKILL), address space (MemoryError), processes, file size,
   open files, no core dumps. Hard limits are lowered too, so the code cannot raise them again.
4. An audit hook (PEP 578) that refuses sockets, process creation, signals, ctypes, and writing,
   deleting or renaming anything outside the scratch directory. Audit hooks are NOT a security
   boundary on their own (CPython says so); they give clear errors and a second line of defence.
   They are the only network barrier where layer 1 is not permitted.

The environment is built from scratch by the parent, so the child's ``os.environ`` holds no
secrets; the wall-clock timeout is enforced here by the zygote (SIGKILL) and again by the parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

HEADER = struct.Struct(">II")  # json length, blob length
UID_BASE = 1_900_000_000  # far above any real account; one uid per concurrent job slot
NOGROUP = 65534
MAX_SLOTS = 64
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 0x1, 0x2, 0x4, 0x20, 0x1000, 0x4000
MS_PRIVATE, MNT_DETACH = 0x40000, 0x2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
TMPFS_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
HIDDEN_DIRS = ("/root", "/home")
MAX_INCHES = (16.0, 12.0)
DPI = 100
MAX_PNG_BYTES = 8 * 1024 * 1024
_LIBC = ctypes.CDLL(None, use_errno=True)
_SAVEFIG = Figure.savefig  # the real one; the code only ever sees a no-op


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


# ---------------------------------------------------------------- zygote


def _configure_matplotlib() -> None:
    """Quiet fonts, CJK fallback when such a font is installed, fixed DPI."""
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    names = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [
        n for n in ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback") if n in names
    ]
    plt.rcParams["font.sans-serif"] = ["DejaVu Sans", *cjk, *plt.rcParams["font.sans-serif"]]
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["figure.dpi"] = DPI
    plt.rcParams["savefig.dpi"] = DPI
    _warm_up()


# Charts drawn once in the zygote: every forked child inherits the lazy imports, font and glyph
# caches, and seaborn/pandas plotting code paths they fill, instead of paying for them per chart.
_WARM_UP = """
df = pd.DataFrame({"k": ["a", "b", "c"], "v": [1.0, 3.0, 2.0], "g": ["x", "y", "x"]})
fig, axes = plt.subplots(2, 3, figsize=(9, 6))
sns.barplot(data=df, x="k", y="v", hue="g", ax=axes[0, 0])
sns.lineplot(data=df, x="k", y="v", marker="o", ax=axes[0, 1])
sns.scatterplot(data=df, x="v", y="v", hue="g", ax=axes[0, 2])
sns.histplot(np.random.default_rng(0).normal(size=50), kde=True, ax=axes[1, 0])
sns.heatmap(np.eye(3), annot=True, ax=axes[1, 1])
df.set_index("k")["v"].plot(kind="bar", ax=axes[1, 2], title="warm 中文 $x^2$")
axes[1, 2].pie([1, 2, 3], labels=["a", "b", "c"], autopct="%1.0f%%")
axes[0, 0].legend(title="legend")
axes[0, 1].set_xlabel("x 轴")
fig.suptitle("warm-up")
fig.tight_layout()
"""


def _warm_up() -> None:
    namespace = {"plt": plt, "pd": pd, "sns": sns, "np": np}
    exec(_WARM_UP, namespace)
    plt.gcf().savefig(io.BytesIO(), format="png", dpi=DPI)
    plt.close("all")
    execute("plt.plot([1, 2])")  # and the children's own path once (it also installs the no-op show/savefig)
    plt.close("all")


class Zygote:
    def __init__(self, control_fd: int, base_dir: str) -> None:
        self.ctrl = socket.socket(fileno=control_fd)
        self.base_dir = base_dir
        self.jobs: dict[int, dict] = {}  # pid -> {slot, deadline, status sock, scratch, timed_out}
        self.free_slots = list(range(MAX_SLOTS))
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)

    def serve(self) -> None:
        self.sel = sel = selectors.DefaultSelector()
        sel.register(self.ctrl, selectors.EVENT_READ)
        sel.register(self.wake_r, selectors.EVENT_READ)
        versions = f"python {sys.version.split()[0]} / matplotlib {matplotlib.__version__}"
        self.ctrl.send(json.dumps({"ready": True, "runtime": versions}).encode())
        while True:
            timeout = None
            if self.jobs:
                timeout = max(0.0, min(j["deadline"] for j in self.jobs.values()) - time.monotonic())
            for key, _ in sel.select(timeout):
                if key.fileobj is self.ctrl and not self._accept():
                    self._shutdown()
                    return
                if key.fileobj == self.wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
            self._reap()
            self._enforce_deadlines()

    def _accept(self) -> bool:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(self.ctrl, 4096, 2)
        except OSError:
            return False
        if not msg:
            return False
        result_fd, status_fd = fds
        status = socket.socket(fileno=status_fd)
        if not self.free_slots:
            os.close(result_fd)
            status.sendall(pack({"error": "too many charts at once"}))
            status.close()
            return True
        job = json.loads(msg)
        slot = self.free_slots.pop()
        scratch = tempfile.mkdtemp(prefix="job-", dir=self.base_dir)
        uid = UID_BASE + slot if os.geteuid() == 0 else None
        if uid is not None:
            os.chown(scratch, uid, NOGROUP)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                status.detach()
                for fd in (self.ctrl.fileno(), self.sel.fileno(), self.wake_r, self.wake_w, status_fd):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                for other in self.jobs.values():
                    with contextlib.suppress(OSError):
                        os.close(other["status"].fileno())
                code = run_child(result_fd, scratch, uid)
            finally:
                os._exit(code)
        os.close(result_fd)
        self.jobs[pid] = {
            "slot": slot,
            "status": status,
            "scratch": scratch,
            "deadline": time.monotonic() + float(job["timeout_s"]),
            "timed_out": False,
        }
        return True

    def _reap(self) -> None:
        while self.jobs:
            try:
                pid, wstatus, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self.jobs.pop(pid, None)
            if job is None:
                continue
            report = {
                "exit": os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else None,
                "signal": os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus) else None,
                "timed_out": job["timed_out"],
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
            shutil.rmtree(job["scratch"], ignore_errors=True)  # before the report: gone when run() returns
            with contextlib.suppress(OSError):
                job["status"].sendall(pack(report))
            job["status"].close()
            self.free_slots.append(job["slot"])

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for pid, job in self.jobs.items():
            if not job["timed_out"] and now >= job["deadline"]:
                job["timed_out"] = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _shutdown(self) -> None:
        for pid in list(self.jobs):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.jobs and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.01)


# ---------------------------------------------------------------- child


def run_child(result_fd: int, scratch: str, uid: int | None) -> int:
    """Lock down, run one job, write one result frame. Returns the exit code."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    gc.freeze()  # the inherited heap is never collected here: no scans, no copy-on-write faults from gc
    started = time.monotonic()
    sock = socket.socket(fileno=result_fd)
    request = read_frame(sock)
    os.chdir(scratch)
    _isolate_namespaces(request["max_file_mb"])
    _drop_privileges(uid)
    _set_limits(request)
    os.environ["HOME"] = scratch
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    sys.addaudithook(_make_audit_hook(os.path.realpath(scratch)))
    ready = time.monotonic()
    meta, png = execute(request["code"])
    # Where the time went, for benchmarks and slow-chart diagnosis (seconds).
    meta["timings"] = {
        "sandbox_setup": ready - started,
        "run_and_render": time.monotonic() - ready,
        "cpu": time.process_time(),  # this child's user+sys CPU since the fork
    }
    sock.sendall(pack(meta, png))
    sock.close()
    return 0


def _isolate_namespaces(max_file_mb: int) -> None:
    if _LIBC.unshare(CLONE_NEWNET) != 0:
        return  # not permitted: the audit hook is the only network barrier
    if _LIBC.unshare(CLONE_NEWNS) != 0:
        return
    if _LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return
    opts = f"size={max(1, max_file_mb)}m,mode=1777".encode()
    for d in TMPFS_DIRS:
        if os.path.isdir(d):
            _LIBC.mount(b"tmpfs", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts)
    for hidden in _hide_roots():
        _hide_except(hidden, [n for n in _NEEDED if n.startswith(hidden + os.sep)])


def _needed_paths() -> list[str]:
    """Directories the child must still read after lock-down: the stdlib and site-packages
    (code may import modules the zygote did not), reduced to the top-most ones."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, *sys.path) if p and os.path.isdir(p)}
    kept: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p == k or p.startswith(k + os.sep) for k in kept):
            kept.append(p)
    return kept


_NEEDED = _needed_paths()


def _hide_roots() -> list[str]:
    """/root, /home, and any non-world-traversable directory above a needed path (which the
    unprivileged child could not enter anyway, e.g. a pyenv under /root)."""
    roots = {d for d in HIDDEN_DIRS if os.path.isdir(d)}
    for n in _NEEDED:
        parts = n.split(os.sep)
        for i in range(2, len(parts)):
            anc = os.sep.join(parts[:i])
            if not os.stat(anc).st_mode & 0o001:
                roots.add(anc)
                break
    # Keep the top-most only, and never a needed path itself.
    top = [r for r in roots if not any(r != o and r.startswith(o + os.sep) for o in roots)]
    return [r for r in top if r not in _NEEDED]


def _hide_except(hidden: str, keep: list[str]) -> None:
    """Cover ``hidden`` with an empty read-only tmpfs, then bind the ``keep`` paths back in
    (read-only), staged through the private /tmp."""
    staged = []
    for i, path in enumerate(keep):
        stage = f"/tmp/.keep{i}"
        os.makedirs(stage, exist_ok=True)
        if _LIBC.mount(path.encode(), stage.encode(), None, MS_BIND | MS_REC, None) == 0:
            staged.append((stage, path))
    if _LIBC.mount(b"tmpfs", hidden.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=755") != 0:
        for stage, _ in staged:
            _LIBC.umount2(stage.encode(), MNT_DETACH)
        return
    for stage, path in staged:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _LIBC.mount(stage.encode(), path.encode(), None, MS_BIND | MS_REC, None)
        _LIBC.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
        _LIBC.umount2(stage.encode(), MNT_DETACH)
        os.rmdir(stage)
    _LIBC.mount(None, hidden.encode(), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def _drop_privileges(uid: int | None) -> None:
    if uid is None:
        return
    os.setgroups([])
    os.setgid(NOGROUP)
    os.setuid(uid)
    _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # Credentials changed, which clears the parent-death signal: set it again.
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(71)


def _address_space_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _set_limits(req: dict) -> None:
    mb = 1024 * 1024
    cpu = max(1, int(round(req["cpu_s"])))
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        # The warm image is already mapped: the limit is what the code may add on top of it.
        resource.RLIMIT_AS: (_address_space_now() + req["memory_mb"] * mb,) * 2,
        resource.RLIMIT_FSIZE: (req["max_file_mb"] * mb,) * 2,
        resource.RLIMIT_NOFILE: (64, 64),
        resource.RLIMIT_CORE: (0, 0),
    }
    if os.getuid() != 0:  # root ignores RLIMIT_NPROC; it only means something per unprivileged uid
        limits[resource.RLIMIT_NPROC] = (req["max_processes"],) * 2
    for which, value in limits.items():
        resource.setrlimit(which, value)


_BLOCKED_EVENTS = (
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "signal.pthread_kill",
    "ctypes.",
    "pty.",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
)
_PATH_EVENTS = {
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "shutil.rmtree",
    "shutil.move",
    "shutil.copyfile",
    "shutil.copytree",
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _make_audit_hook(scratch: str):
    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor
        try:
            p = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
        except TypeError:
            return True
        if p == os.devnull:
            return True
        full = os.path.realpath(os.path.join(scratch, p))
        return full == scratch or full.startswith(scratch + os.sep)

    own = {"self", "thread-self", str(os.getpid())}

    def other_process(path: object) -> bool:
        # /proc/<other pid>/... (environ, cmdline, mem): the kernel already refuses these across
        # uids; this covers the non-root case, where the code runs as the studio's own uid.
        if isinstance(path, int):
            return False
        try:
            p = os.path.abspath(os.fsdecode(os.fspath(path)))  # type: ignore[arg-type]
        except TypeError:
            return False
        parts = p.split(os.sep)
        return len(parts) > 3 and parts[1] == "proc" and parts[2] not in own

    def hook(event: str, args: tuple) -> None:
        if event.startswith(_BLOCKED_EVENTS):
            raise PermissionError(f"the chart sandbox does not allow {event}")
        if event == "import" and args and str(args[0]).split(".")[0] in ("ctypes", "_ctypes", "subprocess"):
            raise PermissionError(f"the chart sandbox does not allow importing {args[0]}")
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
            if writes and not inside(path):
                raise PermissionError(f"the chart sandbox only allows writing inside its scratch directory: {path}")
            if other_process(path):
                raise PermissionError(f"the chart sandbox does not allow reading other processes' files: {path}")
        elif event in _PATH_EVENTS:
            for arg in args:
                if isinstance(arg, str | bytes | os.PathLike) and not inside(arg):
                    raise PermissionError(f"the chart sandbox refuses {event} outside its scratch directory: {arg}")

    return hook


def execute(code: str) -> tuple[dict, bytes]:
    """Run the code with plt/pd/sns/np, then render the current figure as PNG."""
    plt.show = lambda *a, **k: None
    plt.savefig = lambda *a, **k: None
    Figure.savefig = lambda self, *a, **k: None
    namespace = {"__name__": "__main__", "plt": plt, "pd": pd, "sns": sns, "np": np}
    try:
        exec(compile(code, "<chart>", "exec"), namespace)
    except SystemExit:
        pass  # sys.exit() ends the code; whatever it drew still counts
    except MemoryError:
        namespace.clear()
        gc.collect()
        return {"ok": False, "kind": "memory", "error": "MemoryError"}, b""
    except BaseException as exc:  # noqa: BLE001 - any failure of the code is data for the block
        namespace.clear()
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {"ok": False, "kind": "exception", "error": last}, b""
    namespace.clear()  # frees the code's data before rendering; no gc.collect(): a full pass costs ~0.3 s
    if not plt.get_fignums():
        return {"ok": False, "kind": "no_figure", "error": "the code drew no figure"}, b""
    try:
        fig = plt.gcf()
        w, h = fig.get_size_inches()
        scale = min(1.0, MAX_INCHES[0] / max(w, 0.1), MAX_INCHES[1] / max(h, 0.1))
        if scale < 1.0:
            fig.set_size_inches(w * scale, h * scale)
        buf = io.BytesIO()
        _SAVEFIG(fig, buf, format="png", dpi=DPI)
    except MemoryError:
        return {"ok": False, "kind": "memory", "error": "MemoryError"}, b""
    except Exception as exc:  # noqa: BLE001
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {"ok": False, "kind": "render", "error": f"the figure could not be rendered: {last}"}, b""
    png = buf.getvalue()
    if len(png) > MAX_PNG_BYTES:
        return {"ok": False, "kind": "too_big", "error": "the rendered chart is larger than 8 MB"}, b""
    return {"ok": True}, png


def main() -> None:
    control_fd, base_dir = int(sys.argv[1]), sys.argv[2]
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        return  # the studio died while we were importing
    _configure_matplotlib()
    gc.freeze()  # keep the warm image's objects out of the children's collections (copy-on-write friendly)
    Zygote(control_fd, base_dir).serve()


if __name__ == "__main__":
    main()
