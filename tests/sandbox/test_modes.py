"""Where the kernel refuses the jail, the code tool is off with the reason and the fix, unless the
weaker mode is chosen explicitly; the worker's leftovers go on SIGTERM; cleanup has no depth limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.sandbox_lockdown import remove_tree

ROOT = Path(__file__).resolve().parents[2]

# A real refusal: a seccomp filter makes unshare() fail with EPERM (as a hardened kernel does),
# then the studio's own availability check runs in that process.
REFUSED = """
import errno, sys
import pyseccomp as sc
f = sc.SyscallFilter(sc.ALLOW)
f.add_rule(sc.ERRNO(errno.EPERM), "unshare")
f.load()
from tools.base import ToolContext
from tools.code import CodeTool
from tools.params import CodeParams
tool = CodeTool(weak_sandbox=sys.argv[1] == "weak", timeout_s=10)
a = tool.availability()
print("OK" if a.ok else "OFF", tool.mode)
print(a.reason)
if a.ok:
    r = tool.run(CodeParams(code="plt.plot([1, 2])"), ToolContext())
    print("chart", r.ok, r.error)
    tool.close()
"""


def run_refused(mode: str) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}
    done = subprocess.run(
        [sys.executable, "-c", REFUSED, mode], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_code_tool_is_off_with_reason_and_fix_where_namespaces_are_refused() -> None:
    state, reason = run_refused("strict")[:2]
    assert state == "OFF off"
    assert "unshare" in reason and "EPERM" in reason
    assert "unprivileged user namespaces" in reason and "STUDIO_CODE_WEAK_SANDBOX=true" in reason


def test_the_weak_mode_runs_only_when_chosen() -> None:
    lines = run_refused("weak")
    assert lines[0] == "OK weak"
    assert lines[2] == "chart True None"


def test_remove_tree_handles_any_depth(tmp_path: Path) -> None:
    top = tmp_path / "deep"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("deep", dir_fd=fd)
    cur = os.open("deep", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    for _ in range(3000):  # deeper than recursion and PATH_MAX allow
        os.mkdir("d", dir_fd=cur)
        with open(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=cur), "w") as f:
            f.write("x")
        nxt = os.open("d", os.O_RDONLY, dir_fd=cur)
        os.close(cur)
        cur = nxt
    os.symlink("/", "escape", dir_fd=cur)  # never followed
    os.close(cur)
    remove_tree(str(top))
    assert not top.exists()
    assert Path("/").exists() and os.listdir("/")


APP = """
import sys, time
from tools.code import CodeTool
from tools.base import ToolContext
from tools.params import CodeParams
from pathlib import Path
tool = CodeTool(scratch_root=Path(sys.argv[1]))
print(tool.run(CodeParams(code="plt.plot([1])"), ToolContext()).ok, tool._sandbox.pid, flush=True)
time.sleep(600)
"""


def test_worker_and_its_directory_go_when_the_app_gets_sigterm(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}
    app = subprocess.Popen([sys.executable, "-c", APP, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert app.stdout is not None
        ok, zygote = app.stdout.readline().split()
        assert ok == "True"
        assert [p.name for p in tmp_path.iterdir()][0].startswith("llmi-code-")
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=30)
        deadline = time.monotonic() + 30  # a bound for a slow machine, not a speed check
        while (list(tmp_path.iterdir()) or _alive(int(zygote))) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.iterdir()) == []
        assert not _alive(int(zygote))
    finally:
        if app.poll() is None:
            app.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


@pytest.mark.parametrize("depth", [3000])
def test_weak_mode_scratch_with_a_deep_tree_does_not_hurt_the_next_chart(tmp_path: Path, depth: int) -> None:
    code = f"import os\nfor _ in range({depth}):\n    os.mkdir('d')\n    os.chdir('d')\nplt.plot([1])\n"
    script = f"""
import tools.code as tc
tc._probe_result.append("weak mode under test")
from tools.base import ToolContext
from tools.params import CodeParams
from pathlib import Path
tool = tc.CodeTool(weak_sandbox=True, scratch_root=Path({str(tmp_path)!r}))
first = tool.run(CodeParams(code={code!r}), ToolContext())
second = tool.run(CodeParams(code="plt.plot([1, 2])"), ToolContext())
pid = tool._sandbox.pid
third = tool.run(CodeParams(code="plt.plot([3])"), ToolContext())
print(tool.mode, first.ok, second.ok, third.ok, pid == tool._sandbox.pid)
tool.close()
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.stdout.split() == ["weak", "True", "True", "True", "True"], done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_worker_killed_mid_chart_gives_the_true_reason_and_the_next_chart_restarts_it(tmp_path: Path) -> None:
    import threading

    from tools.base import ToolContext
    from tools.code import CodeTool
    from tools.params import CodeParams

    tool = CodeTool(timeout_s=30, scratch_root=tmp_path)
    try:
        tool.warm()
        zygote = tool._sandbox.pid if tool._sandbox else None
        assert zygote is not None
        box: list[object] = []
        worker = threading.Thread(
            target=lambda: box.append(tool.run(CodeParams(code="import time\ntime.sleep(20)"), ToolContext()))
        )
        worker.start()
        time.sleep(1.0)  # the chart is running (not a speed check: any point mid-chart will do)
        os.kill(zygote, signal.SIGKILL)
        worker.join(60)
        result = box[0]
        assert not result.ok  # type: ignore[attr-defined]
        assert result.error == (  # type: ignore[attr-defined]
            "the chart worker was killed by SIGKILL while running this code; the next chart starts a new one"
        )
        after = tool.run(CodeParams(code="plt.plot([1, 2])"), ToolContext())
        assert after.ok, after.error
        assert tool._sandbox is not None and tool._sandbox.pid not in (None, zygote)
    finally:
        tool.close()
