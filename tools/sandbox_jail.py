"""The chart jail: kernel isolation of one chart, set up in the forked child before the code runs.

Loaded by file path like ``sandbox_lockdown.py`` (stdlib + ``pyseccomp`` only). The same steps
run whether the studio is root or a normal user; see docs/architecture.md, "The chart sandbox".

1. ``open_sources``: every path the chart may read (the Python stdlib and site-packages, /usr,
   a few /etc files, /dev/null & co.) is opened O_PATH while the child still can reach it.
2. ``enter``: root first drops to the job's own unprivileged uid. Then one ``unshare`` of user,
   PID, mount, network, IPC, UTS and cgroup namespaces, and a uid/gid map of just that one uid.
   The child forks: the grandchild is PID 1 of a fresh PID namespace (it cannot see or signal any
   process outside it; when it ends, the kernel kills everything it left behind).
3. ``build_root`` (grandchild): a new root on a small tmpfs with only the sources bound back in,
   read-only, a size- and inode-capped tmpfs at /tmp as scratch (the disk quota; it vanishes with
   the namespace, so nothing needs deleting), no /proc, /sys or /home; ``pivot_root`` into it and
   detach the old root.
4. ``seal``: drop every capability (bounding set included), ``no_new_privs``, then the seccomp
   filter (``seccomp_filter``), which the code can never remove.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import sys

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x10000000, 0x20000000, 0x40000000
NS_FLAG_LIST = (CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET)
NS_FLAGS = sum(NS_FLAG_LIST)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_PRIVATE = 1024, 2048, 1 << 21, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
F_SETPIPE_SZ = 1031
SCRATCH_INODES = 4096  # files and directories a chart may create in its scratch
ROOT = "/tmp"  # the mount point of the new root inside the child's own mount namespace
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_LIBC.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_LIBC.unshare.argtypes = [ctypes.c_int]
_LIBC.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class JailError(Exception):
    """A step of the jail failed; the message names the step and the kernel's answer."""


def _check(ok: bool, what: str) -> None:
    if not ok:
        code = ctypes.get_errno()
        raise JailError(f"{what}: {errno.errorcode.get(code, code)} ({os.strerror(code)})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    _check(_LIBC.mount(enc[0], enc[1], enc[2], flags, enc[3]) == 0, f"mount {target}")


# ------------------------------------------------------------------ 1. sources


def python_paths() -> list[str]:
    """The interpreter's stdlib and site-packages (never the project: its files stay out)."""
    import sysconfig

    # Only these: a .pth file may put the project on sys.path, and the project (with its .env or
    # data folder) must stay out of the jail.
    paths = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})


def open_sources() -> list[tuple[int, str, bool]]:
    """(O_PATH fd, path, is a directory) for everything bound into the new root; symlinks are
    recorded as (-1, path) and recreated as symlinks."""
    wanted = [*SYSTEM_DIRS, *ETC_FILES, *DEVICES, *python_paths()]
    top: list[str] = []
    for p in sorted(set(wanted), key=len):  # the top-most only: /usr covers /usr/lib/python3
        if not any(p == t or p.startswith(t.rstrip("/") + "/") for t in top):
            top.append(p)
    held: list[tuple[int, str, bool]] = []
    for p in top:
        if os.path.islink(p):
            held.append((-1, p, False))
            continue
        try:
            fd = os.open(p, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        held.append((fd, p, os.path.isdir(p)))
    return held


# ------------------------------------------------------------------ 2. + 3. namespaces, new root


def enter(uid: int | None, gid: int, scratch_mb: int, scratch_inodes: int) -> None:
    """Enter fresh namespaces and pivot into the new root.

    uid None (a normal user): one ``unshare`` of every namespace, map the own uid to 0 inside,
    then build the root. uid set (the studio is root): build the root first in a private mount
    namespace while still root (so it can read an interpreter below /root), then drop to ``uid``
    and unshare every namespace, the mount one again, which locks the read-only tree.
    Either way the caller then forks: the PID namespace holds only its children.
    """
    if uid is None:
        _unshare_all()
        build_root(scratch_mb, scratch_inodes, None)
        return
    _check(_LIBC.unshare(CLONE_NEWNS) == 0, "unshare(mount namespace)")
    proc_self = os.open("/proc/self", os.O_PATH | os.O_DIRECTORY)
    build_root(scratch_mb, scratch_inodes, (uid, gid))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _unshare_all(proc_self)
    os.close(proc_self)


def _unshare_all(proc_self: int | None = None) -> None:
    outer_uid, outer_gid = os.getuid(), os.getgid()
    # A uid change makes the process non-dumpable, which makes /proc/self/*_map root-owned.
    _LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    _check(_LIBC.unshare(NS_FLAGS) == 0, "unshare(user, pid, mount, net, ipc, uts, cgroup namespaces)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {outer_uid} 1"), ("gid_map", f"0 {outer_gid} 1")):
        try:
            fd = os.open(name if proc_self is not None else f"/proc/self/{name}", os.O_WRONLY, dir_fd=proc_self)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            raise JailError(f"writing /proc/self/{name}: {exc.strerror}") from None
    _LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _keep_flags(fd: int, device: bool) -> int:
    """The mount flags a read-only remount must keep (a locked mount refuses to lose them).

    Every bind is nodev except the device nodes themselves (/dev/null & co.): a nodev mount
    refuses to open a device, so ``open("/dev/null")`` would fail with EACCES. Only those five
    nodes are bound, and the chart cannot make new ones (mknod needs a capability it has not).
    """
    f = os.statvfs(f"/proc/self/fd/{fd}").f_flag
    keep = MS_NOSUID | (MS_NODEV if not device or f & 4 else 0)  # 4: ST_NODEV
    for st, ms in ((8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME), (4096, MS_RELATIME)):
        if f & st:
            keep |= ms
    return keep


