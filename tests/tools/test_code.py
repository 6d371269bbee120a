"""The code tool against its real sandboxed worker: real processes, a real listening server."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from tools.base import ToolContext, ToolResult
from tools.code import CodeTool
from tools.params import CodeParams

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-" + uuid.uuid4().hex
CHART = "x = np.linspace(0, 6, 50)\nplt.plot(x, np.sin(x))\nplt.title('sine')\n"


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeTool]:
    # The secret is in the studio's environment before the worker starts: it must never reach the code.
    old = os.environ.get("STUDIO_OPENAI_API_KEY")
    os.environ["STUDIO_OPENAI_API_KEY"] = SECRET
    t = CodeTool(timeout_s=8, cpu_s=20, memory_mb=300, scratch_root=tmp_path_factory.mktemp("code"))
    t.warm()
    yield t
    t.close()
    if old is None:
        os.environ.pop("STUDIO_OPENAI_API_KEY", None)
    else:
        os.environ["STUDIO_OPENAI_API_KEY"] = old


def run(tool: CodeTool, code: str) -> ToolResult:
    return tool.run(CodeParams(code=code), ToolContext())


def assert_png(result: ToolResult) -> Image.Image:
    assert result.ok, result.error
    assert result.mime == "image/png"
    assert result.image is not None
    img = Image.open(io.BytesIO(result.image))
    img.load()
    assert img.format == "PNG"
    return img


def test_good_chart_is_a_png_with_provenance(tool: CodeTool) -> None:
    result = run(tool, CHART)
    img = assert_png(result)
    assert img.size == (640, 480)  # matplotlib's default 6.4x4.8 in at the fixed 100 dpi
    assert result.provenance["code"] == CHART
    assert result.provenance["runtime"].startswith("python 3.")
    assert "matplotlib " in result.provenance["runtime"]
    assert result.seconds > 0


def test_pandas_seaborn_and_non_ascii_labels(tool: CodeTool) -> None:
    code = (
        "df = pd.DataFrame({'城市': ['北京', '上海', '广州'], '人口': [21.5, 24.9, 18.7]})\n"
        "sns.barplot(data=df, x='城市', y='人口')\nplt.title('人口（百万）— ünïcødé')\n"
    )
    assert_png(run(tool, code))


def test_huge_figure_is_capped(tool: CodeTool) -> None:
    img = assert_png(run(tool, "plt.figure(figsize=(200, 100), dpi=600)\nplt.plot([1, 2])"))
    assert img.size[0] <= 1600 and img.size[1] <= 1200


def test_show_and_savefig_are_harmless(tool: CodeTool) -> None:
    target = f"/tmp/llmi_savefig_{uuid.uuid4().hex}.png"
    code = f"fig = plt.figure()\nplt.plot([1, 3, 2])\nplt.savefig({target!r})\nfig.savefig({target!r})\nplt.show()\n"
    assert_png(run(tool, code))
    assert not os.path.exists(target)


def test_syntax_error_gives_last_line(tool: CodeTool) -> None:
    result = run(tool, "plt.plot([1, 2]\n")
    assert not result.ok
    assert result.error == "SyntaxError: '(' was never closed"
    assert result.provenance["code"] == "plt.plot([1, 2]\n"


def test_runtime_error_gives_last_line(tool: CodeTool) -> None:
    result = run(tool, "plt.plot([1, 2])\nfoo(3)\n")
    assert not result.ok
    assert result.error == "NameError: name 'foo' is not defined"


def test_no_figure_is_a_failure(tool: CodeTool) -> None:
    result = run(tool, "x = 1 + 1\n")
    assert not result.ok
    assert result.error == "the code drew no figure"


def test_figures_do_not_leak_between_charts(tool: CodeTool) -> None:
    assert run(tool, "plt.plot([1, 2])\nleaked = 1\n").ok
    result = run(tool, "print(leaked)\n")
    assert result.error == "NameError: name 'leaked' is not defined"
    assert run(tool, "pass\n").error == "the code drew no figure"


def test_refuses_writing_outside_scratch(tool: CodeTool) -> None:
    in_repo = ROOT / f"x_outside_{uuid.uuid4().hex}"
    var_tmp = f"/var/tmp/x_outside_{uuid.uuid4().hex}"
    for path in (var_tmp, str(in_repo)):
        result = run(tool, f"plt.plot([1])\nopen({path!r}, 'w').write('pwned')\n")
        assert not result.ok
        assert result.error.startswith("PermissionError"), result.error
        assert not os.path.exists(path)
    low_level = f"import os\nfd = os.open({var_tmp!r}, os.O_WRONLY | os.O_CREAT)\nos.write(fd, b'x')\n"
    assert not run(tool, low_level).ok
    assert not os.path.exists(var_tmp)


def test_scratch_is_a_private_tmp_that_the_next_chart_never_sees(tool: CodeTool) -> None:
    name = f"x_{uuid.uuid4().hex}.csv"
    code = f"import os\nopen({name!r}, 'w').write('a,b\\n1,2\\n')\nraise ValueError(os.getcwd())\n"
    result = run(tool, code)
    assert result.error == "ValueError: /tmp"
    assert not os.path.exists(f"/tmp/{name}")  # the host's /tmp never saw it
    seen = run(tool, f"import os\nraise ValueError(os.path.exists({name!r}))\n")
    assert seen.error == "ValueError: False"


def test_network_is_refused(tool: CodeTool) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    port = server.getsockname()[1]
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        for code in (
            f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\n",
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n",
            f"import _socket\ns = _socket.socket()\ns.connect(('127.0.0.1', {port}))\n",
        ):
            result = run(tool, code)
            assert not result.ok
    finally:
        time.sleep(0.2)  # a connection attempt would have been accepted by now
        stop.set()
        thread.join()
        server.close()
    assert connections == []


@pytest.mark.parametrize(
    "code",
    [
        "import os\nwhile True:\n    os.fork()\n",
        "import subprocess\nsubprocess.run(['sh', '-c', 'echo pwned'])\n",
        "import os\nos.system('echo pwned')\n",
        "import threading\nts = [threading.Thread(target=lambda: None) for _ in range(100)]\n[t.start() for t in ts]\n",
    ],
)
def test_refuses_process_creation(tool: CodeTool, code: str) -> None:
    result = run(tool, "plt.plot([1])\n" + code)
    assert not result.ok
    assert result.error


@pytest.mark.parametrize("code", ["bytearray(10**10)\n", "x = []\nwhile True:\n    x.append(bytearray(10**6))\n"])
def test_memory_bombs_fail_cleanly(tool: CodeTool, code: str) -> None:
    result = run(tool, code)
    assert not result.ok
    assert result.error == "MemoryError: the code needed more than the 300 MB memory limit"


def test_endless_loop_ends_by_timeout(tmp_path: Path) -> None:
    tight = CodeTool(timeout_s=1.5, cpu_s=30, scratch_root=tmp_path)
    try:
        tight.warm()
        start = time.monotonic()
        result = run(tight, "while True:\n    pass\n")
        elapsed = time.monotonic() - start
        assert result.error == "the code ran longer than the 1.5 s time limit and was stopped"
        assert 1.4 < elapsed < 4.0
        assert assert_png(run(tight, CHART))
        # A CPU-time limit below the wall clock ends a busy loop too.
        cpu_tool = CodeTool(timeout_s=10, cpu_s=1, scratch_root=tmp_path)
        try:
            result = run(cpu_tool, "while True:\n    pass\n")
            assert result.error == "the code used more than 1 s of CPU time and was stopped"
        finally:
            cpu_tool.close()
    finally:
        tight.close()


def test_secrets_are_unreadable(tool: CodeTool) -> None:
    assert os.environ["STUDIO_OPENAI_API_KEY"] == SECRET
    code = f"""
