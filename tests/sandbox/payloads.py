# ruff: noqa: E501 - payloads are one-line chart programs, kept whole for reading
"""Hostile chart payloads, by category. Each is chart code an attacker's model could write.

A payload reports what got through: ``attempt(name, fn)`` records ``name`` as a hit when ``fn``
returns without raising (and, with ``truthy=True``, returns something true); the code ends with
``RuntimeError("ESCAPED ...")`` when anything got through, else ``RuntimeError("held ...")``.
The host side checks what the code cannot fake (servers, canary files, processes, IPC tables).

Placeholders filled in by the test: {studio} (the test process's pid), {zygote} (the worker's pid),
{tcp4}, {tcp6}, {udp} (ports of servers the host listens on), {unix} (a host unix socket path),
{abstract} (an abstract unix socket name), {canary_dir} (a host directory, 0777), {repo} (the
checkout), {secret} (the API key in the studio's environment and heap).
"""

from __future__ import annotations

PRELUDE = """
import os, sys, errno, socket, struct, signal, stat, json, zlib
hits, log, KEEP = [], [], []
def attempt(name, fn, truthy=False):
    try:
        r = fn()
    except BaseException as e:
        log.append(f"{{name}}:{{type(e).__name__}}")
        return None
    if truthy and not r:
        log.append(f"{{name}}:nothing")
        return r
    hits.append(name)
    return r
def cstr(data):
    import ctypes
    KEEP.append(ctypes.create_string_buffer(data))
    return ctypes.addressof(KEEP[-1])
def sys_call(nr, *args):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r
def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
def result_fd():
    for f in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(f).st_mode):
                return f
        except OSError:
            pass
def forge(head, body=b''):
    os.write(result_fd(), head + body)
    os._exit(0)
def frame(meta, blob=b''):
    d = json.dumps(meta).encode()
    forge(struct.pack('>II', len(d), len(blob)) + d, blob)
def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
def png(w, h, idat=b''):
    ihdr = struct.pack('>IIBBBBB', w, h, 1, 0, 0, 0, 0)
    return b'\\x89PNG\\r\\n\\x1a\\n' + png_chunk(b'IHDR', ihdr) + png_chunk(b'IDAT', zlib.compress(idat)) + png_chunk(b'IEND', b'')
"""
EPILOGUE = """
raise RuntimeError(("ESCAPED " + ",".join(hits)) if hits else ("held " + " ".join(log)))
"""

# (name, code). x86_64 syscall numbers where ctypes goes around Python.
ENV_AND_MEMORY = [
    (
        "env-own",
        "attempt('env', lambda: {secret!r} in repr(dict(os.environ)) or 'STUDIO_' in repr(dict(os.environ)) or None, truthy=True)",
    ),
    ("env-studio", "attempt('studio-environ', lambda: open('/proc/{studio}/environ','rb').read())"),
    ("env-zygote", "attempt('zygote-environ', lambda: open('/proc/{zygote}/environ','rb').read())"),
    ("env-init", "attempt('init-environ', lambda: open('/proc/1/environ','rb').read())"),
    (
        "mem-dirfd",
        "d = attempt('proc-dir', lambda: os.open('/proc', os.O_RDONLY))\nif d is not None:\n    attempt('studio-mem', lambda: os.pread(os.open('{studio}/mem', os.O_RDONLY, dir_fd=d), 64, 4096))",
    ),
    ("mem-maps", "attempt('studio-maps', lambda: open('/proc/{studio}/maps').read())"),
    ("proc-list", "attempt('proc-listing', lambda: [p for p in os.listdir('/proc') if p.isdigit()], truthy=True)"),
    (
        "process-vm-readv",
        "local = struct.pack('QQ', cstr(bytes(64)), 64)\nremote = struct.pack('QQ', 0x400000, 64)\nattempt('vm_readv', lambda: sys_call(310, {studio}, cstr(local), 1, cstr(remote), 1, 0))",
    ),
    ("ptrace-attach", "attempt('ptrace', lambda: sys_call(101, 16, {studio}, 0, 0))"),
    ("ptrace-traceme", "attempt('traceme', lambda: sys_call(101, 0, 0, 0, 0))"),
    ("studio-cwd", "attempt('studio-cwd', lambda: os.listdir('/proc/{studio}/cwd'))"),
    (
        "heap-scan",
        "attempt('heap', lambda: {secret!r}.encode() in open('/proc/{studio}/mem','rb').read(1), truthy=True)",
    ),
]

