"""Lock-down of one chart child, applied after the fork and before the code runs.

Loaded by ``tools/sandbox_worker.py`` by file path (the worker runs with ``python -I`` and must not
put tools/ on sys.path, where ``code.py`` would shadow the stdlib). Imports only the stdlib, so a
test can apply these layers without matplotlib. What each layer guarantees is described in the
worker's module docstring; the functions are called in this file's order.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

UID_BASE = 1_900_000_000  # far above any real account; one uid per concurrent job slot
NOGROUP = 65534
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 0x1, 0x2, 0x4, 0x20, 0x1000, 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
TMPFS_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
HIDDEN_DIRS = ("/root", "/home")
_LIBC = ctypes.CDLL(None, use_errno=True)


def isolate_namespaces(max_file_mb: int) -> None:
    if _LIBC.unshare(CLONE_NEWNET) != 0:
        return  # not permitted: the audit hook is the only network barrier
    if _LIBC.unshare(CLONE_NEWNS) != 0:
        return
    if _LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return
    opts = f"size={max(1, max_file_mb)}m,mode=1777".encode()
    for d in TMPFS_DIRS:
        if os.path.isdir(d):
            # A private, empty temp dir; the interpreter or venv may live below it (a checkout in
            # /tmp), so needed paths are bound back in read-only.
            _cover(d, _needed_below(d), opts, read_only=False)
    for hidden in _hide_roots():
        _cover(hidden, _needed_below(hidden), b"size=64k,mode=755", read_only=True)


def _needed_below(directory: str) -> list[str]:
    return [n for n in _NEEDED if n.startswith(directory.rstrip(os.sep) + os.sep)]


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


def _cover(target: str, keep: list[str], opts: bytes, *, read_only: bool) -> None:
    """Mount an empty tmpfs over ``target``, then bind the ``keep`` paths back in, read-only.

    The kept directories are held open (O_PATH) before the tmpfs hides them and bound back from
    /proc/self/fd, so this works for any target, /tmp included.
    """
    held: list[tuple[int, str]] = []
    for path in keep:
        try:
            held.append((os.open(path, os.O_PATH | os.O_DIRECTORY), path))
        except OSError:
            continue
    try:
        if _LIBC.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
            return
        for fd, path in held:
            os.makedirs(path, mode=0o755, exist_ok=True)
            if _LIBC.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None) == 0:
                _LIBC.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
        if read_only:
            _LIBC.mount(None, target.encode(), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    finally:
        for fd, _ in held:
            os.close(fd)


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


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Signal this process when its parent dies (the zygote when the studio dies, a job when
    the zygote dies), so nothing outlives the studio."""
    _LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _address_space_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def set_limits(req: dict) -> None:
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
