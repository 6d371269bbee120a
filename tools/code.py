"""The ``code`` tool: model-written plotting code -> PNG of the current matplotlib figure.

The code is hostile by assumption (LLM output). It never runs in the studio's process: a warm
sandboxed worker (``tools.sandbox`` / ``tools.sandbox_worker``) forks a fresh, locked-down child
per chart. Every failure of the code is returned as ``ToolResult.failure`` with the exception's
last line (``NameError: name 'foo' is not defined``) or a sentence for a timeout, memory or kill.
"""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path

from models.errors import ToolError
from tools.base import Availability, Tool, ToolContext, ToolResult, stopwatch
from tools.params import CodeParams
from tools.sandbox import Limits, Outcome, Sandbox

MAX_CODE_CHARS = 100_000


class CodeTool(Tool[CodeParams]):
    """Runs chart code with ``plt``, ``pd``, ``sns``, ``np`` pre-imported in a sandboxed worker.

    timeout_s: wall clock per chart; the child is killed when it expires.
    cpu_s: CPU seconds per chart (RLIMIT_CPU).
    memory_mb: address space the code may add on top of the warm worker image (RLIMIT_AS).
    max_file_mb: largest file the code may write (RLIMIT_FSIZE; also the size of its private /tmp).
    max_processes: processes/threads the chart's own uid may have (RLIMIT_NPROC); 1 = no fork, no thread.
    scratch_root: where the per-chart scratch directories go (None: the system temp dir).
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
    ) -> None:
        if timeout_s <= 0 or cpu_s <= 0 or memory_mb <= 0 or max_file_mb <= 0 or max_processes <= 0:
            raise ToolError("CodeTool limits must all be positive")
        self.limits = Limits(
            timeout_s=timeout_s,
            cpu_s=cpu_s,
            memory_mb=memory_mb,
            max_file_mb=max_file_mb,
            max_processes=max_processes,
        )
        self._sandbox = Sandbox(scratch_root)

    def availability(self) -> Availability:
        missing = [m for m in ("matplotlib", "pandas", "seaborn", "numpy") if importlib.util.find_spec(m) is None]
        if missing:
            return Availability.off(f"the code tool needs {', '.join(missing)}: pip install -r requirements.txt")
        return Availability.on()

    def warm(self) -> None:
        """Start the worker now, so the first chart does not wait for the imports."""
        self._sandbox.start()

    @property
    def runtime(self) -> str:
        """``python X / matplotlib Y`` once the worker has started, else ""."""
        return self._sandbox.runtime

    def run(self, params: CodeParams, context: ToolContext) -> ToolResult:
        code = params.code
        with stopwatch() as t:
            if len(code) > MAX_CODE_CHARS:
                outcome = None
                error = f"the code is longer than {MAX_CODE_CHARS} characters"
            else:
                try:
                    outcome = self._sandbox.run(code, self.limits)
                    error = None
                except ToolError as exc:
                    outcome, error = None, str(exc)
        provenance = {"code": code, "runtime": self._sandbox.runtime}
        if outcome is not None:
            if outcome.result and outcome.result.get("ok") and outcome.png:
                return ToolResult.success(outcome.png, provenance, seconds=t[0])
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
            return str(result["error"])
        if status.get("worker_died"):
            return "the chart worker died while running this code; it will be restarted"
        if status.get("error"):
            return f"the chart worker refused the job: {status['error']}"
        sig = status.get("signal")
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and status.get("cpu_s", 0) >= lim.cpu_s - 0.05):
            return f"the code used more than {lim.cpu_s:g} s of CPU time and was stopped"
        if sig == signal.SIGXFSZ:
            return f"the code wrote a file larger than the {lim.max_file_mb} MB limit"
        if sig is not None:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            hint = " (possibly out of memory)" if sig == signal.SIGKILL else ""
            return f"the chart code was killed by {name}{hint}"
        if status.get("exit") == 70:  # run_child failed before or after the code (lock-down, I/O)
            return "the chart sandbox could not be set up or could not send the result (worker exit 70)"
        return f"the chart code ended the worker without a result (exit status {status.get('exit')})"

    def close(self) -> None:
        self._sandbox.close()
