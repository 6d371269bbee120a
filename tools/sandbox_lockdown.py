"""Lock-down of one chart child, applied after the fork and before the code runs.

Loaded by ``tools/sandbox_worker.py`` by file path (the worker runs with ``python -I`` and must not
put tools/ on sys.path, where ``code.py`` would shadow the stdlib). Imports only the stdlib, so a
test can apply these layers without matplotlib. What each layer guarantees is described in the
worker's module docstring; the functions are called in this file's order.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal

UID_BASE = 1_900_000_000  # far above any real account; one uid per concurrent job slot
NOGROUP = 65534
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
_LIBC = ctypes.CDLL(None, use_errno=True)


def drop_privileges(uid: int | None) -> None:
    if uid is None:
        return
    os.setgroups([])
    os.setgid(NOGROUP)
    os.setuid(uid)
    _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # Credentials changed, which clears the parent-death signal: set it again.
    set_parent_death_signal()
    if os.getppid() == 1:
        os._exit(71)


def close_inherited(keep: int) -> None:
    """Close every descriptor but 0-2 and ``keep`` (the job's result channel).

    A fork inherits everything the zygote has open, and a descriptor opened outside the jail
    points at the host's mount, not the jail's read-only bind: an inherited font file owned by
    the studio's user could be ``fchmod``-ed through it. ``os.closerange`` is ``close_range(2)``
    (one call) on Linux 5.9+.
    """
    os.closerange(3, keep)
    os.closerange(keep + 1, 0x7FFFFFFF)


def remove_tree(path: str) -> None:
    """Delete a directory tree of any depth without recursion and with two descriptors at most.

    ``shutil.rmtree`` recurses (a 3,000-deep tree left by a chart raised RecursionError in the
    zygote) and walks by path (past PATH_MAX it fails). Here the walk goes down by directory
    descriptor and back up through "..", never following a symlink.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        cur = os.open(path, flags)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    names: list[str] = []
    try:
        while True:
            down = None
            with os.scandir(cur) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            down = entry.name
                            break
                        os.unlink(entry.name, dir_fd=cur)
                    except OSError:
                        continue
            if down is not None:
                with contextlib.suppress(OSError):
                    os.chmod(down, 0o700, dir_fd=cur, follow_symlinks=False)
                try:
                    nxt = os.open(down, flags, dir_fd=cur)
                except OSError:
                    os.rmdir(down, dir_fd=cur)  # raises when it cannot be entered nor removed
                    continue
                os.close(cur)
                cur, names = nxt, [*names, down]
                continue
            if not names:
                break
            up = os.open("..", flags, dir_fd=cur)
            os.close(cur)
            cur = up
            os.rmdir(names.pop(), dir_fd=cur)
    except OSError:
        pass
    finally:
        os.close(cur)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Signal this process when its parent dies (the zygote when the studio dies, a job when
    the zygote dies), so nothing outlives the studio."""
    _LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def address_space_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def set_limits(req: dict, address_space: int) -> None:
    mb = 1024 * 1024
    cpu = max(1, int(round(req["cpu_s"])))
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        # The warm image is already mapped: the limit is what the code may add on top of it.
        resource.RLIMIT_AS: (address_space + req["memory_mb"] * mb,) * 2,
        resource.RLIMIT_FSIZE: (req["max_file_mb"] * mb,) * 2,
        resource.RLIMIT_NOFILE: (64, 64),
        resource.RLIMIT_CORE: (0, 0),
        # queued signals are counted per user: the chart's own limit keeps it from using up the
        # share of the studio's uid (a normal user) that the studio itself needs
        resource.RLIMIT_SIGPENDING: (64, 64),
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


def make_audit_hook(scratch: str):
    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor
        try:
            p = os.fsdecode(os.fspath(path))  # type: ignore[call-overload]
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
            p = os.path.abspath(os.fsdecode(os.fspath(path)))  # type: ignore[call-overload]
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
                    raise PermissionError(f"the chart sandbox refuses {event} outside its scratch directory: {arg!r}")

    return hook
