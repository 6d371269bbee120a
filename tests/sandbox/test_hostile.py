"""The hostile chart suite: every payload of tests/sandbox/payloads.py against the real sandbox.

Runs as whoever runs pytest; .ci/run runs it as root and again as uid 65534 (setpriv). All
categories but hook tampering run with the audit hook OFF, so what holds is what the kernel
enforces (namespaces, read-only root, seccomp, rlimits). After every batch an honest chart must
still render from the same warm worker. An escape is a payload that reports a hit, a forged
frame that is accepted, or a host-side trace: a connection to a host server, a file outside the
jail, a signal, an IPC object, a dead worker.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from tests.sandbox import payloads
from tools.base import ToolContext, ToolResult
from tools.code import CodeTool
from tools.params import CodeParams

ROOT = Path(__file__).resolve().parents[2]
UID_BASE = 1_900_000_000  # tools.sandbox_lockdown.UID_BASE: job uids of a root studio
SECRET = "sk-hostile-" + uuid.uuid4().hex
HONEST = "x = np.linspace(0, 6, 40)\nplt.plot(x, np.cos(x))\nplt.title('honest')\n"

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="payloads use x86_64 syscall numbers")


@dataclass
class Host:
    """What the attacks aim at, and what the host can see of them."""

    tcp4: socket.socket
    tcp6: socket.socket | None
    udp: socket.socket
    unix: socket.socket
    abstract: socket.socket
    unix_path: str
    abstract_name: str
    canary_dir: Path
    seen: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def watch(self) -> None:
        listeners = [s for s in (self.tcp4, self.tcp6, self.unix, self.abstract) if s is not None]
        for s in [*listeners, self.udp]:
            s.settimeout(0.1)

        def loop(s: socket.socket) -> None:
            while not self.stop.is_set():
                try:
                    if s.type == socket.SOCK_DGRAM:
                        s.recvfrom(100)
                    else:
                        s.accept()[0].close()
                    self.seen.append(repr(s.getsockname()))
                except (TimeoutError, OSError):
                    continue

        for s in [*listeners, self.udp]:
            threading.Thread(target=loop, args=(s,), daemon=True).start()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    os.environ["STUDIO_OPENAI_API_KEY"] = SECRET
    heap_copy = SECRET.encode() * 3  # noqa: F841 - the secret in this process's heap, for /proc/<pid>/mem
    base = tmp_path_factory.mktemp("hostile")
    canary = base / "canary"
    canary.mkdir()
    canary.chmod(0o777)
    tcp6 = None
    with contextlib.suppress(OSError):
        tcp6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix_path = str(base / "studio.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(unix_path)
    unix.listen()
    os.chmod(unix_path, 0o777)
    name = f"llmi-hostile-{uuid.uuid4().hex}"
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0" + name)
    abstract.listen()
    h = Host(socket.create_server(("127.0.0.1", 0)), tcp6, udp, unix, abstract, unix_path, name, canary)
    h.watch()
    yield h
    h.stop.set()
    for s in (h.tcp4, h.tcp6, h.udp, h.unix, h.abstract):
        if s is not None:
            s.close()
    os.environ.pop("STUDIO_OPENAI_API_KEY", None)


def make_tool(tmp_path_factory: pytest.TempPathFactory, *, audit_hook: bool) -> CodeTool:
    tool = CodeTool(
        timeout_s=4,
        cpu_s=2,
        memory_mb=300,
        max_file_mb=8,
        audit_hook=audit_hook,
        scratch_root=tmp_path_factory.mktemp("worker"),
    )
    assert tool.availability().ok, tool.availability().reason
    assert tool.mode == "jail"
    tool.warm()
    return tool


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory, host: Host) -> Iterator[CodeTool]:
    tool = make_tool(tmp_path_factory, audit_hook=False)
    yield tool
    tool.close()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory, host: Host) -> Iterator[CodeTool]:
    tool = make_tool(tmp_path_factory, audit_hook=True)
    yield tool
    tool.close()


def fill(code: str, tool: CodeTool, host: Host) -> str:
    values = {
        "studio": os.getpid(),
        "zygote": tool._sandbox.pid if tool._sandbox else 0,
        "tcp4": host.tcp4.getsockname()[1],
        "tcp6": host.tcp6.getsockname()[1] if host.tcp6 else 9,
        "udp": host.udp.getsockname()[1],
        "unix": host.unix_path,
        "abstract": host.abstract_name,
        "canary_dir": str(host.canary_dir),
        "repo": str(ROOT),
        "secret": SECRET,
    }
    return (payloads.PRELUDE + code + "\n" + payloads.EPILOGUE).format(**values)


def job_uids() -> set[int]:
    return {*range(UID_BASE, UID_BASE + 64)} | ({os.getuid()} if os.getuid() != 0 else set())


def shm_files() -> set[str]:
    """/dev/shm entries owned by a job's uid."""
    found = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/dev/shm"):
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid in job_uids():
                    found.add(entry.name)
    return found


def ipc_objects() -> set[str]:
    """SysV IPC objects on the host created by a job's uid (as root: the per-job uids; otherwise
    this user). Other processes on the machine come and go; root's own are not the jobs'."""
    ours = job_uids()
    found = set()
    for name in ("shm", "sem", "msg"):
        with contextlib.suppress(OSError):
            header, *rows = Path(f"/proc/sysvipc/{name}").read_text().splitlines()
            cuid = header.split().index("cuid")
            for row in rows:
                cols = row.split()
                if int(cols[cuid]) in ours:
                    found.add(f"{name}:{cols[1]}")
    return found


