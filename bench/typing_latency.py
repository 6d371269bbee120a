"""Typing latency in the in-place editor: keypress to painted character, while an article streams
in another tab, side by side with the Markdown box (today's textarea) in the same run.

    python bench/typing_latency.py [--chars 120] [--stream-chunk-delay 0.05]

It starts on 127.0.0.1 a scripted OpenAI-compatible model server (tests/judge_server.py) that
streams a long article in small chunks, and the studio app on it (a fresh data dir, chart tool
only). In headless Chromium one tab writes that article (it streams the whole time) while
another types into a finished article: first into the text block's editor, then into the same
block's *Edit as Markdown* box. Per keystroke, in the typing page: from the keydown event's
timestamp to the first moment after the next frame (requestAnimationFrame, then a message-channel
task: after the paint), checking the character is in the DOM by then (Performance API clock).
The editor's figure includes its autosave (one save goes to the server at each 0.8 s pause).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STREAMED = "# Rivers\n\n" + "\n\n".join(" ".join(f"word{i}x{j}" for j in range(40)) for i in range(60))
TYPED_ARTICLE = "# Typing\n\nA paragraph to type into."

# In the typing page: each keydown's timestamp; after it, rAF + a message-channel task = painted.
PROBE = """
window.__lat = [];
document.addEventListener('keydown', (e) => {
  if (e.key.length !== 1) return;
  const t0 = e.timeStamp, ch = e.key;
  requestAnimationFrame(() => {
    const mc = new MessageChannel();
    mc.port1.onmessage = () => window.__lat.push({ms: performance.now() - t0, ch});
    mc.port2.postMessage(0);
  });
}, true);
"""


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def sample_text(chars: int) -> str:
    return ("the quick brown fox jumps over the lazy dog " * 20)[:chars]


def type_and_measure(page: Any, chars: int) -> list[float]:
    page.evaluate("window.__lat = []")
    text = sample_text(chars)
    for ch in text:
        page.keyboard.type(ch)
        page.wait_for_timeout(30)  # a fast typist: about 30 keys a second
    page.wait_for_timeout(300)
    return [float(x["ms"]) for x in page.evaluate("window.__lat")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=120, help="keystrokes per editor")
    parser.add_argument("--stream-chunk-delay", type=float, default=0.05, help="seconds between streamed chunks")
    args = parser.parse_args()

    from studio.app.editor_bundle import editor_url
    from studio.app.session import Session, Studio
    from studio.app.settings import load_settings
    from studio.core.agent import Brief
    from tests.browser import chromium
    from tests.judge_server import JudgeServer, Reply
    from tests.ui.conftest import running_app

    if editor_url() is None:
        print("the editor bundle is not built: cd web && npm ci && npm run build")
        return 2

    def script(index: int, body: dict[str, Any]) -> Reply | str:
        return Reply(STREAMED, chunk_chars=8, chunk_delay_s=args.stream_chunk_delay)

    with tempfile.TemporaryDirectory() as data, JudgeServer(script) as model:
        settings = load_settings(data_dir=Path(data), tools_enabled=["code"], backend="openai",
                                 openai_base_url=model.url, openai_model="judge-model")  # fmt: skip
        with running_app(settings, Studio(settings)) as (url, studio), chromium() as browser:
            sess = Session(studio)
            for _ in sess.generate(Brief("typing"), response=TYPED_ARTICLE):
                pass
            where = f"{url}?project={sess.view.project_id}&article={sess.article_id}"

            writer = browser.new_context().new_page()
            writer.goto(url)
            writer.locator("#brief textarea").fill("Rivers, at length")
            writer.locator("#write").click()
            writer.locator("#article .state-running").wait_for(timeout=60_000)

            typist = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            typist.add_init_script(PROBE)
            typist.goto(where)
            editor = typist.locator("#article studio-text[data-block-id='b1'] .ProseMirror")
            editor.wait_for(timeout=60_000)
            editor.locator("p", has_text="A paragraph").click()
            typist.keyboard.press("End")
            start = time.perf_counter()
            in_editor = type_and_measure(typist, args.chars)
            typist.wait_for_function("window.studioEditor.status().state === 'saved'", timeout=30_000)
            typed = typist.evaluate("window.studioEditor.getMarkdown('b1')")

            section = typist.locator("#article section[data-block-id='b1']")
            section.hover()
            section.get_by_role("button", name="Edit as Markdown").click()
            box = section.locator(".edit-form textarea")
            box.click()
            typist.keyboard.press("Control+End")
            in_box = type_and_measure(typist, args.chars)
            wall = time.perf_counter() - start
            streaming = "state-running" in (writer.locator("#article .studio-head .state").get_attribute("class") or "")

    if len(in_editor) < args.chars * 0.9 or len(in_box) < args.chars * 0.9:
        print(f"too few keystrokes measured: editor {len(in_editor)}, box {len(in_box)} of {args.chars}")
        return 1
    print(f"typing latency, keypress to painted character, {args.chars} keys each, while another tab streams "
          f"({'still streaming at the end' if streaming else 'the stream ENDED before the end: lower --chars'}); "
          f"{wall:.0f} s")  # fmt: skip
    for name, values in (("editor (ProseMirror)", in_editor), ("Markdown box (textarea)", in_box)):
        print(f"  {name:24} p50 {statistics.median(values):5.1f} ms  p95 {p95(values):5.1f} ms  "
              f"max {max(values):5.1f} ms  n={len(values)}")  # fmt: skip
    print(f"  ratio editor / box: p50 {statistics.median(in_editor) / statistics.median(in_box):.2f}, "
          f"p95 {p95(in_editor) / p95(in_box):.2f}")  # fmt: skip
    kept = sample_text(args.chars).strip() in typed
    print(f"  typed text kept: {'yes' if kept else 'NO'}")
    return 0 if kept else 1


if __name__ == "__main__":
    raise SystemExit(main())