import os
found = [repr(dict(os.environ))]
zygote = os.getppid()
studio = {os.getpid()}
for pid in (zygote, studio, 1, 'self'):
    try:
        found.append(open(f'/proc/{{pid}}/environ', 'rb').read().decode(errors='replace'))
    except OSError as exc:
        found.append(type(exc).__name__)
raise RuntimeError(' | '.join(found))
"""
    result = run(tool, code)
    assert result.error is not None and result.error.startswith("RuntimeError: ")
    assert SECRET not in result.error
    assert "STUDIO_OPENAI_API_KEY" not in result.error
    # the audit hook refuses the other processes' files; without it, the jail has no /proc at all
    assert result.error.count("PermissionError") >= 2


def test_concurrent_charts_all_succeed(tool: CodeTool) -> None:
    codes = [CHART + f"plt.xlabel('run {i}')\n" for i in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda c: run(tool, c), codes))
    for result in results:
        assert_png(result)
    assert len({r.image for r in results}) == 3


def test_worker_survives_crashing_job_and_restarts_after_death(tool: CodeTool) -> None:
    pid = tool._sandbox.pid
    result = run(tool, "import os\nos.abort()\n")
    assert not result.ok and "SIGABRT" in (result.error or "")
    result = run(tool, "import os\nos._exit(3)\n")
    assert result.error == "the chart code ended the worker without a result (exit status 3)"
    assert_png(run(tool, CHART))
    assert tool._sandbox.pid == pid  # same warm worker
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert_png(run(tool, CHART))
    assert tool._sandbox.pid not in (None, pid)


def test_close_stops_the_worker(tmp_path: Path) -> None:
    t = CodeTool(scratch_root=tmp_path)
    assert t.availability().ok
    t.warm()
    pid = t._sandbox.pid
    assert pid is not None
    t.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert list(tmp_path.iterdir()) == []


def test_code_may_import_modules_the_worker_did_not(tool: CodeTool) -> None:
    # The lock-down hides home directories but keeps the stdlib and site-packages readable.
    assert_png(run(tool, "import wave, tomllib, calendar\nplt.plot([1, 2])\nplt.title(calendar.month_name[3])\n"))


def test_worker_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    """Tools run on short-lived pool threads; the warm worker must survive their exit."""
    t = CodeTool(scratch_root=tmp_path)
    try:
        starter = threading.Thread(target=t.warm)
        starter.start()
        starter.join()
        pid = t._sandbox.pid
        time.sleep(0.3)  # a parent-death signal tied to the thread would have killed it by now
        result = t.run(CodeParams(code="plt.plot([1, 2, 3])"), ToolContext())
        assert result.ok, result.error
        assert t._sandbox.pid == pid
    finally:
        t.close()


def test_seaborn_datasets_fail_with_a_reason_the_repair_can_use(tool: CodeTool) -> None:
    result = run(tool, "df = sns.load_dataset('tips')\nsns.barplot(data=df, x='day', y='tip')\n")
    assert not result.ok and "write the data inline" in (result.error or "")
