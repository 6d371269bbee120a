"""Article wall time: the streaming orchestrator against "stream everything, then run the tools".

Same scripted model stream (fixed delay per chunk) and the same scripted tool delays for all
three, so the figures compare scheduling only:

- streaming: studio.core.engine.Engine (tools start as their tag closes, while the model streams)
- after-stream: read the whole stream first, then run the tools on the same pool size with the
  same edit dependency (what the reference does: tools only after the text is written)
- bound: the best any scheduler can do here: max(stream time, max over tags of the time the
  tag closes + the tool chain that starts there (an edit adds its target's chain)).

    python bench/article_wall.py [--runs 5] [--chunk-ms 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import BaseModel  # noqa: E402

from studio.core.engine import Engine, EngineOptions
from studio.core.protocol import ToolCall, find_tags, format_tag, parse_tag  # noqa: E402
from studio.core.runner import ToolRunner  # noqa: E402
from tools.base import Tool, ToolContext, ToolResult  # noqa: E402
from tools.params import PARAMS_BY_SOURCE  # noqa: E402

# tool delays in seconds, by source (a fast chart, a slow diffusion, an edit of it)
DELAYS = {"search": 0.8, "code": 0.5, "diffusion": 1.5, "edit": 1.0}


def make_tool(source: str) -> Tool:
    class Sleeper(Tool):
        name = source
        Params = PARAMS_BY_SOURCE[source]

        def run(self, params: BaseModel, context: ToolContext) -> ToolResult:
            time.sleep(DELAYS[source])
            return ToolResult.success(b"\x89PNG", {"source": source})

    return Sleeper()


def script(chunks_total: int) -> list[str]:
    """Article chunks with four tags closing at 20%, 40%, 60% and 80% of the stream."""
    tags = {
        int(chunks_total * 0.2): format_tag("search", "s", {"query": "lighthouse"}),
        int(chunks_total * 0.4): format_tag("code", "c", {"code": "plt.plot([1, 2])"}),
        int(chunks_total * 0.6): format_tag("diffusion", "d", {"prompt": "storm"}),
        int(chunks_total * 0.8): format_tag("edit", "e", {"img_index": 2, "prompt": "dawn"}),
    }
    return [tags.get(i, "word ") for i in range(chunks_total)]


def timed_stream(chunks: list[str], delay_s: float) -> Iterator[str]:
    for chunk in chunks:
        time.sleep(delay_s)
        yield chunk


def run_streaming(chunks: list[str], delay_s: float, tools: dict[str, Tool]) -> float:
    start = time.perf_counter()
    for _ in Engine(ToolRunner(tools), options=EngineOptions(max_concurrent_tools=4)).run(
        timed_stream(chunks, delay_s)
    ):
        pass
    return time.perf_counter() - start


def run_after_stream(chunks: list[str], delay_s: float, tools: dict[str, Tool]) -> float:
    start = time.perf_counter()
    text = "".join(timed_stream(chunks, delay_s))
    calls = [t for t in find_tags(text) if isinstance(t, ToolCall)]
    futures: list[Future[ToolResult]] = []
    with ThreadPoolExecutor(4) as pool:
        for call in calls:
            if call.source == "edit":
                target = futures[call.params.img_index]  # type: ignore[attr-defined]

                def chained(target: Future[ToolResult] = target, call: ToolCall = call) -> ToolResult:
                    target.result()
                    return tools["edit"].run(call.params, ToolContext())

                futures.append(pool.submit(chained))
            else:
                futures.append(pool.submit(tools[call.source].run, call.params, ToolContext()))
        for future in futures:
            future.result()
    return time.perf_counter() - start


def bound(chunks: list[str], delay_s: float) -> float:
    stream_time = len(chunks) * delay_s
    finish = stream_time
    chain_end: dict[int, float] = {}
    position = 0
    for i, chunk in enumerate(chunks):
        if not chunk.startswith("<imgen>"):
            continue
        call = parse_tag(chunk, tag_position=position)
        assert isinstance(call, ToolCall)
        closes = (i + 1) * delay_s
        ready = closes
        if call.source == "edit":
            ready = max(closes, chain_end[call.params.img_index])  # type: ignore[attr-defined]
        chain_end[position] = ready + DELAYS[call.source]
        finish = max(finish, chain_end[position])
        position += 1
    return finish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--chunk-ms", type=float, default=15.0)
    args = parser.parse_args()
    delay = args.chunk_ms / 1000
    chunks = script(args.chunks)
    tools = {s: make_tool(s) for s in DELAYS}
    streaming = [run_streaming(chunks, delay, tools) for _ in range(args.runs)]
    after = [run_after_stream(chunks, delay, tools) for _ in range(args.runs)]
    best = bound(chunks, delay)
    s_med, a_med = statistics.median(streaming), statistics.median(after)
    print(f"stream {len(chunks) * delay:.2f}s, tool delays {DELAYS}, {args.runs} runs each (median)")
    print(f"{'scheduler':<22}{'wall s':>8}{'vs bound':>10}")
    print(f"{'bound':<22}{best:>8.2f}{1.0:>10.3f}")
    print(f"{'streaming (Engine)':<22}{s_med:>8.2f}{s_med / best:>10.3f}")
    print(f"{'after-stream':<22}{a_med:>8.2f}{a_med / best:>10.3f}")
    print(
        f"after-stream / streaming = {a_med / s_med:.2f}x; "
        f"streaming is within {100 * (s_med / best - 1):.1f}% of the bound"
    )


if __name__ == "__main__":
    main()