def run(tool: CodeTool, code: str) -> ToolResult:
    return tool.run(CodeParams(code=code), ToolContext())


def honest_chart_renders(tool: CodeTool) -> None:
    result = run(tool, HONEST)
    assert result.ok, result.error
    image = Image.open(io.BytesIO(result.image or b""))
    image.load()
    assert image.size == (640, 480)  # rcParams left by a payload did not reach this chart


BATCHES = {
    "env_and_memory": payloads.ENV_AND_MEMORY,
    "network": payloads.NETWORK,
    "signals": payloads.SIGNALS,
    "files": payloads.FILES,
    "ipc": payloads.IPC,
    "exhaustion": payloads.EXHAUSTION,
    "forged_frames": payloads.FORGED_FRAMES,
    "state": payloads.STATE,
    "kernel_memory": payloads.KERNEL_MEMORY,
}


def test_there_are_at_least_60_payloads() -> None:
    total = sum(len(b) for b in BATCHES.values()) + len(payloads.TAMPERING) + len(payloads.DESCRIPTORS)
    assert total >= 60, total


def run_batch(tool: CodeTool, host: Host, batch: list[tuple[str, str]]) -> list[str]:
    escapes: list[str] = []
    zygote = tool._sandbox.pid if tool._sandbox else None
    ipc_before = ipc_objects()
    shm_before = shm_files()
    for name, code in batch:
        result = run(tool, fill(code, tool, host))
        error = result.error or ""
        if "ESCAPED" in error:
            escapes.append(f"{name}: {error[:300]}")
        if name.startswith("frame-") and result.ok:
            escapes.append(f"{name}: a forged result frame was accepted")
        if SECRET in error:
            escapes.append(f"{name}: the secret reached the block")
        if tool._sandbox is None or tool._sandbox.pid != zygote:
            escapes.append(f"{name}: the warm worker was killed or replaced ({error[:200]})")
            zygote = tool._sandbox.pid if tool._sandbox else None
    for path in (host.canary_dir / "PWNED", host.canary_dir / "PWNED2", ROOT / "PWNED", Path("/PWNED")):
        if path.exists():
            escapes.append(f"a file appeared outside the jail: {path}")
    if host.seen:
        escapes.append(f"host servers were reached: {host.seen}")
    if ipc_objects() - ipc_before:
        escapes.append(f"SysV IPC objects were left: {ipc_objects() - ipc_before}")
    if shm_files() - shm_before:
        escapes.append(f"POSIX shm objects were left: {shm_files() - shm_before}")
    return escapes


@pytest.mark.parametrize("batch", list(BATCHES))
def test_hostile_batch_without_the_audit_hook(bare: CodeTool, host: Host, batch: str) -> None:
    escapes = run_batch(bare, host, BATCHES[batch])
    honest_chart_renders(bare)
    assert escapes == []


def test_tampering_with_the_audit_hook_gains_nothing(hooked: CodeTool, host: Host) -> None:
    escapes = run_batch(hooked, host, payloads.TAMPERING)
    honest_chart_renders(hooked)
    assert escapes == []


def test_forged_frames_fail_with_a_reason(bare: CodeTool, host: Host) -> None:
    wanted = ("frame-not-png", "frame-huge-png", "frame-deep-json", "frame-huge-length")
    reasons = {name: run(bare, fill(code, bare, host)).error for name, code in payloads.FORGED_FRAMES if name in wanted}
    assert reasons["frame-not-png"] == "the chart sandbox returned data that is not a PNG image; refused"
    assert "12000x12000" in (reasons["frame-huge-png"] or "")
    # 200,000 nested '[' once raised RecursionError out of the tool ("the code tool crashed")
    assert reasons["frame-deep-json"] == (
        "the chart sandbox returned a result frame that was refused: "
        "its JSON nests deeper than 32 levels or is malformed"
    )
    assert "more than the 16 MB limit" in (reasons["frame-huge-length"] or "")
    honest_chart_renders(bare)


def font_state(path: Path) -> tuple[int, int, list[str]]:
    st = path.stat()
    return st.st_mode, st.st_mtime_ns, os.listxattr(path)


def test_no_descriptor_crosses_into_the_jail_and_the_install_stays_unchanged(bare: CodeTool, host: Host) -> None:
    """The warm worker once kept matplotlib's fonts open and every chart inherited them,
    pointing at the host's writable mount: where the studio's user owns the venv (.ci runs this
    as uid 65534 owning it), a chart could fchmod the real font files. Now a chart sees 0-2 and
    its result channel only, and a font it opens itself is the jail's read-only bind."""
    import matplotlib

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    watched = sorted(fonts.glob("*.ttf"))
    before = {p: font_state(p) for p in watched}
    escapes = run_batch(bare, host, payloads.DESCRIPTORS)
    after = {p: font_state(p) for p in watched}
    for path in watched:  # undo what a hit did, before asserting, so a failure leaves nothing behind
        with contextlib.suppress(OSError):
            os.removexattr(path, "user.llmi-hostile")
    assert escapes == []
    assert after == before
    honest_chart_renders(bare)
