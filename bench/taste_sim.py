"""A scripted user with a hidden, consistent taste makes choices through the app's API; the taste
model trained on them is measured against the rule reward, and against a user who chooses at random.

    python bench/taste_sim.py [--choices 500] [--random-choices 300] [--out results.json]

For each user a real app is started on 127.0.0.1 (a free port) in render mode (the real chart
sandbox, a real SQLite store in a fresh data dir, no writing model) and driven with
gradio_client only: ``/render`` an article of four charts, ``/regenerate`` each chart as another
chart of the same data, then ``/accept`` (keep the new one) or ``/revert`` (back to version 1)
as the user's taste says (tests/taste_user.py: horizontal bars > bars > lines > pies, teal and
gold over grey and red). Then ``/train_taste`` trains the model (timed, progress counted).

On the model's own held-out pairs (never trained on) it reports:
- pairwise accuracy of the taste model (reloaded from its saved folder) and of the rule reward
  alone (rule_reward of each version in its article; a tie counts half);
- how often quality mode's selection (studio.quality.scaling.select_candidate, the two versions as
  candidates in random order) picks the version the user kept: rules only, and with the taste
  term; the studio uses the term only when the model is usable, so "as the studio does" follows
  the model's honesty verdict.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.app.taste_jobs import taste_root, user_rows  # noqa: E402
from studio.core.agent import Brief  # noqa: E402
from studio.core.article import Article, ImageBlock, TextBlock  # noqa: E402
from studio.quality.reward import score_article  # noqa: E402
from studio.quality.scaling import candidate_score, select_candidate  # noqa: E402
from studio.quality.taste_features import BlockView, views_from_row  # noqa: E402
from studio.quality.taste_rank import taste_terms  # noqa: E402
from studio.quality.taste_store import TasteStore, load_model  # noqa: E402
from tests.render_studio import render_studio  # noqa: E402
from tests.taste_user import ScriptedUser, alternative, random_spec, response  # noqa: E402
from tests.ui.conftest import running_app  # noqa: E402

PER_ARTICLE = 4


def image_block_ids(outputs: Any) -> list[str]:
    """The image blocks' ids from /render's article JSON output."""
    for value in outputs if isinstance(outputs, list | tuple) else [outputs]:
        if isinstance(value, dict) and isinstance(value.get("article"), dict):
            return [b["id"] for b in value["article"]["blocks"] if b.get("kind") == "image"]
    raise RuntimeError("the /render answer holds no article")


def make_choices(client: Any, user: ScriptedUser, choices: int, seed: int) -> int:
    rng = random.Random(seed)
    made, article = 0, 0
    while made < choices:
        specs = [random_spec(rng, article) for _ in range(PER_ARTICLE)]
        outputs = client.predict(f"charts {article}", response(rng, specs, article), "", api_name="/render")
        for block, old in zip(image_block_ids(outputs), specs, strict=True):
            if made >= choices:
                break
            new = alternative(rng, old, article)
            client.predict(block, "params", json.dumps({"code": new.code()}), None, api_name="/regenerate")
            if user.keeps_new(old, new):
                client.predict(block, api_name="/accept")
            else:
                client.predict(block, "1", api_name="/revert")
            made += 1
        article += 1
        print(f"\r  {made}/{choices} choices", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return made


def train_through_app(client: Any) -> tuple[str, float, int]:
    """/train_taste as the button does: (its final message, seconds, progress updates seen)."""
    started = time.monotonic()
    job = client.submit(api_name="/train_taste")
    seen = 0
    while not job.done():
        status = job.status()
        if status.progress_data:
            seen += 1
        time.sleep(0.5)
    return str(job.result()), time.monotonic() - started, seen


def one_block_article(view: BlockView) -> Article:
    """The version in its place (text before, the block, text after), for the rule reward."""
    source = view.source or None
    block = ImageBlock("b2", 0, source, view.description, dict(view.params), "", status=view.status)  # type: ignore[arg-type]
    block.image = view.image
    return Article(brief=view.brief, blocks=[TextBlock("b1", view.before), block, TextBlock("b3", view.after)])


def evaluate(studio: Any, user: str) -> dict[str, Any]:
    taste = TasteStore(taste_root(Path(studio.settings.data_dir)), user)
    folder = taste.latest()
    assert folder is not None, "training saved no model"
    model = load_model(folder)
    report = model.report
    held = set(report.heldout_event_ids)
    rows = [r for r in user_rows(studio.store, user) if r["event_id"] in held]
    rng = random.Random(7)
    taste_ok = rule_ok = picks_rules = picks_taste = 0.0
    for row in rows:
        chosen_img = studio.store.assets.read(row["chosen_image_sha256"]) if row["chosen_image_sha256"] else None
        rejected_img = studio.store.assets.read(row["rejected_image_sha256"]) if row["rejected_image_sha256"] else None
        chosen, rejected = views_from_row(row, chosen_img, rejected_img)
        scores = [
            candidate_score(score_article(one_block_article(v), prompt=v.brief, wanted_images=0))
            for v in (chosen, rejected)
        ]
        rule_ok += 1.0 if scores[0].rule_reward > scores[1].rule_reward else 0.5 if scores[0] == scores[1] else 0.0
        taste_ok += 1.0 if model.prefer(chosen, rejected) > 0.5 else 0.0
        order = [0, 1] if rng.random() < 0.5 else [1, 0]  # candidate order: the user's pick is first or second
        views = [(chosen, rejected)[i] for i in order]
        ordered = [scores[i] for i in order]
        kept = order.index(0)
        picks_rules += select_candidate(ordered).index == kept
        terms = taste_terms([float(s) for s in model.score(views)])
        picks_taste += select_candidate(ordered, terms).index == kept
    n = len(rows) or 1
    studio_picks = picks_taste if report.usable else picks_rules
    return {
        "version": folder.name,
        "pairs": report.pairs,
        "heldout_pairs": len(rows),
        "report_accuracy": report.accuracy,
        "report_interval": list(report.interval),
        "usable": report.usable,
        "reason": report.reason,
        "taste_heldout_accuracy": taste_ok / n,
        "rule_heldout_accuracy": rule_ok / n,
        "quality_picks_rules_only": picks_rules / n,
        "quality_picks_with_taste_term": picks_taste / n,
        "quality_picks_as_the_studio_does": studio_picks / n,
    }


def run_user(label: str, consistent: bool, choices: int, seed: int) -> dict[str, Any]:
    from gradio_client import Client

    data_dir = Path(tempfile.mkdtemp(prefix=f"taste-sim-{label}-"))
    studio = render_studio(data_dir)
    with running_app(studio.settings, studio) as (url, _):
        client = Client(url, verbose=False)
        started = time.monotonic()
        made = make_choices(client, ScriptedUser(consistent, seed), choices, seed)
        choosing = time.monotonic() - started
        message, seconds, updates = train_through_app(client)
        result = evaluate(studio, "local")
    result.update(
        {
            "user": label,
            "choices": made,
            "choice_seconds": round(choosing, 1),
            "train_seconds": round(seconds, 1),
            "progress_updates": updates,
            "message": message,
        }
    )
    return result


def time_training(pairs: int) -> dict[str, Any]:
    """Seconds to train on ``pairs`` fresh pairs (every text new to the embedder, a cold model
    load included), in this process: the target is 500 pairs in <= 5 minutes on this machine.
    Each pair's images are real chart renders (one per chart kind and colour, reused)."""
    from studio.app.session import Session
    from studio.quality.taste import Embedder, train_taste
    from studio.quality.taste_features import view_of_block

    rng, user = random.Random(5), ScriptedUser(True)
    studio = render_studio(Path(tempfile.mkdtemp(prefix="taste-timing-")))
    session, images = Session(studio), {}
    try:
        views = []
        for n in range(pairs):
            old = random_spec(rng, n)
            new = alternative(rng, old, n)
            pair = []
            for spec in (old, new):
                if (spec.kind, spec.color) not in images:
                    for _ in session.generate(Brief("timing"), response=response(rng, [spec], n)):
                        pass
                    assert session.article is not None
                    images[spec.kind, spec.color] = session.article.image_blocks()[0]
                block = images[spec.kind, spec.color]
                article = Article(
                    brief=f"charts {n} {rng.random():.6f}", blocks=[TextBlock("b1", f"Part {n}. "), block]
                )
                view = view_of_block(article, block)
                pair.append(BlockView(view.brief, view.before, view.after, "image", "code", f"view {n} {spec.title}",
                                      {"code": spec.code()}, "", "ok", view.image))  # fmt: skip
            views.append((pair[1], pair[0]) if user.keeps_new(old, new) else (pair[0], pair[1]))
        started = time.monotonic()
        model = train_taste(views, user="timing", embedder=Embedder())
        seconds = time.monotonic() - started
    finally:
        studio.close()
    return {"pairs": pairs, "train_seconds": round(seconds, 1), "heldout_accuracy": model.report.accuracy}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--choices", type=int, default=500, help="choices of the consistent user")
    parser.add_argument("--random-choices", type=int, default=300, help="choices of the random user")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--user", choices=["both", "consistent", "random"], default="both")
    parser.add_argument("--timing-pairs", type=int, default=0, help="only time training on N fresh pairs")
    args = parser.parse_args()
    if args.timing_pairs:
        print(json.dumps(time_training(args.timing_pairs)))
        return 0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    results = []
    if args.user in ("both", "consistent"):
        results.append(run_user("consistent", True, args.choices, seed=1))
    if args.user in ("both", "random"):
        results.append(run_user("random", False, args.random_choices, seed=2))
    print(f"commit {commit}")
    keys = [
        "choices",
        "heldout_pairs",
        "taste_heldout_accuracy",
        "report_interval",
        "rule_heldout_accuracy",
        "quality_picks_rules_only",
        "quality_picks_with_taste_term",
        "quality_picks_as_the_studio_does",
        "usable",
        "train_seconds",
        "progress_updates",
    ]
    for r in results:
        print(f"\n{r['user']} user: {r['message']}")
        for k in keys:
            v = r[k]
            shown = f"{v:.3f}" if isinstance(v, float) else str([round(x, 3) for x in v]) if isinstance(v, list) else v
            print(f"  {k:34} {shown}")
    if args.out:
        args.out.write_text(json.dumps({"commit": commit, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
