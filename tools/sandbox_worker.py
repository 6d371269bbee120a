"""The chart worker: a warm "zygote" that forks one sandboxed child per job.

This file runs as its own interpreter (``python -I tools/sandbox_worker.py <control fd> <base dir> <mode> <slots>``),
started by ``tools.sandbox.Sandbox`` with a minimal environment; it imports nothing of the project.

The zygote imports matplotlib (Agg), numpy, pandas and seaborn once, then waits on its control
socket. Each job arrives as two file descriptors: ``result`` (the child reads the request from it
and writes its result into it) and ``status`` (the zygote writes the exit status after reaping the
child). Forking gives every chart a fresh copy of the warm interpreter, so nothing leaks from one
chart to the next, and the zygote itself never runs model-written code.

Each job's child builds its isolation before the code runs (``sandbox_child.run_child``):

1. The jail (``sandbox_jail``), the same for a root studio and a normal user: fresh user, PID,
   mount, network, IPC, UTS and cgroup namespaces; a read-only root holding only /usr, the
   interpreter's stdlib and site-packages, a few /etc files and /dev/null & co.; a size- and
   inode-capped private tmpfs at /tmp as scratch; no /proc, /sys or /home. The code runs as PID 2
   of its own PID namespace with no capabilities, ``no_new_privs`` and a seccomp filter (libseccomp)
   that refuses sockets, ptrace, SysV/POSIX IPC, namespace and mount calls, keyctl, bpf,
   perf_event_open, io_uring, exec, memfds and descriptor passing, inotify and (with
   max_processes 1) any new process or thread. Before any of it, every descriptor but 0-2 and
   the job's result channel is closed, and the zygote holds no font files to hand down.
   Where the kernel refuses unprivileged namespaces the code tool is off, unless the studio was
   started with the weak mode (``STUDIO_CODE_WEAK_SANDBOX``): no namespaces, a root studio still
   drops to the job's own uid, and the seccomp filter (which then also confines signals to the
   job itself), rlimits and the audit hook apply.
2. rlimits: CPU seconds, address space (MemoryError), file size, open files, no core dumps.
3. An audit hook (PEP 578) with clear errors for sockets, processes, signals, ctypes and writes
   outside scratch. A convenience layer only: the code can switch it off, and nothing relies on it.

The environment is built from scratch by the parent, so the child's ``os.environ`` holds no
secrets; the wall-clock timeout is enforced here by the zygote (SIGKILL) and again by the parent.
The zygote survives anything a job leaves behind: a job's scratch lives in its own mount
namespace and vanishes with it (the weak mode's on-disk scratch is removed iteratively).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import json
import os
import selectors
import signal
import socket
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

MAX_SLOTS = 64  # the most a studio may ask for; the parent passes its own bound (Sandbox max_jobs)
MAX_INCHES = (16.0, 12.0)
DPI = 100
MAX_PNG_BYTES = 8 * 1024 * 1024
MAX_ERROR_CHARS = 10_000  # the block shows 2,000; the frame's JSON part stays small


def _load(name: str):  # noqa: ANN202 - a module object
    """Load tools/<name>.py by path: tools/ must not go on sys.path (code.py there would shadow
    the stdlib module of that name)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


lockdown = _load("sandbox_lockdown")
jail = _load("sandbox_jail")
child = _load("sandbox_child")
pack = child.pack
_SAVEFIG = Figure.savefig  # the real one; the code only ever sees a no-op


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
    _close_fonts()


def _close_fonts() -> None:
    """Let go of every font file the warm-up opened.

    matplotlib keeps each font it used open (``FT2Font`` reads glyphs lazily through the file),
    in its font cache and in the mathtext cache. Those descriptors point at the host's mount:
    a chart that inherited one could ``fchmod`` or ``futimens`` the real font file where the
    studio's user owns the venv. Dropped here, a chart opens the fonts it needs itself, inside
    the jail, through the read-only bind (a few milliseconds per chart); the glyph and layout
    caches of the warm-up stay.
    """
    from matplotlib import mathtext

    font_manager._get_font.cache_clear()  # type: ignore[attr-defined]
    mathtext.MathTextParser._parse_cached.cache_clear()  # type: ignore[attr-defined]
    gc.collect()