NETWORK = [
    ("tcp4", "attempt('tcp4', lambda: socket.create_connection(('127.0.0.1', {tcp4}), timeout=2))"),
    ("tcp6", "attempt('tcp6', lambda: socket.create_connection(('::1', {tcp6}), timeout=2))"),
    (
        "udp",
        "attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {udp})))",
    ),
    ("raw-syscall-socket", "attempt('raw-socket', lambda: sys_call(41, 2, 1, 0))"),
    ("netlink", "attempt('netlink', lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))"),
    ("packet", "attempt('packet', lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))"),
    ("unix-path", "s = socket.socket(socket.AF_UNIX)\nattempt('unix-path', lambda: s.connect({unix!r}))"),
    ("unix-abstract", "attempt('unix-abstract', lambda: socket.socket(socket.AF_UNIX).connect('\\0' + {abstract!r}))"),
    ("socketpair-inet", "attempt('socketpair-inet', lambda: socket.socketpair(socket.AF_INET))"),
    ("vsock", "attempt('vsock', lambda: socket.socket(40, socket.SOCK_STREAM))"),
    ("io-uring", "attempt('io_uring', lambda: sys_call(425, 8, cstr(bytes(120))))"),
    (
        "dns",
        "attempt('dns', lambda: socket.getaddrinfo('localhost', {tcp4}), truthy=True)\nattempt('dns-connect', lambda: socket.create_connection(('localhost', {tcp4}), timeout=2))",
    ),
]

SIGNALS = [
    ("kill-studio", "attempt('kill-studio', lambda: os.kill({studio}, signal.SIGTERM))"),
    ("kill-zygote", "attempt('kill-zygote', lambda: os.kill({zygote}, signal.SIGKILL))"),
    (
        "kill-all",
        "attempt('kill-all', lambda: os.kill(-1, signal.SIGKILL))\nattempt('kill-all-libc', lambda: sys_call(62, -1, 9))",
    ),
    ("killpg", "attempt('killpg', lambda: os.killpg({zygote}, signal.SIGKILL))"),
    ("pidfd", "attempt('pidfd', lambda: sys_call(424, sys_call(434, {studio}, 0), 15, 0, 0))"),
    ("tgkill", "attempt('tgkill', lambda: sys_call(234, {studio}, {studio}, 15))"),
]

FILES = [
    ("write-repo", "attempt('repo', lambda: open({repo!r} + '/PWNED', 'w').write('x'))"),
    ("write-canary", "attempt('canary', lambda: open({canary_dir!r} + '/PWNED', 'w').write('x'))"),
    (
        "write-site",
        "import numpy\nattempt('site', lambda: open(os.path.dirname(numpy.__file__) + '/../sitecustomize.py', 'w').write('x'))",
    ),
    ("write-stdlib", "attempt('stdlib', lambda: open(os.path.dirname(os.__file__) + '/PWNED.py', 'w').write('x'))"),
    ("write-usr", "attempt('usr', lambda: open('/usr/PWNED', 'w').write('x'))"),
    ("write-root", "attempt('root', lambda: open('/PWNED', 'w').write('x'))"),
    (
        "write-etc",
        "attempt('etc', lambda: os.makedirs('/etc/cron.d', exist_ok=True) or open('/etc/cron.d/x','w').write('x'))",
    ),
    ("write-home", "attempt('home', lambda: open(os.path.expanduser('~root/.bashrc'), 'a').write('x'))"),
    ("remount-rw", "attempt('remount', lambda: sys_call(165, 0, cstr(b'/usr'), 0, 32 | 4096, 0))"),
    ("umount", "attempt('umount', lambda: sys_call(166, cstr(b'/usr'), 2))"),
    ("chroot-escape", "os.makedirs('d', exist_ok=True)\nattempt('chroot', lambda: sys_call(161, cstr(b'd')))"),
    ("unshare", "attempt('unshare', lambda: sys_call(272, 0x10000000))"),
    ("setns", "attempt('setns', lambda: sys_call(308, os.open('/proc/{studio}/ns/mnt', os.O_RDONLY), 0))"),
    ("open-by-handle", "attempt('open_by_handle', lambda: sys_call(304, -100, cstr(bytes(64)), 0))"),
    (
        "fd-walk",
        "def walk():\n    for fd in range(3, 64):\n        try:\n            os.listdir(os.open('..', os.O_RDONLY, dir_fd=fd))\n            return fd\n        except OSError:\n            pass\nattempt('fd-walk', walk, truthy=True)",
    ),
    (
        "read-repo",
        "attempt('repo-readme', lambda: open({repo!r} + '/tests/sandbox/payloads.py').read())\nattempt('repo-env', lambda: open({repo!r} + '/.env').read())",
    ),
    (
        "read-homes",
        "attempt('root-files', lambda: [e for e in os.listdir('/root') if e != '.pyenv'], truthy=True)\nattempt('bashrc', lambda: open('/root/.bashrc').read())\nattempt('homes', lambda: os.listdir('/home'), truthy=True)\nattempt('etc-passwd', lambda: open('/etc/passwd').read())",
    ),
    (
        "mknod",
        "attempt('mknod', lambda: os.mknod('sda', 0o600 | 0o060000, os.makedev(8, 0)) or open('sda','rb').read(512))",
    ),
]

