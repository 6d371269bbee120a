"""The ``code`` tool: model-written plotting code -> PNG of the current matplotlib figure.

The code is hostile by assumption (LLM output). It never runs in the studio's process: a warm
sandboxed worker (``tools.sandbox`` / ``tools.sandbox_worker``) forks a fresh, locked-down child
per chart. Every failure of the code is returned as ``ToolResult.failure`` with the exception's
last line (``NameError: name 'foo' is not defined``) or a sentence for a timeout, memory or kill.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from models.errors import ToolError
from tools.base import Availability, Tool, ToolContext, ToolResult, stopwatch
from tools.download import DownloadError, decode_image
from tools.params import CodeParams
from tools.sandbox import Limits, Outcome, Sandbox

MAX_CODE_CHARS = 100_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JAIL = Path(__file__).with_name("sandbox_jail.py")
WEAK_SETTING = "STUDIO_CODE_WEAK_SANDBOX"
JAIL_FIX = (
    "allow unprivileged user namespaces (sysctl user.max_user_namespaces=10000, and "
    "kernel.unprivileged_userns_clone=1 on Debian kernels or kernel.apparmor_restrict_unprivileged_userns=0 "
    "on Ubuntu 24.04+), install libseccomp2 and pip install pyseccomp; or set "
    f"{WEAK_SETTING}=true to run charts in the weaker sandbox the README describes"
)
_probe_lock = threading.Lock()
_probe_result: list[str | None] = []


def probe_jail() -> str | None:
    """None when this machine can build the chart jail for this user, else why not.

    The real steps run in a fresh interpreter (``python -I tools/sandbox_jail.py``); the answer
    is kept for the life of the process.
    """
    with _probe_lock:
        if not _probe_result:
            _probe_result.append(_run_probe())
        return _probe_result[0]


def _run_probe() -> str | None:
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(_JAIL)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the sandbox probe could not run: {exc}"
    if done.returncode == 0:
        return None
    lines = (done.stdout.strip() or done.stderr.strip() or f"exit status {done.returncode}").splitlines()
    return lines[-1][:300]


def check_png(data: bytes, max_pixels: int) -> str | None:
    """None when ``data`` is a PNG that decodes within ``max_pixels``; else why it was refused.

    The worker's result frame is untrusted: chart code can write to it directly.
    """
    if not data.startswith(PNG_SIGNATURE):
        return "the chart sandbox returned data that is not a PNG image; refused"
    try:
        mime, _w, _h = decode_image(data, max_pixels, 1)
    except DownloadError as exc:
        return f"the chart sandbox returned an image that was refused: {exc.reason}"
    if mime != "image/png":
        return "the chart sandbox returned data that is not a PNG image; refused"
    return None


class CodeTool(Tool[CodeParams]):
    """Runs chart code with ``plt``, ``pd``, ``sns``, ``np`` pre-imported in a sandboxed worker.

    timeout_s: wall clock per chart; the child is killed when it expires.
    cpu_s: CPU seconds per chart (RLIMIT_CPU).
    memory_mb: address space the code may add on top of the warm worker image (RLIMIT_AS).
    max_file_mb: largest file the code may write (RLIMIT_FSIZE; also the size of its private /tmp).
    max_processes: processes/threads the chart's own uid may have (RLIMIT_NPROC); 1 = no fork, no thread.
    scratch_root: where the worker's directory goes (None: the system temp dir).
    weak_sandbox: where the kernel refuses the jail (unprivileged namespaces), run charts anyway
    in the weaker sandbox (STUDIO_CODE_WEAK_SANDBOX); otherwise the tool is off with the reason.
    max_pixels: the largest image the worker may return (the same cap as downloads).
    audit_hook: the in-process convenience layer; the guarantees never depend on it.
    max_concurrent: charts one article may run at once (STUDIO_MAX_CONCURRENT_TOOLS); the whole
    studio runs at most one more, so another article's chart always finds a slot. A chart holds
    its slot until its process is reaped; one beyond the bound waits (until the call's deadline).
    """

    name = "code"
    Params = CodeParams

    def __init__(
        self,
        *,
        timeout_s: float = 20.0,
        cpu_s: float = 15.0,
        memory_mb: int = 1024,
        max_file_mb: int = 16,
        max_processes: int = 1,
        scratch_root: Path | None = None,
        weak_sandbox: bool = False,
        max_pixels: int = 25_000_000,
        audit_hook: bool = True,
        max_concurrent: int = 3,
    ) -> None:
        limits = (timeout_s, cpu_s, memory_mb, max_file_mb, max_processes, max_concurrent)
        if min(limits) <= 0:
            raise ToolError("CodeTool limits must all be positive")
        self.limits = Limits(
            timeout_s=timeout_s,
            cpu_s=cpu_s,
            memory_mb=memory_mb,
            max_file_mb=max_file_mb,
            max_processes=max_processes,
            audit_hook=audit_hook,
        )
        self.weak_sandbox = weak_sandbox
        self.max_pixels = max_pixels
        self.max_concurrent = max_concurrent
        self._scratch_root = scratch_root
        self._sandbox: Sandbox | None = None
        self._sandbox_lock = threading.Lock()

    def _get_sandbox(self) -> Sandbox:
        """The sandbox in the mode this machine allows; ToolError when the tool must stay off."""
        with self._sandbox_lock:
            if self._sandbox is None:
                why = probe_jail()
                if why is not None and not self.weak_sandbox:
                    raise ToolError(f"the chart sandbox cannot be built here ({why}); fix: {JAIL_FIX}")
                self._sandbox = Sandbox(
                    self._scratch_root,
                    mode="jail" if why is None else "weak",
                    max_jobs=self.max_concurrent + 1,
                    per_owner=self.max_concurrent,
                )
            return self._sandbox

    @property
    def mode(self) -> str:
        """ "jail", "weak", or "off" (the kernel refuses the jail and the weak mode is not allowed)."""
        try:
            return self._get_sandbox().mode
        except ToolError:
            return "off"

    def availability(self) -> Availability:
        missing = [
            m for m in ("matplotlib", "pandas", "seaborn", "numpy", "pyseccomp") if importlib.util.find_spec(m) is None
        ]
        if missing:
            return Availability.off(f"the code tool needs {', '.join(missing)}: pip install -r requirements.txt")
        try:
            self._get_sandbox()
        except ToolError as exc:
            return Availability.off(str(exc))
        return Availability.on()

    def warm(self) -> None:
        """Start the worker now, so the first chart does not wait for the imports."""
        self._get_sandbox().start()

    @property
    def runtime(self) -> str:
        """``python X / matplotlib Y`` once the worker has started, else ""."""
        return self._sandbox.runtime if self._sandbox is not None else ""

    def run(self, params: CodeParams, context: ToolContext) -> ToolResult:
        code = params.code
        with stopwatch() as t:
            if len(code) > MAX_CODE_CHARS:
                outcome = None
                error = f"the code is longer than {MAX_CODE_CHARS} characters"
            else:
                wait_s = None if context.deadline is None else context.deadline - time.monotonic()
                try:
                    # One article's calls share its stop event: that is the owner its slots count for.
                    sandbox = self._get_sandbox()
                    outcome = sandbox.run(code, self.limits, owner=context.cancel, wait_s=wait_s, cancel=context.cancel)
                    error = None
                except ToolError as exc:
                    outcome, error = None, str(exc)
        provenance = {"code": code, "runtime": self.runtime}
        if outcome is not None:
            if outcome.result and outcome.result.get("ok") is True and outcome.png:
                error = check_png(outcome.png, self.max_pixels)
                if error is None:
                    return ToolResult.success(outcome.png, provenance, seconds=t[0])
            else:
                error = self._explain(outcome)
        return ToolResult.failure(error or "the chart failed", provenance, seconds=t[0])

    def _explain(self, outcome: Outcome) -> str:
        """A sentence a person can act on, for every way a chart can fail."""
        status, result, lim = outcome.status, outcome.result, self.limits
        if status.get("timed_out"):
            return f"the code ran longer than the {lim.timeout_s:g} s time limit and was stopped"
        if result and result.get("kind") == "memory":
            return f"MemoryError: the code needed more than the {lim.memory_mb} MB memory limit"
        if result and result.get("error"):
            return str(result["error"])[:2000]
        if status.get("worker_died"):
            ended = _how_it_ended(status.get("worker_exit"))
            return f"the chart worker {ended} while running this code; the next chart starts a new one"
        if status.get("error"):
            return f"the chart worker refused the job: {status['error']}"
        sig = status.get("signal")
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and status.get("cpu_s", 0) >= lim.cpu_s - 0.05):
            return f"the code used more than {lim.cpu_s:g} s of CPU time and was stopped"
        if sig == signal.SIGXFSZ:
            return f"the code wrote a file larger than the {lim.max_file_mb} MB limit"
        if sig is not None:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            return f"the chart code was killed by {name}"
        if status.get("exit") == 70:  # run_child failed before or after the code (lock-down, I/O)
            return "the chart sandbox could not be set up or could not send the result (worker exit 70)"
        return f"the chart code ended the worker without a result (exit status {status.get('exit')})"

    def close(self) -> None:
        with self._sandbox_lock:
            if self._sandbox is not None:
                self._sandbox.close()


def _how_it_ended(exit_status: object) -> str:
    if not isinstance(exit_status, int):
        return "stopped"
    if exit_status < 0 and -exit_status in signal.Signals._value2member_map_:
        return f"was killed by {signal.Signals(-exit_status).name}"
    return f"exited with status {exit_status}"
