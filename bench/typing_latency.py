"""Typing latency in the studio: keypress to painted character, in real headless Chromium, while an
article streams in another tab; side by side with the same typing and no stream, in the same run.

    python bench/typing_latency.py [--chars 200] [--delay-ms 40]

It starts a slow scripted OpenAI-compatible chat server and the app on 127.0.0.1 (free ports, a
fresh data dir), opens a finished article in one tab and types into its text editing surface:
the rich-text editor where the page has one (``[contenteditable]`` in a text block), else the
Markdown box under the paragraph (its *Edit* form); the surface measured is printed.

Per key (``Performance API``): the keydown's ``event.timeStamp`` (when the browser received the
key) to a ``setTimeout`` queued from the next ``requestAnimationFrame``, i.e. just after the frame
that paints the new character. Round 1 types with nothing else running; round 2 types the same
while a second tab writes a long article (the chat server trickles it). The load average is
printed with each round: other work on the machine moves these figures. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOTE = "# Notes\n\nA short first paragraph to type into.\n\nThe end."
STREAM = "# Rivers\n\n" + " ".join(f"River number {i} flows to the sea." for i in range(2000))
PROBE = """() => {
  window.__keys = [];
  document.addEventListener('keydown', (e) => {
    const t0 = e.timeStamp;
    requestAnimationFrame(() => setTimeout(() => window.__keys.push(performance.now() - t0), 0));
  }, true);
}"""
SURFACE = """() => {
  const rich = document.querySelector("#article section.blk-text [contenteditable='true']");
  return rich ? 'rich' : 'markdown';
}"""


def script(index: int, body: dict[str, Any]) -> Any:
    from tests.judge_server import Reply

    if "Rivers" in str(body["messages"]):
        return Reply(STREAM, chunk_chars=12, chunk_delay_s=0.05)  # ~20 updates a second for minutes
    return NOTE


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def wait_done(page: Any) -> None:
    page.wait_for_function(
        "(() => { const s = document.querySelector('#article .studio-head .state');"
        " return s && !s.classList.contains('state-running'); })()",
        timeout=120_000,
    )


def open_surface(page: Any) -> tuple[str, Any]:
    """Focus the end of the first text block's editing surface; its kind and locator."""
    kind = page.evaluate(SURFACE)
    first = page.locator("#article section.blk-text").first
    if kind == "rich":
        surface = first.locator("[contenteditable='true']").first
    else:
        first.get_by_role("button", name="Edit").click()
        surface = first.locator(".edit-form textarea")
    surface.click()
    page.keyboard.press("End")
    page.keyboard.press("Control+End")
    return kind, surface


def type_round(page: Any, text: str, delay_ms: float) -> tuple[list[float], tuple[float, float]]:
    before = os.getloadavg()[0]
    page.wait_for_timeout(300)  # the frames of keys pressed before this round
    page.evaluate("window.__keys = []")
    page.keyboard.type(text, delay=delay_ms)
    page.wait_for_timeout(300)  # the last key's frame
    values = [v / 1000 for v in page.evaluate("window.__keys")]
    return values, (before, os.getloadavg()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=200, help="characters typed per round")
    parser.add_argument("--delay-ms", type=float, default=40, help="pause between keys (a fast typist: 40)")
    args = parser.parse_args()

    from studio.app.settings import load_settings
    from tests.browser import chromium
    from tests.judge_server import JudgeServer
    from tests.ui.conftest import running_app

    text = ("the quick brown fox jumps over the lazy dog " * (args.chars // 44 + 1))[: args.chars]
    with JudgeServer(script) as model:
        settings = load_settings(data_dir=Path(tempfile.mkdtemp(prefix="llmi-typing-")), tools_enabled=["code"],
                                 backend="openai", openai_base_url=model.url, openai_model="bench-model")  # fmt: skip
        with running_app(settings) as (url, _), chromium() as browser:
            typist = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            typist.goto(url)
            typist.locator("#brief textarea").fill("Notes")
            typist.locator("#write").click()
            wait_done(typist)
            typist.evaluate(PROBE)
            kind, surface = open_surface(typist)
            quiet, quiet_load = type_round(typist, text, args.delay_ms)

            streamer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            streamer.goto(url)
            streamer.locator("#brief textarea").fill("Rivers")
            streamer.locator("#write").click()
            streamer.locator("#article section", has_text="River number 20 ").wait_for(timeout=120_000)
            surface.click()
            typist.keyboard.press("Control+End")
            busy, busy_load = type_round(typist, text, args.delay_ms)
            still = streamer.locator("#article .state-running").count() == 1
            streamer.locator("#stop").click()
            typed = surface.input_value() if kind == "markdown" else surface.inner_text()

    typed_ok = typed.count(text) == 2
    print(f"surface: {'rich-text editor' if kind == 'rich' else 'Markdown box (Edit form)'}; "
          f"{args.chars} keys per round, {args.delay_ms:.0f} ms apart; typed text arrived: {typed_ok}")  # fmt: skip
    for name, values, load in (("alone", quiet, quiet_load), ("while another tab streams", busy, busy_load)):
        if values:
            print(f"{name}: keys {len(values)}, keypress to paint p50 {statistics.median(values) * 1000:.1f} ms, "
                  f"p95 {p95(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms; "
                  f"load average {load[0]:.1f} -> {load[1]:.1f}")  # fmt: skip
    print(f"the other tab was still streaming at the end: {still}")
    if quiet and busy:
        ratio = p95(busy) / p95(quiet) if p95(quiet) else float("nan")
        verdict = "met" if p95(busy) <= 0.05 else "NOT met"
        print(f"keypress to paint p95: streaming {p95(busy) * 1000:.1f} ms vs alone {p95(quiet) * 1000:.1f} ms "
              f"({ratio:.1f}x); target <= 50 ms: {verdict}")  # fmt: skip
    return 0 if quiet and busy and typed_ok and still else 1


if __name__ == "__main__":
    raise SystemExit(main())
