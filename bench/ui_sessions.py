"""N concurrent sessions against the studio app through gradio_client: errors and event latency,
side by side with one session alone in the same run (same app, same machine, same minute).

    python bench/ui_sessions.py [--sessions 8] [--mode render|generate] [--url URL] [--no-single]

Without --url it starts the app on 127.0.0.1 (free port) with a fresh data dir. ``render``
executes a fixed LLM-I response (one chart) per session: it measures the app, the queue, the
store and the chart sandbox without the model. ``generate`` writes with the configured model
(STUDIO_* settings; e.g. STUDIO_EMBEDDED_WEIGHTS=smollm2-135m for a quick run).

Event-to-client latency: every streamed update of /render and /generate carries ``sent_at``, the
server's clock when the handler yielded it (``studio.app.ui``); the client's clock when the update
arrives minus that is the time the update spent in Gradio's queue and on the wire (client and
app share this machine's clock). The gap between consecutive updates (tool time included) is
printed too. With ``--sessions`` > 1 one session runs alone first, then N at once; the load
average is printed with each round, because other work on the machine moves these figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESPONSE = (
    "# Bench\n\nSome text about rivers.\n\n<imgen>{'source': 'code', 'description': 'Flow', 'params': "
    "{'code': \"plt.plot([1, 3, 2, 4])\"}}</imgen>\n\nMore text after the chart.\n"
)


def article_output(outputs: tuple | dict) -> dict:
    """The article JSON among an endpoint's outputs (found by its keys, not its position, so a
    component added to the page does not break the bench)."""
    candidates = outputs if isinstance(outputs, tuple | list) else (outputs,)
    return next((o for o in candidates if isinstance(o, dict) and "article_id" in o), {})


def sent_at(outputs: tuple | dict) -> float | None:
    """The server's send time of one streamed update (its event payload's ``sent_at``)."""
    candidates = outputs if isinstance(outputs, tuple | list) else (outputs,)
    return next((o["sent_at"] for o in candidates if isinstance(o, dict) and "sent_at" in o), None)


@dataclass
class Round:
    """What one round of sessions measured."""

    sessions: int
    latencies: list[float] = field(default_factory=list)  # event-to-client, seconds
    gaps: list[float] = field(default_factory=list)  # between consecutive updates, seconds
    errors: list[str] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)  # per session, seconds
    wall: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after


def one_session(url: str, mode: str, index: int, result: Round) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
        start = last = time.perf_counter()
        if mode == "render":
            job = client.submit(f"bench {index}", RESPONSE, "", api_name="/render")
        else:
            brief = f"A short article about rivers, part {index}"
            job = client.submit(brief, 1, ["code"], "", "embedded", "", "", 1, api_name="/generate")
        for outputs in job:
            arrived, now = time.time(), time.perf_counter()
            stamp = sent_at(outputs)
            if stamp is not None:
                result.latencies.append(max(0.0, arrived - stamp))
            result.gaps.append(now - last)
            last = now
        final = article_output(job.result())
        if not final.get("article", {}).get("done"):
            result.errors.append(f"session {index}: no finished article")
        elif not any(b["kind"] == "image" and b["status"] == "ok" for b in final["article"]["blocks"]):
            result.errors.append(f"session {index}: the article has no finished image")
        result.totals.append(time.perf_counter() - start)
    except Exception as exc:  # counted and reported, not raised
        result.errors.append(f"session {index}: {type(exc).__name__}: {exc}")


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]  # within the data, never above max


def run_round(url: str, mode: str, sessions: int, first_index: int = 0) -> Round:
    result = Round(sessions)
    before = os.getloadavg()[0]
    started = time.perf_counter()
    threads = [threading.Thread(target=one_session, args=(url, mode, first_index + i, result)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall = time.perf_counter() - started
    result.load = (before, os.getloadavg()[0])
    return result


def ms(values: list[float]) -> str:
    if not values:
        return "none"
    p50, tail, top = statistics.median(values), p95(values), max(values)
    return f"p50 {p50 * 1000:.0f} ms, p95 {tail * 1000:.0f} ms, max {top * 1000:.0f} ms"


def report(r: Round, mode: str) -> None:
    print(f"sessions: {r.sessions} ({mode}), wall {r.wall:.1f}s, errors: {len(r.errors)}, "
          f"load average {r.load[0]:.1f} -> {r.load[1]:.1f}")  # fmt: skip
    for e in r.errors:
        print(f"  {e}")
    print(f"events: {len(r.gaps)}, event-to-client latency {ms(r.latencies)}; gap between updates {ms(r.gaps)}")
    if r.totals:
        print(f"per session: p50 {statistics.median(r.totals):.1f}s, p95 {p95(r.totals):.1f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--mode", choices=["render", "generate"], default="render")
    parser.add_argument("--url", default="")
    parser.add_argument("--no-single", action="store_true", help="skip the round with one session alone")
    args = parser.parse_args()
    stop = None
    url = args.url
    if not url:
        from studio.app.session import Studio
        from studio.app.settings import load_settings
        from studio.app.ui import build_app, launch
        from tests.ui.conftest import free_port

        settings = load_settings(data_dir=Path(tempfile.mkdtemp(prefix="llmi-bench-")), tools_enabled=["code"])
        studio = Studio(settings)
        app = build_app(studio)
        port = free_port()
        launch(app, "127.0.0.1", port, block=False)
        url = f"http://127.0.0.1:{port}/"

        def stop() -> None:
            app.close()
            studio.close()

    rounds = []
    if args.sessions > 1 and not args.no_single:
        rounds.append(run_round(url, args.mode, 1, first_index=1000))
    rounds.append(run_round(url, args.mode, args.sessions))
    if stop:
        stop()
    for r in rounds:
        report(r, args.mode)
    if len(rounds) == 2 and rounds[0].latencies and rounds[1].latencies:
        one, many = p95(rounds[0].latencies), p95(rounds[1].latencies)
        ratio = f"{many / one:.1f}x" if one > 0 else "n/a"
        print(f"event-to-client p95: {args.sessions} sessions {many * 1000:.0f} ms vs 1 session {one * 1000:.0f} ms "
              f"({ratio}); target <= 500 ms: {'met' if many <= 0.5 else 'NOT met'}")  # fmt: skip
    return 1 if any(r.errors for r in rounds) else 0


if __name__ == "__main__":
    raise SystemExit(main())