class Zygote:
    """Forks one child per job and owns it until it is reaped.

    A job ends at whichever comes first: the studio writes a byte on (or closes) the job's
    status socket, which it does once it has read the result frame, so a chart that sends its
    result and keeps running is killed at once; the wall-clock deadline; or the child's own
    exit. Each end kills the job's whole process group, and the slot is free again only when
    the child is reaped, so at most ``slots`` charts exist at any moment.
    """

    def __init__(self, control_fd: int, base_dir: str, mode: str, slots: int) -> None:
        self.ctrl = socket.socket(fileno=control_fd)
        self.base_dir = base_dir
        self.mode = mode
        self.jobs: dict[int, dict] = {}  # pid -> {slot, deadline, status sock, scratch, timed_out}
        self.free_slots = list(range(max(1, min(slots, MAX_SLOTS))))
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
                if isinstance(key.data, int):  # a job's status socket: the studio is done with it
                    self._end(key.data)
                elif key.fileobj == self.wake_r:
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
        uid = lockdown.UID_BASE + slot if os.geteuid() == 0 else None
        scratch = None  # the jail's scratch is a tmpfs inside its own mount namespace
        if self.mode != "jail":
            scratch = tempfile.mkdtemp(prefix="job-", dir=self.base_dir)
            if uid is not None:
                os.chown(scratch, uid, lockdown.NOGROUP)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                # run_child closes every descriptor but its result channel (close_range); the
                # zygote's socket objects stay alive here, never collected, so none of them
                # closes a number the job has reused.
                status.detach()
                code = child.run_child(result_fd, scratch, uid, self.mode, execute)
            finally:
                os._exit(code)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # the child does the same; whoever comes first wins the race
        os.close(result_fd)
        self.jobs[pid] = {
            "slot": slot,
            "status": status,
            "scratch": scratch,
            "deadline": time.monotonic() + float(job["timeout_s"]),
            "timed_out": False,
        }
        self.sel.register(status, selectors.EVENT_READ, pid)
        return True

    def _end(self, pid: int) -> None:
        """The studio has the job's result (or gave up on it): kill the job's process group."""
        job = self.jobs.get(pid)
        if job is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(job["status"])
        _kill_group(pid)

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
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(job["status"])
            _kill_group(pid, reaped=True)  # what the job left in its group (the weak mode has no PID namespace)
            if job["scratch"] is not None:  # before the report: gone when run() returns
                lockdown.remove_tree(job["scratch"])
            with contextlib.suppress(OSError):
                job["status"].sendall(pack(report))
            job["status"].close()
            self.free_slots.append(job["slot"])

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for pid, job in self.jobs.items():
            if not job["timed_out"] and now >= job["deadline"]:
                job["timed_out"] = True
                _kill_group(pid)

    def _shutdown(self) -> None:
        for pid in list(self.jobs):
            _kill_group(pid)
        deadline = time.monotonic() + 5
        while self.jobs and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.01)


def _kill_group(pid: int, *, reaped: bool = False) -> None:
    """SIGKILL the job's process group (its child, PID 1 and the code), or the child alone when
    it has not joined its group yet. Once reaped, only the group: the pid itself may be reused,
    while a group id is not as long as any member lives."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        if not reaped:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- the code


def _no_datasets(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError(
        "sns.load_dataset() downloads data from the internet, which charts may not do: write the data inline"
    )


def execute(code: str) -> tuple[dict, bytes]:
    """Run the code with plt/pd/sns/np, then render the current figure as PNG."""
    plt.show = lambda *a, **k: None
    plt.savefig = lambda *a, **k: None
    Figure.savefig = lambda self, *a, **k: None  # type: ignore[method-assign]
    sns.load_dataset = _no_datasets  # it downloads; say so plainly (the repair turn reads this)
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
        return {"ok": False, "kind": "exception", "error": last[:MAX_ERROR_CHARS]}, b""
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
    control_fd, base_dir, mode, slots = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    # SIGTERM (not SIGKILL) when the studio dies, so the running jobs are killed and the scratch
    # tree is removed even when nobody called Sandbox.close().
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    lockdown.set_parent_death_signal(signal.SIGTERM)
    zygote = None
    try:
        if os.getppid() == 1:
            return  # the studio died while we were starting
        _configure_matplotlib()
        gc.freeze()  # keep the warm image's objects out of the children's collections (copy-on-write friendly)
        zygote = Zygote(control_fd, base_dir, mode, slots)
        zygote.serve()
    finally:
        # The studio's death comes as EOF on the control socket and as SIGTERM at once: the
        # second must not interrupt the cleanup the first started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if zygote is not None:
            zygote._shutdown()
        lockdown.remove_tree(base_dir)


if __name__ == "__main__":
    main()