def build_root(scratch_mb: int, scratch_inodes: int, owner: tuple[int, int] | None) -> None:
    """Pivot into a new read-only root holding only the sources and a capped tmpfs at /tmp."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    held = open_sources()  # in this mount namespace: a bind from another one is refused
    _mount("tmpfs", ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,nr_inodes=4096,mode=0755")
    # Scratch first: a source below /tmp (an interpreter or venv there) is bound inside it, read-only.
    os.makedirs(ROOT + "/tmp", mode=0o700)
    opts = f"size={scratch_mb}m,nr_inodes={scratch_inodes},mode=0700"
    if owner is not None:
        opts += f",uid={owner[0]},gid={owner[1]}"
    _mount("tmpfs", ROOT + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts)
    for fd, path, is_dir in held:
        dest = ROOT + path
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        if fd < 0:
            os.symlink(os.readlink(path), dest)
            continue
        if is_dir:
            os.makedirs(dest, mode=0o755, exist_ok=True)
        else:
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY, 0o644))
        keep = _keep_flags(fd, path in DEVICES)
        _mount(f"/proc/self/fd/{fd}", dest, None, MS_BIND | MS_REC)
        _mount(None, dest, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        os.close(fd)
    os.mkdir(ROOT + "/.oldroot", 0o700)
    _mount(None, ROOT, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _check(_syscall("pivot_root", ROOT.encode(), (ROOT + "/.oldroot").encode()) == 0, "pivot_root")
    os.chdir("/")
    _check(_LIBC.umount2(b"/.oldroot", MNT_DETACH) == 0, "detaching the old root")
    os.chdir("/tmp")


def _syscall(name: str, *args: bytes) -> int:
    import pyseccomp

    number = pyseccomp.resolve_syscall(pyseccomp.system_arch(), name)
    return int(_LIBC.syscall(ctypes.c_long(number), *[ctypes.c_char_p(a) for a in args]))


# ------------------------------------------------------------------ 4. seal


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets."""
    for cap in range(64):
        if _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # EINVAL past the kernel's last capability
    _LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(_LIBC.capset(header, data) == 0, "dropping capabilities")


def no_new_privs() -> None:
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs")


DENIED = (
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
    # SysV and POSIX message-queue IPC (POSIX shm needs /dev/shm, which the jail has not)
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
    "msgget", "msgsnd", "msgrcv", "msgctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # keys, kernel interfaces, the machine
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "quotactl", "syslog", "acct",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "iopl", "ioperm", "vhangup", "personality",
    # no program may be started
    "execve", "execveat",
    # memory the kernel holds outside RLIMIT_AS: anonymous files, and descriptors parked in
    # flight on a socket (SCM_RIGHTS needs sendmsg; the result channel only uses send/recv)
    "memfd_create", "memfd_secret", "socketpair", "sendmsg", "sendmmsg",
    # per-user kernel objects a chart could use up for the studio's own uid (a normal user)
    "inotify_init", "inotify_init1",
    # leaving the job's process group, which the zygote kills once the result frame is read
    "setsid", "setpgid",
)  # fmt: skip


def seccomp_filter(max_processes: int = 1, own_pid: int | None = None):  # noqa: ANN201 - a SyscallFilter
    """Allow by default; deny the calls above with EPERM, every ``socket``, growing a pipe
    (F_SETPIPE_SZ: kernel memory), and namespace flags on clone (clone3 answers ENOSYS, so libc
    falls back to the checkable clone). max_processes 1: no new process either (threads stay possible, within
    the address-space limit). own_pid (the weak mode, which has no PID namespace): signals only
    to that process."""
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    names = list(DENIED)
    if max_processes <= 1:
        names += ["fork", "vfork", "clone"]
    if own_pid is not None:
        names += ["pidfd_open", "pidfd_send_signal"]
        for call in ("kill", "tgkill", "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
            f.add_rule(deny, call, sc.Arg(0, sc.NE, own_pid))
    for name in names:
        try:
            f.add_rule(deny, name)
        except (OSError, RuntimeError, ValueError):
            continue  # not a call on this architecture
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket")
    f.add_rule(deny, "fcntl", sc.Arg(1, sc.EQ, F_SETPIPE_SZ))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    if max_processes > 1:
        for flag in NS_FLAG_LIST:
            f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(deny, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, 0x5412))  # TIOCSTI
    return f


def seal(filter_) -> None:  # noqa: ANN001
    drop_capabilities()
    no_new_privs()
    filter_.load()


def probe() -> str | None:
    """None when this kernel lets this user build the whole jail, else the failing step and why.

    Runs the real steps in a fork (then in its PID-1 grandchild) and checks that the sealed
    grandchild cannot open an internet socket.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        message = b""
        try:
            filt = seccomp_filter()
            enter(None if os.geteuid() else 1_900_000_000, 65534, 1, 64)
            inner = os.fork()
            if inner == 0:
                try:
                    seal(filt)
                    try:
                        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
                        os.write(write_end, b"the seccomp filter did not refuse an AF_INET socket")
                    except OSError:
                        pass
                except BaseException as exc:  # noqa: BLE001 - the reason is the answer
                    os.write(write_end, str(exc).encode())
                os._exit(0)
            os.waitpid(inner, 0)
        except BaseException as exc:  # noqa: BLE001
            message = str(exc).encode()
        os.write(write_end, message)
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace").strip()
    return text or None


if __name__ == "__main__":
    why = probe()
    print(why or "ok")
    sys.exit(1 if why else 0)
