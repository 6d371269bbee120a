"""The chart jail's edges (issue 19): what crosses into a chart, and limits that hold.

Against the real sandbox, as whoever runs pytest (.ci runs tests/sandbox as root and again as
uid 65534 owning its venv). The host side counts the zygote's live children in /proc: a chart
is a process, and a limit on charts is a limit on those processes.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolResult
from tools.code import CodeTool
from tools.params import CodeParams

HONEST = "x = np.linspace(0, 6, 40)\nplt.plot(x, np.cos(x))\nplt.title('honest')\n"
# A real PNG as the result, written straight to the result channel; then the chart keeps running.
EARLY_RESULT = """
import io, os, stat, struct, json, time, sys
def is_sock(f):
    try:
        return stat.S_ISSOCK(os.fstat(f).st_mode)
    except OSError:
        return False
plt.plot([1, 3, 2])
buf = io.BytesIO()
sys.modules['__main__']._SAVEFIG(plt.gcf(), buf, format='png')
meta = json.dumps({'ok': True}).encode()
fd = next(f for f in range(3, 1 << 16) if is_sock(f))
os.write(fd, struct.pack('>II', len(meta), len(buf.getvalue())) + meta + buf.getvalue())
time.sleep(60)
"""
SLEEPER = "import time\ntime.sleep(60)\n"


def run(tool: CodeTool, code: str, owner: threading.Event | None = None) -> ToolResult:
    return tool.run(CodeParams(code=code), ToolContext(cancel=owner))


def children_of(parent: int) -> list[int]:
    """Live (not yet reaped) processes whose parent is ``parent``: the zygote's charts."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return found


class Sampler:
    """Counts the zygote's children every few milliseconds while the test runs."""

    def __init__(self, zygote: int) -> None:
        self.zygote = zygote
        self.counts: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.counts.append(len(children_of(self.zygote)))
            time.sleep(0.01)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.counts, default=0)


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "the condition never held"
        time.sleep(0.02)


def make_tool(tmp_path: Path, **kwargs: object) -> CodeTool:
    options: dict = {"timeout_s": 15, "cpu_s": 10, "memory_mb": 300, "audit_hook": False, "max_concurrent": 2}
    options.update(kwargs)
    tool = CodeTool(scratch_root=tmp_path, **options)
    assert tool.availability().ok, tool.availability().reason
    assert tool.mode == "jail"
    tool.warm()
    return tool


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeTool]:
    t = make_tool(tmp_path_factory.mktemp("limits"))
    yield t
    t.close()


def zygote_of(tool: CodeTool) -> int:
    assert tool._sandbox is not None and tool._sandbox.pid is not None
    return tool._sandbox.pid


def test_a_chart_sees_only_0_to_2_and_its_result_channel(tool: CodeTool) -> None:
    code = (
        "import os, stat\nseen = []\nfor f in range(1 << 16):\n    try:\n        m = os.fstat(f).st_mode\n"
        "    except OSError:\n        continue\n"
        "    seen.append((f, 'socket' if stat.S_ISSOCK(m) else 'char' if stat.S_ISCHR(m) else stat.filemode(m)))\n"
        "raise RuntimeError(seen)\n"
    )
    error = run(tool, code).error or ""
    assert error.startswith("RuntimeError: "), error
    seen = ast.literal_eval(error.removeprefix("RuntimeError: "))
    assert seen[:3] == [(0, "char"), (1, "char"), (2, "char")]
    assert len(seen) == 4 and seen[3][0] > 2 and seen[3][1] == "socket", seen


def test_dev_null_and_friends_open_in_the_jail(tool: CodeTool) -> None:
    code = (
        "open('/dev/null', 'w').write('x')\nassert open('/dev/null', 'rb').read() == b''\n"
        "assert open('/dev/zero', 'rb').read(4) == bytes(4)\nassert len(open('/dev/urandom', 'rb').read(8)) == 8\n"
        "plt.plot([1, 2])\n"
    )
    result = run(tool, code)
    assert result.ok, result.error


def test_a_result_frame_ends_the_chart(tool: CodeTool) -> None:
    """A chart that sends its result and keeps running was counted as done while it ran on."""
    result = run(tool, EARLY_RESULT)
    assert result.ok, result.error
    assert children_of(zygote_of(tool)) == []  # killed and reaped before run() returned
    assert run(tool, HONEST).ok


def test_charts_hold_their_slot_until_reaped(tool: CodeTool) -> None:
    """8 early-result charts of 8 articles: never more than the studio's slots alive at once
    (max_concurrent 2 + 1 = 3); once, 8 of them held 1.6 GB with a limit of 3."""
    sampler = Sampler(zygote_of(tool))
    owners = [threading.Event() for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda owner: run(tool, EARLY_RESULT, owner), owners))
    most = sampler.stop()
    assert [r.ok for r in results] == [True] * 8, [r.error for r in results]
    assert 1 <= most <= 3, sampler.counts


def test_one_hostile_article_holds_its_share_and_the_next_honest_chart_runs(tmp_path: Path) -> None:
    """An article of charts that never finish holds at most max_concurrent (2) slots until its
    charts time out; another article's chart gets the studio's third slot at once."""
    tool = make_tool(tmp_path, timeout_s=60)  # the hostile charts hold their slots for the whole test
    zygote = zygote_of(tool)
    hostile, honest = threading.Event(), threading.Event()
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        sampler = Sampler(zygote)
        futures: list[Future[ToolResult]] = [pool.submit(run, tool, SLEEPER, hostile) for _ in range(4)]
        wait_for(lambda: len(children_of(zygote)) >= 2)
        time.sleep(0.5)  # room for a third and fourth hostile chart to start, were they allowed to
        before_honest = sampler.stop()
        result = run(tool, HONEST, honest)
        assert result.ok, result.error
        assert not any(f.done() for f in futures)  # the hostile charts still run: no slot came free
        assert before_honest == 2, sampler.counts
    finally:
        tool.close()  # ends the hostile charts
        pool.shutdown(wait=True)