IPC = [
    ("sysv-shm", "attempt('shmget', lambda: sys_call(29, 0, 64 << 20, 0o1000 | 0o666))"),
    ("sysv-sem", "attempt('semget', lambda: sys_call(64, 0, 1, 0o1000 | 0o666))"),
    ("sysv-msg", "attempt('msgget', lambda: sys_call(68, 0, 0o1000 | 0o666))"),
    ("posix-mq", "attempt('mq_open', lambda: sys_call(240, cstr(b'/llmi'), 0o100 | 2, 0o666, 0))"),
    ("posix-shm", "attempt('dev-shm', lambda: open('/dev/shm/llmi-pwned', 'w').write('x'))"),
    ("keyctl", "attempt('keyctl', lambda: sys_call(248, cstr(b'user'), cstr(b'k'), cstr(b'v'), 1, -4))"),
    ("bpf", "attempt('bpf', lambda: sys_call(321, 0, cstr(bytes(128)), 128))"),
    ("perf", "attempt('perf', lambda: sys_call(298, cstr(bytes(128)), 0, -1, -1, 0))"),
]

EXHAUSTION = [
    ("cpu", "while True:\n    pass"),
    ("memory", "x = []\nwhile True:\n    x.append(bytearray(10**7))"),
    (
        "disk",
        "attempt('disk', lambda: open('big', 'wb').write(b'x' * (64 << 20)))\nattempt('disk-many', lambda: [open(f'f{{i}}', 'wb').write(b'x' * (4 << 20)) for i in range(64)])",
    ),
    ("inodes", "attempt('inodes', lambda: [open(f'i{{i}}', 'w').close() for i in range(100000)])"),
    ("fork", "attempt('fork', lambda: os.fork())"),
    ("fork-syscall", "attempt('fork-raw', lambda: sys_call(57))"),
    ("threads", "import threading\nattempt('thread', lambda: threading.Thread(target=lambda: None).start())"),
    ("output", "for _ in range(200):\n    sys.stdout.write('x' * 1000000)\nsys.stdout.flush()\nplt.plot([1])"),
    ("sleep", "import time\ntime.sleep(60)"),
    ("fds", "attempt('fds', lambda: [os.open('/dev/null', os.O_RDONLY) for _ in range(100000)])"),
    ("deep-tree", "for i in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\nplt.plot([1])"),
    ("exec", "attempt('exec', lambda: os.execv('/bin/sh', ['sh', '-c', 'echo x']))"),
]

TAMPERING = [
    (
        "hook-off",
        "sys.modules['__main__'].lockdown._BLOCKED_EVENTS = ()\nattempt('after-hook-off', lambda: socket.create_connection(('127.0.0.1', {tcp4}), timeout=2))",
    ),
    (
        "hook-path-off",
        "import sandbox_lockdown as l\nl._PATH_EVENTS.clear()\nattempt('after-path-off', lambda: open({canary_dir!r} + '/PWNED2', 'w').write('x'))",
    ),
    (
        "seccomp-off",
        "sys.modules['__main__'].lockdown._BLOCKED_EVENTS = ()\nattempt('seccomp-off', lambda: sys_call(157, 22, 0, 0, 0, 0) == 0 and sys_call(41, 2, 1, 0))",
    ),
    (
        "caps-back",
        "sys.modules['__main__'].lockdown._BLOCKED_EVENTS = ()\nattempt('capset', lambda: sys_call(126, cstr(struct.pack('II', 0x20080522, 0)), cstr(b'\\xff' * 24)))",
    ),
    (
        "ctypes-cached",
        "import ctypes  # already in sys.modules: the hook's import check never fires\nattempt('tcp-after-import', lambda: socket.create_connection(('127.0.0.1', {tcp4}), timeout=2))",
    ),
    (
        "patch-renderer",
        "import matplotlib.figure as mf\nmf.Figure.savefig = None\nsys.modules['__main__']._SAVEFIG = None\nplt.plot([1])",
    ),
]

