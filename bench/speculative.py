"""Speculative decoding for the embedded writer, side by side in one run: Qwen2.5-Coder-1.5B
alone against the same model with Qwen2.5-Coder-0.5B as its draft (llama.cpp's draft-model
support through xllamacpp), plus the chart writer's cached system-prompt prefix.

Both servers are loaded at once and the arms run interleaved (A, B, then B, A for the next
brief, ...), so load from other processes falls on both alike. Each request is the studio's own
writer request (``build_messages`` + ``chat_options``: its system prompt, grammar and DRY
sampler), greedy (temperature 0, a fixed seed), capped at ``--max-tokens``. llama.cpp's own
timings give the tokens generated and the generation time; the wall time is the request from
send to last token (prompt included; the tools are not run, so no image time is in it).

Greedy output should be the same with and without the draft: the big model checks every drafted
token and keeps only what it would have chosen. Where it differs, the usual reason is rounding:
the check runs the drafted tokens as one batch, and batched matrix products round differently
from one-token steps, which can flip a near tie; the first differing position is reported.

The chart part sends two chart-code requests with different descriptions and reports how many
prompt tokens the second had to process with llama.cpp's prompt cache on (the default, which
the chart writer relies on: its system prompt and worked example come first and never change)
and off.

    .venv/bin/python bench/speculative.py [--briefs report-coffee-prices,tutorial-sourdough] \
        [--max-tokens 160] [--rounds 1] [--threads 2] [--json out.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from models.embedded import EmbeddedBackend, default_threads  # noqa: E402
from studio.app.services import Services, build_services  # noqa: E402
from studio.app.settings import load_settings  # noqa: E402
from studio.core.agent import Brief, build_messages, chat_options, write_article  # noqa: E402
from studio.core.charts import ChartCoder  # noqa: E402
from studio.core.events import ArticleDone  # noqa: E402

BRIEFS = Path(__file__).resolve().parent / "briefs.jsonl"
DEFAULT_BRIEFS = "report-coffee-prices,report-bees,tutorial-sourdough"


def load_briefs(ids: list[str]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for line in BRIEFS.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["id"]] = row
    missing = [i for i in ids if i not in rows]
    if missing:
        raise SystemExit(f"no such brief id in {BRIEFS.name}: {', '.join(missing)}")
    return [rows[i] for i in ids]


def arm(name: str, args: argparse.Namespace, data_dir: Path) -> Services:
    draft = {"embedded_draft_weights": "qwen2.5-coder-0.5b"} if name == "draft" else {}
    settings = load_settings(
        data_dir=data_dir,
        backend="embedded",
        embedded_threads=args.threads,
        embedded_parallel=1,
        max_tokens=args.max_tokens,
        temperature=0.0,
        writer_seed=0,
        embedded_draft_max=args.draft_max,
        embedded_draft_p_min=args.draft_p_min,
        tools_enabled=["code"],
        **draft,
    )
    services = build_services(settings)
    assert isinstance(services.backend, EmbeddedBackend)
    services.backend.start()
    return services


def post(services: Services, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    backend = services.backend
    assert isinstance(backend, EmbeddedBackend) and backend.base_url
    started = time.perf_counter()
    reply = httpx.post(f"{backend.base_url}/chat/completions", json=body, timeout=3600).json()
    return reply, time.perf_counter() - started


def writer_request(services: Services, brief: Brief) -> dict[str, Any]:
    backend = services.backend
    assert isinstance(backend, EmbeddedBackend) and backend._client is not None
    body = backend._client.request_body(
        build_messages(brief, services), chat_options(brief, services), backend.gguf.name
    )
    body["stream"] = False
    reply, wall = post(services, body)
    timings = reply.get("timings") or {}
    return {
        "text": reply["choices"][0]["message"]["content"],
        "wall_s": wall,
        "tokens": timings.get("predicted_n", 0),
        "gen_s": timings.get("predicted_ms", 0.0) / 1000,
        "prompt_tokens": timings.get("prompt_n", 0),
        "prompt_s": timings.get("prompt_ms", 0.0) / 1000,
        "draft_n": timings.get("draft_n"),
        "draft_accepted": timings.get("draft_n_accepted"),
    }


def whole_article(services: Services, brief: Brief) -> dict[str, Any]:
    """``--full``: the whole article as the studio writes it (writer stream, guards, the chart
    writer's code call and the chart sandbox), from the request to ArticleDone."""
    started = time.perf_counter()
    done = None
    for event in write_article(brief, services):
        if isinstance(event, ArticleDone):
            done = event
    assert done is not None
    images = done.article.image_blocks()
    return {
        "text": done.article.to_llmi_text(),
        "wall_s": time.perf_counter() - started,
        "images_ok": sum(b.status == "ok" for b in images),
        "images": len(images),
    }


def first_difference(a: str, b: str) -> int | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def chart_prefix(services: Services) -> dict[str, Any]:
    """Two chart-code requests in a row; the second's prompt work with the cache on and off."""
    coder = ChartCoder(services.backend)
    backend = services.backend
    assert isinstance(backend, EmbeddedBackend) and backend._client is not None
    out: dict[str, Any] = {}
    for label, description in (
        ("first", "Bar chart of coffee price causes: weather 50, shipping 30, demand 20"),
        ("cached", "Line chart of bee colony losses per year: 2019 30, 2020 35, 2021 40"),
        ("uncached", "Pie chart of rainfall by season: spring 30, summer 20, autumn 35, winter 15"),
    ):
        options = coder.options
        body = backend._client.request_body(coder.messages(description, ""), options, backend.gguf.name)
        body.update(stream=False, max_tokens=1, cache_prompt=label != "uncached")
        reply, wall = post(services, body)
        timings = reply.get("timings") or {}
        out[label] = {
            "prompt_processed": timings.get("prompt_n"),
            "prompt_from_cache": timings.get("cache_n"),
            "prompt_s": round(timings.get("prompt_ms", 0.0) / 1000, 2),
            "wall_s": round(wall, 2),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs", default=DEFAULT_BRIEFS, help="comma-separated ids from bench/briefs.jsonl")
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="0: the studio's default (one per physical core)")
    parser.add_argument("--draft-max", type=int, default=8)
    parser.add_argument("--draft-p-min", type=float, default=0.6)
    parser.add_argument("--no-chart", action="store_true", help="skip the chart prompt-cache part")
    parser.add_argument("--full", action="store_true", help="whole articles (tools included): wall time only")
    parser.add_argument("--json", type=Path, help="write every measurement here (JSON lines)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.path.expanduser("~/.local/share/llmi-studio")))
    args = parser.parse_args()

    briefs = load_briefs([b.strip() for b in args.briefs.split(",") if b.strip()])
    print(f"load average at start: {os.getloadavg()}, cpus {os.cpu_count()}", flush=True)
    arms = {"plain": arm("plain", args, args.data_dir), "draft": arm("draft", args, args.data_dir)}
    rows: list[dict[str, Any]] = []
    try:
        for round_no in range(args.rounds):
            for i, row in enumerate(briefs):
                brief = Brief(row["prompt"], row.get("wanted_images"))
                order = ["plain", "draft"] if (i + round_no) % 2 == 0 else ["draft", "plain"]
                for name in order:
                    if args.full:
                        full = whole_article(arms[name], brief)
                        full.update(arm=name, brief=row["id"], round=round_no, load=os.getloadavg()[0])
                        rows.append(full)
                        print(f"{row['id']:<24} {name:<6} article wall {full['wall_s']:7.1f} s, images ok "
                              f"{full['images_ok']}/{full['images']}, load {full['load']:.1f}", flush=True)  # fmt: skip
                        continue
                    result = writer_request(arms[name], brief)
                    result.update(arm=name, brief=row["id"], round=round_no, load=os.getloadavg()[0])
                    rows.append(result)
                    tps = result["tokens"] / max(result["gen_s"], 1e-9)
                    print(
                        f"{row['id']:<24} {name:<6} {result['tokens']:>4} tok  {tps:6.2f} tok/s  "
                        f"wall {result['wall_s']:7.1f} s  draft {result['draft_accepted']}/{result['draft_n']}  "
                        f"load {result['load']:.1f}",
                        flush=True,
                    )
        chart = None if args.no_chart else chart_prefix(arms["plain"])
    finally:
        for services in arms.values():
            services.backend.close()  # type: ignore[attr-defined]
    if args.full:
        report_full(rows)
    else:
        report(rows, chart, args)
    if args.json:
        with args.json.open("w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
            if chart:
                fh.write(json.dumps({"chart_prefix": chart}) + "\n")


def report_full(rows: list[dict[str, Any]]) -> None:
    by = {(r["arm"], r["brief"], r["round"]): r for r in rows}
    ratios = []
    for (name, brief_id, round_no), plain in by.items():
        if name == "plain":
            draft = by[("draft", brief_id, round_no)]
            ratios.append(plain["wall_s"] / draft["wall_s"])
            same = "yes" if plain["text"] == draft["text"] else "no"
            print(f"{brief_id:<24} article wall plain {plain['wall_s']:7.1f} s, draft {draft['wall_s']:7.1f} s, "
                  f"x{ratios[-1]:.2f}; same article: {same}")  # fmt: skip
    if ratios:
        print(f"geometric mean, draft over plain: article wall time x{statistics.geometric_mean(ratios):.2f}")
    print(f"load average at end: {os.getloadavg()}")


def report(rows: list[dict[str, Any]], chart: dict[str, Any] | None, args: argparse.Namespace) -> None:
    by = {(r["arm"], r["brief"], r["round"]): r for r in rows}
    print()
    print(f"{'brief':<24}{'plain tok/s':>12}{'draft tok/s':>12}{'ratio':>7}{'plain wall':>11}{'draft wall':>11}"
          f"{'ratio':>7}{'accepted':>10}  same greedy output")  # fmt: skip
    speed, wall = [], []
    for (name, brief_id, round_no), plain in by.items():
        if name != "plain":
            continue
        draft = by[("draft", brief_id, round_no)]
        p_tps = plain["tokens"] / max(plain["gen_s"], 1e-9)
        d_tps = draft["tokens"] / max(draft["gen_s"], 1e-9)
        speed.append(d_tps / p_tps)
        wall.append(plain["wall_s"] / draft["wall_s"])
        diff = first_difference(plain["text"], draft["text"])
        same = "yes" if diff is None else f"no, from character {diff}"
        accepted = f"{draft['draft_accepted']}/{draft['draft_n']}" if draft["draft_n"] is not None else "n/a"
        print(f"{brief_id:<24}{p_tps:>12.2f}{d_tps:>12.2f}{d_tps / p_tps:>7.2f}{plain['wall_s']:>10.1f}s"
              f"{draft['wall_s']:>10.1f}s{plain['wall_s'] / draft['wall_s']:>7.2f}{accepted:>10}  {same}")  # fmt: skip
    if speed:
        threads = args.threads or default_threads()
        print(
            f"geometric mean, draft over plain: tokens/s x{statistics.geometric_mean(speed):.2f}, writer wall "
            f"time x{statistics.geometric_mean(wall):.2f} (above 1: the draft is faster)"
        )
        print(f"max_tokens {args.max_tokens}, {threads} threads, draft n_max {args.draft_max}, "
              f"p_min {args.draft_p_min}")  # fmt: skip
    if chart:
        print("chart writer prompt cache (second request, a different chart):", json.dumps(chart))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
