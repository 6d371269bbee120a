"""Loops and echoes with a real model: DRY sampling on (the default) against off, side by side.

Writes the first N shipped briefs twice with the embedded backend (llama.cpp), once with
STUDIO_DRY_MULTIPLIER=0 and once with the default, same seed, guards on, tools off (every tag a
placeholder: this measures the text). Per setting: loops the guard removed, prompt echoes and
tool-talk sentences removed, any left (studio.quality.honesty.guard_checks), the characters kept,
and the wall time. Every removed sentence is printed so false positives can be read.

    python bench/loops.py [--weights smollm2-135m] [--limit 6] [--max-tokens 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.app.services import build_services  # noqa: E402
from studio.app.settings import load_settings  # noqa: E402
from studio.core.agent import Brief, build_messages, write_article  # noqa: E402
from studio.core.events import ArticleDone  # noqa: E402
from studio.quality.benchmark import load_briefs, writer_count  # noqa: E402
from studio.quality.honesty import GUARD_COUNTS, guard_checks  # noqa: E402


def run(setting: str, dry: float, args: argparse.Namespace, data_dir: Path) -> dict[str, object]:
    settings = load_settings(
        data_dir=data_dir, backend="embedded", embedded_weights=args.weights, embedded_threads=args.threads,
        embedded_parallel=1, embedded_ctx=2048, tools_enabled=[], max_tokens=args.max_tokens, max_continuations=0,
        writer_seed=args.seed, dry_multiplier=dry, allow_downloads=False,
    )  # fmt: skip
    services = build_services(settings)
    totals = dict.fromkeys(GUARD_COUNTS, 0)
    chars, removed = 0, []
    started = time.perf_counter()
    try:
        for item in load_briefs(Path(args.briefs))[: args.limit]:
            brief = Brief(item.prompt, wanted_images=writer_count(item.wanted_images), style=item.style)
            done = [e for e in write_article(brief, services) if isinstance(e, ArticleDone)][-1]
            prompts = [str(m["content"]) for m in build_messages(brief, services)]
            checks = guard_checks(done.article, prompts)
            for key in GUARD_COUNTS:
                totals[key] += checks[key]
            chars += sum(len(b.text) for b in done.article.blocks if b.kind == "text")
            removed += [f"{item.id} {r['kind']}: {r['text'][:240]}" for r in checks["removed"] + checks["left"]]
    finally:
        services.close()
    return {"setting": setting, **totals, "text_chars": chars, "seconds": round(time.perf_counter() - started, 1),
            "removed": removed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="smollm2-135m")
    parser.add_argument("--briefs", default=str(Path(__file__).parent / "briefs.jsonl"))
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run("DRY off", 0.0, args, Path(tmp)), run("DRY 0.8 (default)", 0.8, args, Path(tmp))]
    for row in rows:
        print(json.dumps({k: v for k, v in row.items() if k != "removed"}))
        for line in row["removed"]:  # type: ignore[union-attr]
            print("   ", line)


if __name__ == "__main__":
    main()