FORGED_FRAMES = [
    ("frame-not-png", "frame({{'ok': True}}, b'GIF89a' + b'x' * 100)"),
    ("frame-huge-png", "frame({{'ok': True}}, png(12000, 12000))"),
    ("frame-truncated-png", "frame({{'ok': True}}, png(100, 100)[:40])"),
    ("frame-huge-length", "forge(struct.pack('>II', 10, 2**31))"),
    ("frame-bad-json", "forge(struct.pack('>II', 5, 0), b'notjs')"),
    ("frame-ok-string", "frame({{'ok': 'yes'}}, png(10, 10, bytes(20)))"),
    ("frame-list", "forge(struct.pack('>II', 2, 0), b'[]')"),
    ("frame-deep-json", "forge(struct.pack('>II', 200000, 0), b'[' * 200000)"),
]

# Kernel memory that RLIMIT_AS does not count, and per-user kernel objects (issue 19): each must
# be refused. x86_64 numbers: memfd_create 319, inotify_init 253, inotify_init1 294.
STATE = [
    ("leave-file", "open('left-behind', 'w').write('x')\nplt.plot([1])"),
    ("see-file", "attempt('left-behind', lambda: open('left-behind').read())"),
    ("rcparams", "plt.rcParams['figure.figsize'] = (1, 1)\nplt.plot([1])"),
    ("monkeypatch-np", "np.linspace = None\npd.DataFrame = None\nplt.plot([1])"),
    ("sysv-leave", "attempt('shm-leave', lambda: sys_call(29, 0x1234, 64 << 20, 0o1000 | 0o666))"),
]

KERNEL_MEMORY = [
    ("memfd", "attempt('memfd', lambda: sys_call(319, cstr(b'park'), 0))"),
    ("memfd-os", "attempt('memfd-os', lambda: os.memfd_create('park'))"),
    ("socketpair-unix", "attempt('socketpair-unix', lambda: socket.socketpair(socket.AF_UNIX))"),
    (
        "scm-rights",
        "s = socket.socket(fileno=os.dup(result_fd()))\nattempt('scm-rights', lambda: s.sendmsg([b'\\0' * 8], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', 0))]))",
    ),
    (
        "sendmsg-plain",
        "s = socket.socket(fileno=os.dup(result_fd()))\nattempt('sendmsg', lambda: s.sendmsg([b'\\0' * 8]))",
    ),
    ("pipe-grow", "import fcntl\nr, w = os.pipe()\nattempt('pipe-grow', lambda: fcntl.fcntl(w, 1031, 1 << 20))"),
    ("inotify", "attempt('inotify', lambda: sys_call(253))\nattempt('inotify1', lambda: sys_call(294, 0))"),
    ("setsid", "attempt('setsid', lambda: os.setsid())\nattempt('setpgid', lambda: os.setpgid(0, 0))"),
]

# What crosses into the jail (issue 19): a chart sees 0-2 and its result channel, nothing else,
# and cannot change a file of the Python install through any descriptor, inherited or its own.
# Every change it tries leaves the file as it was (same mode, same times), so a hit is harmless.
DESCRIPTORS = [
    (
        "inherited-fds",
        "own = result_fd()\nextra = [f for f in range(3, 1 << 16) if f != own and is_open(f)]\nattempt('inherited-fds', lambda: extra, truthy=True)",
    ),
    (
        "font-fds",
        "import matplotlib\nfont = os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'DejaVuSans.ttf')\nown = result_fd()\nfds = [f for f in range(3, 1 << 16) if f != own and is_open(f)] + [os.open(font, os.O_RDONLY)]\nfor f in fds:\n    st = os.fstat(f)\n    if stat.S_ISREG(st.st_mode):\n        attempt(f'fchmod-{{f}}', lambda: os.fchmod(f, stat.S_IMODE(st.st_mode)))\n        attempt(f'futimens-{{f}}', lambda: os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns)))\n        attempt(f'fsetxattr-{{f}}', lambda: os.setxattr(f, 'user.llmi-hostile', b'x'))",
    ),
]
