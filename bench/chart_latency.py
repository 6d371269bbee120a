"""Chart latency: the warm sandboxed code tool vs a fresh ``python -c`` per chart.

Usage: ``.venv/bin/python bench/chart_latency.py [--runs 20]``

Both sides render the same representative chart (pandas DataFrame, seaborn bar plot with a
matplotlib line on top) to PNG at 100 dpi. The fresh-process side pays what a naive runner pays
every time: interpreter start and the matplotlib (Agg) / pandas / seaborn / numpy imports. The
tool side pays a fork of the warm worker plus the sandbox set-up. The worker's one-off start is
reported separately and not counted in the per-chart numbers.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.base import ToolContext  # noqa: E402
from tools.code import CodeTool  # noqa: E402
from tools.params import CodeParams  # noqa: E402
from tools.sandbox import Limits, Sandbox  # noqa: E402

CHART = """\
df = pd.DataFrame({"month": ["Jan", "Feb", "Mar", "Apr", "May", "Jun"],
                   "sales": [12.5, 14.1, 13.8, 17.2, 19.9, 22.4]})
fig, ax = plt.subplots(figsize=(8, 5))
sns.barplot(data=df, x="month", y="sales", color="#4C72B0", ax=ax)
ax.plot(range(len(df)), np.cumsum(df["sales"]) / 4, marker="o", color="#DD8452", label="running total / 4")
ax.set_title("Monthly sales (k$)")
ax.legend()
"""

FRESH = """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
{chart}
plt.gcf().savefig({out!r}, format="png", dpi=100)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def time_tool(runs: int) -> tuple[float, list[float]]:
    tool = CodeTool()
    try:
        start = time.perf_counter()
        tool.warm()
        cold = time.perf_counter() - start
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            result = tool.run(CodeParams(code=CHART), ToolContext())
            samples.append(time.perf_counter() - start)
            if not result.ok:
                raise SystemExit(f"the tool failed: {result.error}")
        return cold, samples
    finally:
        tool.close()


def time_fresh(runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user+sys of the child process) seconds per fresh-process chart."""
    wall, cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        script = FRESH.format(chart=CHART, out=str(Path(tmp) / "chart.png"))
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp)
            wall.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall, cpu


def cpu_of_sandbox_jobs(runs: int) -> list[float]:
    """CPU seconds each sandboxed child used (it reports its own user+sys time since the fork)."""
    sandbox = Sandbox()
    try:
        sandbox.start()
        out = []
        for _ in range(runs):
            outcome = sandbox.run(CHART, Limits())
            if not (outcome.result and outcome.result.get("ok")):
                raise SystemExit(f"the sandbox failed: {outcome}")
            out.append(float(outcome.result["timings"]["cpu"]))
        return out
    finally:
        sandbox.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cold, tool_s = time_tool(args.runs)
    fresh_s, fresh_cpu = time_fresh(args.runs)
    tool_cpu = cpu_of_sandbox_jobs(args.runs)
    load = os.getloadavg()[0]
    print(f"runs per side: {args.runs}; {os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"worker start (one-off, not counted below): {cold * 1000:.0f} ms\n")
    print(f"{'runner':<28}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'CPU p50 ms':>12}")
    for label, s, c in (("code tool (warm sandbox)", tool_s, tool_cpu), ("fresh python -c", fresh_s, fresh_cpu)):
        row = f"{label:<28}{percentile(s, 0.5) * 1000:>9.0f}{percentile(s, 0.95) * 1000:>9.0f}"
        print(f"{row}{statistics.mean(s) * 1000:>9.0f}{percentile(c, 0.5) * 1000:>12.0f}")
    ratio50 = percentile(fresh_s, 0.5) / percentile(tool_s, 0.5)
    ratio95 = percentile(fresh_s, 0.95) / percentile(tool_s, 0.95)
    ratio_cpu = percentile(fresh_cpu, 0.5) / percentile(tool_cpu, 0.5)
    verdict = "meets" if ratio50 >= 10 else "misses"
    print(f"\nspeed-up: wall p50 {ratio50:.1f}x ({verdict} the >= 10x target), wall p95 {ratio95:.1f}x")
    print(f"CPU per chart p50: {ratio_cpu:.1f}x less (a load-independent view on a shared machine)")


if __name__ == "__main__":
    main()
