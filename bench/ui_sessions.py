"""N concurrent sessions against the studio app through gradio_client: errors and event latency.

    python bench/ui_sessions.py [--sessions 8] [--mode render|generate] [--url URL]

Without --url it starts the app on 127.0.0.1 (free port) with a fresh data dir. ``render``
executes a fixed LLM-I response (one chart) per session: it measures the app, the queue, the
store and the chart sandbox without the model. ``generate`` writes with the configured model
(STUDIO_* settings; e.g. STUDIO_EMBEDDED_WEIGHTS=smollm2-135m for a quick run).

Event latency: the time between two consecutive streamed updates a client receives (the first
one measured from submission), so queueing and slow tools show up in the tail.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
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


def one_session(url: str, mode: str, index: int, gaps: list[float], errors: list[str], totals: list[float]) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
        start = last = time.perf_counter()
        if mode == "render":
            job = client.submit(f"bench {index}", RESPONSE, "", api_name="/render")
        else:
            brief = f"A short article about rivers, part {index}"
            job = client.submit(brief, 1, ["code"], "", "embedded", "", "", 1, api_name="/generate")
        for _ in job:
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        final = article_output(job.result())
        if not final.get("article", {}).get("done"):
            errors.append(f"session {index}: no finished article")
        elif not any(b["kind"] == "image" and b["status"] == "ok" for b in final["article"]["blocks"]):
            errors.append(f"session {index}: the article has no finished image")
        totals.append(time.perf_counter() - start)
    except Exception as exc:  # counted and reported, not raised
        errors.append(f"session {index}: {type(exc).__name__}: {exc}")


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]  # within the data, never above max


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--mode", choices=["render", "generate"], default="render")
    parser.add_argument("--url", default="")
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

    gaps: list[float] = []
    errors: list[str] = []
    totals: list[float] = []
    started = time.perf_counter()
    threads = [
        threading.Thread(target=one_session, args=(url, args.mode, i, gaps, errors, totals))
        for i in range(args.sessions)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if stop:
        stop()
    print(f"sessions: {args.sessions} ({args.mode}), wall {wall:.1f}s, errors: {len(errors)}")
    for e in errors:
        print(f"  {e}")
    if gaps:
        p50_ms, p95_ms, max_ms = statistics.median(gaps) * 1000, p95(gaps) * 1000, max(gaps) * 1000
        print(f"events: {len(gaps)}, latency p50 {p50_ms:.0f} ms, p95 {p95_ms:.0f} ms, max {max_ms:.0f} ms")
    if totals:
        print(f"per session: p50 {statistics.median(totals):.1f}s, p95 {p95(totals):.1f}s")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
