"""A flood of unauthenticated logins against a logged-in user's latency, studio vs a baseline.

    .venv/bin/python bench/login_flood.py [--flooders 48] [--requests 150] [--baseline 87d961c]

For each tree (this checkout, and ``--baseline``, a commit extracted with ``git archive``: by
default main before the login changes of issue #19) it starts a real app process (``python -m
studio serve``, accounts on), logs one user in, and measures the latency of that user's requests
(``GET /gradio_api/user`` and a ``/projects`` call through Gradio's queue) first idle, then
while ``--flooders`` clients post wrong passwords to ``/login`` as fast as they are answered
(each its own connection; names and passwords vary). It prints p50/p95 per phase and the
flood/idle p95 ratio per tree; the target is a ratio of at most 2 for the studio.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.team.apps import ROOT, AppProcess, add_users  # noqa: E402

USER, PASSWORD = "alice", "alice-password-long"


def extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def one_request(http: httpx.Client, n: int) -> None:
    if n % 2:
        assert http.get("gradio_api/user").status_code == 200
    else:
        posted = http.post("gradio_api/call/projects", json={"data": [], "session_hash": "bench-session"})
        assert posted.status_code == 200, posted.text
        assert "event: complete" in http.get(f"gradio_api/call/projects/{posted.json()['event_id']}").text


def timed_requests(http: httpx.Client, count: int, budget_s: float = 60.0) -> list[float]:
    """Milliseconds of each request, alternating the two kinds (stops after ``budget_s``: the
    baseline under a flood takes seconds per request)."""
    out: list[float] = []
    deadline = time.perf_counter() + budget_s
    for n in range(count):
        if time.perf_counter() > deadline and len(out) >= 6:
            break
        start = time.perf_counter()
        for _attempt in range(5):  # a dropped connection is retried; its time counts
            try:
                one_request(http, n)
                break
            except httpx.HTTPError:
                continue
        out.append((time.perf_counter() - start) * 1000)
    return out


def flood(url: str, stop: threading.Event, counts: list[int], n: int) -> None:
    with httpx.Client(base_url=url, timeout=120) as http:
        k = 0
        while not stop.is_set():
            k += 1
            try:
                http.post("login", data={"username": f"{USER if k % 2 else 'mallory'}", "password": f"guess-{n}-{k}"})
                counts[n] += 1
            except httpx.HTTPError:
                time.sleep(0.05)


def flood_process(url: str, flooders: int, stop_file: str, out: Any) -> None:
    """The flooders, in their own process (their own GIL: the attackers are other machines)."""
    stop, counts = threading.Event(), [0] * flooders
    threads = [threading.Thread(target=flood, args=(url, stop, counts, n)) for n in range(flooders)]
    for thread in threads:
        thread.start()
    while not Path(stop_file).exists():
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    out.put(sum(counts))


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def measure(root: Path, flooders: int, requests: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="llmi-bench-login-"))
    try:
        data_dir = tmp / "data"
        add_users(data_dir, {USER: PASSWORD})
        with AppProcess(data_dir, root=root) as app, httpx.Client(base_url=app.url, timeout=300) as http:
            assert http.post("login", data={"username": USER, "password": PASSWORD}).status_code == 200
            timed_requests(http, 10)  # warm up
            idle = timed_requests(http, requests)
            stop_file, out = str(tmp / "stop-flood"), multiprocessing.Queue()
            flooding = multiprocessing.Process(target=flood_process, args=(app.url, flooders, stop_file, out))
            flooding.start()
            time.sleep(3)
            start = time.perf_counter()
            loaded = timed_requests(http, requests)
            seconds = time.perf_counter() - start + 3
            Path(stop_file).touch()
            attempts = out.get(timeout=300) / seconds
            flooding.join(timeout=60)
        return {
            "idle_p50": statistics.median(idle), "idle_p95": p(idle, 0.95),
            "flood_p50": statistics.median(loaded), "flood_p95": p(loaded, 0.95),
            "attempts_per_s": attempts,
        }  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=48)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--baseline", default="87d961c", help="git ref of the baseline tree")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="llmi-bench-baseline-") as base:
        for label, root in (("studio", ROOT), (f"baseline {args.baseline}", extract(args.baseline, Path(base)))):
            results[label] = measure(root, args.flooders, args.requests)
            print(label, {k: round(v, 1) for k, v in results[label].items()}, flush=True)
    print(f"\n{args.flooders} flooders, {args.requests} requests per phase (ms)")
    heads = ("idle p50", "idle p95", "flood p50", "flood p95", "p95 ratio", "logins/s")
    print(f"{'tree':<22}" + "".join(f"{h:>11}" for h in heads))
    for label, r in results.items():
        ratio = r["flood_p95"] / r["idle_p95"]
        cells = [f"{r[k]:>11.1f}" for k in ("idle_p50", "idle_p95", "flood_p50", "flood_p95")]
        print(f"{label:<22}" + "".join(cells) + f"{ratio:>10.2f}x{r['attempts_per_s']:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
