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


def time_fresh(runs: int) -> list[float]:
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        script = FRESH.format(chart=CHART, out=str(Path(tmp) / "chart.png"))
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp)
            samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cold, tool_s = time_tool(args.runs)
    fresh_s = time_fresh(args.runs)
    print(f"runs per side: {args.runs}; worker start (one-off): {cold * 1000:.0f} ms\n")
    print(f"{'runner':<28}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for label, s in (("code tool (warm sandbox)", tool_s), ("fresh python -c", fresh_s)):
        row = f"{label:<28}{percentile(s, 0.5) * 1000:>10.0f}{percentile(s, 0.95) * 1000:>10.0f}"
        print(f"{row}{statistics.mean(s) * 1000:>10.0f}")
    ratio50 = percentile(fresh_s, 0.5) / percentile(tool_s, 0.5)
    ratio95 = percentile(fresh_s, 0.95) / percentile(tool_s, 0.95)
    verdict = "meets" if ratio50 >= 10 else "misses"
    print(f"\nspeed-up: p50 {ratio50:.1f}x, p95 {ratio95:.1f}x ({verdict} the >= 10x target)")


if __name__ == "__main__":
    main()
