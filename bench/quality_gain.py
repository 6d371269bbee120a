"""Quality mode's effect, measured: candidate 1 (what quality 1 would have written) against the
article quality mode keeps, per brief, in one run (a paired comparison, so sampling noise between
separate runs does not pose as a gain).

    python bench/quality_gain.py --out DIR [--briefs bench/briefs.jsonl] [--limit 4] [--quality 3]
        [--writer smollm2-135m] [--judge-weights qwen2.5-coder-1.5b | --judge-url URL]

By default the writer is the embedded SmolLM2 (fast, junk text) and the judge is the embedded
Qwen2.5-Coder-1.5B served by llama.cpp's OpenAI-compatible server on 127.0.0.1: a real, if weak,
text judge. It cannot see images, so there is no multimodal judge here (R is then unavailable and
selection uses R without its image term, the text judge's part). Offline, only charts are on, so
the code-only briefs are used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.judge import Judge  # noqa: E402
from studio.app.services import build_services  # noqa: E402
from studio.app.settings import load_settings  # noqa: E402
from studio.core.agent import Brief  # noqa: E402
from studio.core.article import Article  # noqa: E402
from studio.export.outdir import save_article_dir  # noqa: E402
from studio.quality.benchmark import BenchBrief, load_briefs  # noqa: E402
from studio.quality.reward import score_article  # noqa: E402
from studio.quality.scaling import collect_with, write_best_article  # noqa: E402


def text_reward(score: dict) -> float | None:
    llm = score.get("llm")
    return None if llm is None else 0.2 * score["num_score"] + 0.5 * llm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--briefs", type=Path, default=Path(__file__).with_name("briefs.jsonl"))
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--quality", type=int, default=3)
    parser.add_argument("--writer", default="smollm2-135m")
    parser.add_argument("--judge-weights", default="qwen2.5-coder-1.5b")
    parser.add_argument("--judge-url", help="an OpenAI-compatible judge endpoint instead of the embedded one")
    args = parser.parse_args()

    settings = load_settings(
        embedded_weights=args.writer, embedded_threads=1, max_tokens=600, max_paragraph_chars=300,
        chart_max_tokens=300, tools_enabled=["code"], allow_downloads=False,
    )  # fmt: skip
    judge_server = None
    url = args.judge_url
    if url is None:
        from models.embedded import LlamaServer
        from models.weights import resolve_gguf

        gguf = resolve_gguf(args.judge_weights, None, settings.data_dir / "models", False)
        judge_server = LlamaServer(gguf, threads=1, ctx=4096)
        url = judge_server.base_url
    judge = Judge(url, timeout_s=300.0, retries=1)
    briefs = [b for b in load_briefs(args.briefs) if set(b.tools) <= {"code"}][: args.limit]
    services = build_services(settings)
    rows = []
    try:
        for item in briefs:
            print(f"{item.id}: writing {args.quality} candidates", flush=True)
            brief = Brief(item.prompt, wanted_images=item.wanted_images if item.wanted_images > 0 else None)
            result = collect_with(
                write_best_article(
                    brief, services, candidates=args.quality, judge=judge, image_judge=None, required_tools=item.tools
                )
            )

            def scored(article: Article, item: BenchBrief = item) -> dict:
                return score_article(
                    article, prompt=item.prompt, wanted_images=item.wanted_images, required_tools=item.tools,
                    text_judge=judge, image_judge=None, evaluation=True,
                ).to_dict()  # fmt: skip

            first = scored(result.candidates[0].article)
            kept = first if result.article is result.candidates[0].article else scored(result.article)
            save_article_dir(result.article, args.out / item.id / "kept")
            save_article_dir(result.candidates[0].article, args.out / item.id / "candidate1")
            rows.append({"id": item.id, "first": first, "kept": kept, "selection": result.selection.reason,
                         "polish": result.polish})  # fmt: skip
            print(f"  {result.selection.reason}", flush=True)
    finally:
        services.close()
        judge.close()
        if judge_server is not None:
            judge_server.close()

    judge_name = args.judge_weights if args.judge_url is None else url
    print(f"\nwriter {args.writer}, judge {judge_name} (text only), quality {args.quality}, {len(rows)} briefs;")
    print("both columns scored the same way (evaluation variant of the image count)")
    print(f"{'brief':<24}{'cand.1 rule':>12}{'kept rule':>11}{'cand.1 judge':>14}{'kept judge':>12}")
    nan = float("nan")
    for row in rows:
        fj, kj = text_reward(row["first"]), text_reward(row["kept"])
        print(
            f"{row['id']:<24}{row['first']['rule_reward']:>12.3f}{row['kept']['rule_reward']:>11.3f}"
            f"{fj if fj is not None else nan:>14.3f}{kj if kj is not None else nan:>12.3f}"
        )
    for name, get in (("rule reward", lambda s: s["rule_reward"]), ("text-judge reward", text_reward)):
        both = [(get(r["first"]), get(r["kept"])) for r in rows]
        both = [(a, b) for a, b in both if a is not None and b is not None]
        if both:
            before, after = statistics.mean(a for a, _ in both), statistics.mean(b for _, b in both)
            print(
                f"mean {name}: candidate 1 {before:.3f} -> kept {after:.3f} (gain {after - before:+.3f}, n={len(both)})"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality_gain.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
