"""The editor's streamed updates: bytes per text update, event-to-visible latency, first word.

    python bench/editor_updates.py bytes                 # new page value vs main's whole-article HTML
    python bench/editor_updates.py latency [--sessions 8] # real Chromium tabs, p50/p95 event -> visible
    python bench/editor_updates.py ttfw [--briefs 5]      # embedded model loaded: Write -> first word

``bytes``: one 6-chart article streams through the real engine and chart sandbox; after each
update the app would send, it measures what Gradio puts on the wire for the article output
(``gradio.utils.diff`` of the previous and the new value, JSON-encoded, as Blocks does for a
streaming generator). The baseline folds the same events into ``git show BASELINE:studio/app/
ui_model.py`` (BASELINE: the commit before the editor landed: the whole article HTML with
every image as base64, re-sent each update).

``latency``: a scripted OpenAI-compatible server on 127.0.0.1 streams the same article with a
numbered marker every few words and logs when it sent each one; N Chromium tabs (one context
each) press Write at once, and a MutationObserver in each tab logs when each marker first shows.
Latency = shown - sent (one clock: same machine).

``ttfw``: SmolLM2 (1 thread) loaded once, then N briefs: the time from Write (Session.generate)
to the first streamed text. llama.cpp's server keeps each slot's prompt KV (cache_prompt), so
the shared system-prompt prefix is not decoded again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "52bf7f092a2e11b0fc0f8c514c958a58a711ac65"  # main before the editor: whole-article HTML updates
sys.path.insert(0, str(ROOT))

CHARTS = [
    "plt.bar(['a', 'b', 'c'], [3, 1, 2])",
    "plt.plot([1, 4, 2, 5, 3])",
    "plt.scatter([1, 2, 3, 4], [4, 1, 3, 2])",
    "plt.pie([30, 50, 20])",
    "plt.hist([1, 2, 2, 3, 3, 3, 4, 4, 5], bins=5)",
    "plt.barh(['x', 'y'], [5, 7])",
]


def article(marked: bool = False) -> str:
    """A 6-chart article, ~700 words; ``marked`` puts a numbered marker every 8 words."""
    parts = ["# Rivers of the world\n\n"]
    n = 0
    for i, code in enumerate(CHARTS):
        words = []
        for w in range(110):
            words.append(f"river{w}")
            if marked and w % 8 == 0:
                n += 1
                words.append(f"MK{n:04d}")
        parts.append(" ".join(words) + ".\n\n")
        parts.append(
            f"<imgen>{{'source': 'code', 'description': 'Chart {i + 1}', 'params': {{'code': \"{code}\"}}}}</imgen>\n\n"
        )
    parts.append("The end.\n")
    return "".join(parts)


def chunks(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# --- bytes -------------------------------------------------------------------------------------


def load_main_ui_model() -> Any:
    source = subprocess.run(
        ["git", "show", f"{BASELINE}:studio/app/ui_model.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "main_ui_model.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("main_ui_model", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["main_ui_model"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def wire_bytes(prev: Any, new: Any) -> int:
    from gradio.utils import diff

    return len(json.dumps(diff(prev, new) if prev is not None else new))


def bench_bytes() -> dict[str, Any]:
    from models.openai_compat import OpenAICompatBackend
    from studio.app.services import build_services
    from studio.app.session import Session, Studio
    from studio.app.settings import load_settings
    from studio.app.ui_page import page
    from studio.core.agent import Brief
    from studio.core.events import TagOpened, TextDelta

    old = load_main_ui_model()
    settings = load_settings(data_dir=Path(tempfile.mkdtemp()), tools_enabled=["code"], backend="openai")
    services = build_services(settings, backend=OpenAICompatBackend("http://127.0.0.1:9/v1", model="none"))
    studio = Studio(settings, services=services)
    sess = Session(studio)
    old_view = old.ArticleView(brief="rivers")
    new_prev = old_prev = None
    new_sizes, old_sizes = [], []
    text = article()

    def paced() -> Any:  # as a model streams it: ~12 characters every 20 ms
        for piece in chunks(text):
            time.sleep(0.02)
            yield piece

    last = 0.0
    pending_chars = 0
    text_chars: list[int] = []
    sample: Any = None
    for event, view in sess.generate(Brief("rivers"), response=text, chunks=paced()):
        if event is None:
            continue
        if isinstance(event, TagOpened):  # the baseline's page has no planning card: only ours shows it
            new_prev = page(view)
            continue
        now = time.monotonic()
        if isinstance(event, TextDelta):
            pending_chars += len(event.text)
        if isinstance(event, TextDelta) and now - last < 0.1:  # the UI's own throttle (TEXT_UPDATE_S)
            old.apply_event(old_view, event)
            continue
        last = now
        old.apply_event(old_view, event)
        new_value = page(view)
        old_value = old.article_html(old_view)
        n, o = wire_bytes(new_prev, new_value), wire_bytes(old_prev, old_value)
        prev_new = new_prev
        new_prev, old_prev = new_value, old_value
        images_done = sum(b.status == "ok" for b in view.blocks if b.kind == "image")
        if isinstance(event, TextDelta) and images_done >= 1:  # text updates once the article carries images
            new_sizes.append(n)
            old_sizes.append(o)
            text_chars.append(pending_chars)
            if sample is None and pending_chars > 20:  # one real diff, to look at with a debugger
                from gradio.utils import diff

                sample = diff(prev_new, new_value)
        if isinstance(event, TextDelta):
            pending_chars = 0
    studio.close()
    return {
        "images_ok_at_end": sum(b.status == "ok" for b in sess.view.blocks if b.kind == "image"),
        "text_updates": len(new_sizes),
        "new_text_chars_mean": round(statistics.mean(text_chars), 1),
        "new_bytes_median": statistics.median(new_sizes),
        "new_bytes_mean": round(statistics.mean(new_sizes)),
        "old_bytes_median": statistics.median(old_sizes),
        "old_bytes_mean": round(statistics.mean(old_sizes)),
        "ratio_median": round(statistics.median(old_sizes) / statistics.median(new_sizes), 1),
        "ratio_mean": round(statistics.mean(old_sizes) / statistics.mean(new_sizes), 1),
    }


# --- latency ------------------------------------------------------------------------------------


class _Stream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    sent: dict[tuple[int, str], float] = {}
    lock = threading.Lock()
    counter = [0]

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.counter[0] += 1
            stream_id = self.counter[0]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        text = article(marked=True).replace("MK", f"S{stream_id:02d}K")
        for piece in chunks(text, 12):
            data = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
            now = time.time()
            for token in piece.split():
                if token.startswith(f"S{stream_id:02d}K"):
                    with self.lock:
                        self.sent[(stream_id, token)] = now
            time.sleep(0.03)
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: Any) -> None:
        pass


OBSERVER = """
window.__seen = {};
new MutationObserver(() => {
  const text = document.querySelector('#article').innerText;
  const now = Date.now() / 1000;
  for (const m of text.matchAll(/S\\d\\dK\\d{4}/g)) if (!(m[0] in window.__seen)) window.__seen[m[0]] = now;
}).observe(document.querySelector('#article'), {childList: true, subtree: true, characterData: true});
"""


def bench_latency(sessions: int) -> dict[str, Any]:
    from studio.app.session import Studio
    from studio.app.settings import load_settings
    from tests.browser import chromium
    from tests.ui.conftest import running_app

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings = load_settings(data_dir=Path(tempfile.mkdtemp()), tools_enabled=["code"], backend="openai",
                             openai_base_url=base, openai_model="bench", ui_concurrency=sessions)  # fmt: skip
    with running_app(settings, Studio(settings)) as (url, _), chromium() as browser:
        pages = []
        for _ in range(sessions):
            p = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            p.goto(url)
            p.locator("#brief textarea").fill("rivers")
            p.evaluate(OBSERVER)
            pages.append(p)
        for p in pages:
            p.locator("#write").click()
        deadline = time.time() + 600
        for p in pages:
            p.wait_for_function(
                "(() => { const s = document.querySelector('#article .studio-head .state');"
                " return s && s.innerText.startsWith('done'); })()",
                timeout=max(1000, int((deadline - time.time()) * 1000)),
            )
        seen: dict[str, float] = {}
        for p in pages:
            seen.update(p.evaluate("window.__seen"))
    server.shutdown()
    lat = []
    for (_, token), sent in _Stream.sent.items():
        if token in seen:
            lat.append(seen[token] - sent)
    lat.sort()
    total = len(_Stream.sent)
    return {
        "load_average_1min": round(os.getloadavg()[0], 1),
        "sessions": sessions,
        "model_streams": _Stream.counter[0],
        "markers_sent": total,
        "markers_seen": len(lat),
        "p50_s": round(lat[len(lat) // 2], 3),
        "p95_s": round(lat[int(len(lat) * 0.95) - 1], 3),
        "max_s": round(lat[-1], 3),
    }


# --- time to first word ---------------------------------------------------------------------------


def bench_ttfw(briefs: int) -> dict[str, Any]:
    from studio.app.session import Session, Studio
    from studio.core.agent import Brief
    from studio.core.events import TextDelta
    from tests.ui.conftest import smollm2_settings

    studio = Studio(smollm2_settings(Path(tempfile.mkdtemp()), max_tokens=60))
    topics = ["bicycles in cities", "the water cycle", "honey bees", "solar panels", "old lighthouses", "tea"]

    def first_word(topic: str) -> float:
        sess = Session(studio)
        start = time.perf_counter()
        took = float("nan")
        for event, _ in sess.generate(Brief(f"A short article about {topic}, with one chart")):
            if isinstance(event, TextDelta) and event.text.strip() and took != took:
                took = time.perf_counter() - start  # the article then runs to its end (60 tokens)
        return took

    load_start = time.perf_counter()
    warm = first_word(topics[-1])  # loads the model (not counted)
    load = time.perf_counter() - load_start
    times = [first_word(t) for t in topics[:briefs]]
    studio.close()
    return {
        "load_average_1min": round(os.getloadavg()[0], 1),
        "first_run_incl_model_load_s": round(warm, 2),
        "first_run_total_s": round(load, 2),
        "ttfw_s": [round(t, 2) for t in times],
        "ttfw_median_s": round(statistics.median(times), 2),
        "ttfw_max_s": round(max(times), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["bytes", "latency", "ttfw"])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--briefs", type=int, default=5)
    args = parser.parse_args()
    if args.what == "bytes":
        result = bench_bytes()
    elif args.what == "latency":
        result = bench_latency(args.sessions)
    else:
        result = bench_ttfw(args.briefs)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
