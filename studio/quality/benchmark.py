"""The benchmark harness: write every brief of a JSONL set, score it the paper's way, report.

    python -m studio bench bench/briefs.jsonl --out DIR [--limit N] [--quality N]

Per brief: the article (DIR/<id>/article.{json,html}, images), tag validity, per-source
execution success, image-count compliance (evaluation variant: exact count), the rule reward,
and the judge's scores and rubric when a judge is configured (STUDIO_JUDGE_BASE_URL). Then
DIR/results.jsonl, DIR/summary.json, a table on the terminal and DIR/report.html.

A brief line: {"id", "prompt", "wanted_images", "tools": [...], "category", "rubric": [...], "style",
"input_images": [paths relative to the briefs file, or "made:living-room" for a picture the harness
draws at run time]} (input images are the user's images, e.g. for edit tasks). wanted_images
follows the paper: -1 no image (the writer's grammar then admits no tag), 0 any count, 99 at least
one, N exactly N.

Honesty checks per brief (studio.quality.honesty): faked pictures, placeholders, picture kinds the
brief names without a tag of their source, chart runs with
their fallback / illustrative / relevance figures, leaked example phrases, count compliance with
the reason when missed, cut-off articles, and the stream guards: loops, prompt echoes and
tool-talk sentences removed, and any left. Tool choice and re-routes (studio.quality.tool_choice).
Per brief and per run (studio.quality.plan_checks, studio.quality.throughput): the sections the
brief asks for against those written, the article's language against the brief's, and the
writer's tokens per second.
Brief text and model output are untrusted: the report goes through Jinja2's autoescape under the
export's Content-Security-Policy.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from models.errors import ConfigError
from studio.core.agent import Brief, build_messages, write_article
from studio.core.events import ArticleDone
from studio.export.outdir import save_article_dir
from studio.quality.honesty import article_checks, honesty_lines, summarize_checks
from studio.quality.made_images import MADE_PREFIX, made_image
from studio.quality.plan_checks import plan_checks, plan_lines, summarize_plan_checks
from studio.quality.scaling import QualityServices
from studio.quality.throughput import counted, summarize_throughput
from studio.quality.tool_choice import tool_choice
from tools.params import SOURCES

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class BenchBrief:
    id: str
    prompt: str
    wanted_images: int
    tools: tuple[str, ...] = ()
    category: str = ""
    rubric: tuple[str, ...] = ()
    style: str = ""
    input_images: tuple[bytes, ...] = ()


def load_briefs(path: Path) -> list[BenchBrief]:
    """Read and check a briefs JSONL file; a bad line raises ConfigError naming it."""
    briefs: list[BenchBrief] = []
    seen: set[str] = set()
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: a brief must be a JSON object")
        brief_id, prompt, wanted = row.get("id"), row.get("prompt"), row.get("wanted_images")
        tools, rubric = row.get("tools", []), row.get("rubric", [])
        if not isinstance(brief_id, str) or not _ID.match(brief_id) or brief_id in seen:
            raise ConfigError(f"{where}: 'id' must be a unique name of letters, digits, - and _")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError(f"{where}: 'prompt' must be a non-empty string")
        if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < -1:
            raise ConfigError(f"{where}: 'wanted_images' must be -1, 0, 99 or a positive count")
        if not isinstance(tools, list) or any(t not in SOURCES for t in tools):
            raise ConfigError(f"{where}: 'tools' must list sources among {list(SOURCES)}")
        if not isinstance(rubric, list) or not all(isinstance(c, str) for c in rubric) or len(rubric) > 10:
            raise ConfigError(f"{where}: 'rubric' must be a list of at most 10 criteria")
        images = _input_images(Path(path).parent, row.get("input_images", []), where)
        seen.add(brief_id)
        briefs.append(
            BenchBrief(
                brief_id,
                prompt.strip(),
                wanted,
                tuple(tools),
                str(row.get("category", "")),
                tuple(rubric),
                str(row.get("style", "")),
                images,
            )
        )
    if not briefs:
        raise ConfigError(f"{path}: no briefs")
    return briefs


MAX_INPUT_IMAGE_BYTES = 20 * 1024 * 1024


def _input_images(base: Path, paths: Any, where: str) -> tuple[bytes, ...]:
    """The brief's input images (paths relative to the briefs file, or ``made:NAME`` for a picture
    the harness draws: studio.quality.made_images); a bad one is a ConfigError."""
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths) or len(paths) > 8:
        raise ConfigError(f"{where}: 'input_images' must be a list of at most 8 image paths")
    out = []
    for rel in paths:
        if rel.startswith(MADE_PREFIX):
            try:
                out.append(made_image(rel.removeprefix(MADE_PREFIX)))
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
            continue
        file = (base / rel).resolve()
        if not file.is_file():
            raise ConfigError(f"{where}: input image {rel!r} not found (paths are relative to the briefs file)")
        if file.stat().st_size > MAX_INPUT_IMAGE_BYTES:
            raise ConfigError(f"{where}: input image {rel!r} is larger than {MAX_INPUT_IMAGE_BYTES} bytes")
        out.append(file.read_bytes())
    return tuple(out)


def writer_count(wanted: int) -> int | None:
    """The paper's wanted count as the writer's: -1 -> 0 (none), 0 / 99 -> None (the model decides), N -> N."""
    if wanted == -1:
        return 0
    return wanted if 0 < wanted < 99 else None


@dataclass
class BenchRow:
    id: str
    category: str
    seconds: float
    article_dir: str
    score: dict[str, Any]
    quality: int = 1
    selection: str = ""
    error: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def execution_success(self) -> float:
        """Successes over the calls that ran (a placeholder was never run)."""
        per = self.score.get("per_source", {})
        total = sum(v["total"] - v.get("placeholder", 0) for v in per.values())
        return sum(v["success"] for v in per.values()) / total if total else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "seconds": round(self.seconds, 2),
            "article_dir": self.article_dir,
            "quality": self.quality,
            "selection": self.selection,
            "error": self.error,
            "execution_success": self.execution_success,
            "score": self.score,
            "candidates": self.candidates,
            "checks": self.checks,
        }


Progress = Callable[[str], None]


def run_brief(
    item: BenchBrief,
    services: QualityServices,
    out_dir: Path,
    *,
    quality: int = 1,
    judge: Any = None,
    image_judge: Any = None,
    progress: Progress | None = None,
) -> BenchRow:
    """Write, save and score one brief (quality > 1: quality mode with that many candidates)."""
    from studio.quality.reward import score_article

    say = progress or (lambda _msg: None)
    brief = Brief(
        item.prompt, wanted_images=writer_count(item.wanted_images), user_images=item.input_images, style=item.style
    )
    services, writer_tokens = counted(services)  # the writer's tokens/s (studio.quality.throughput)
    started = time.perf_counter()
    selection, candidates = "", []
    if quality > 1:
        from studio.quality.scaling import ScalingNote, collect_with, write_best_article

        events = write_best_article(
            brief, services, candidates=quality, judge=judge, image_judge=image_judge, required_tools=item.tools
        )
        result = collect_with(events, lambda e: say(f"  {e.message}") if isinstance(e, ScalingNote) else None)
        article, error = result.article, result.article.error
        selection = result.selection.reason
        candidates = [
            {
                "index": c.index,
                "rule_reward": c.summary.rule_reward,
                "reward": c.summary.reward,
                "text_reward": c.summary.text_reward,
            }
            for c in result.candidates
        ]
    else:
        done = [e for e in write_article(brief, services) if isinstance(e, ArticleDone)][-1]
        article, error = done.article, done.error
    seconds = time.perf_counter() - started
    target = out_dir / item.id
    save_article_dir(article, target)
    scored = score_article(
        article,
        prompt=item.prompt,
        wanted_images=item.wanted_images,
        required_tools=item.tools,
        text_judge=judge,
        image_judge=image_judge,
        rubric=item.rubric,
        evaluation=True,
    )
    prompts = [str(m["content"]) for m in build_messages(brief, services)]
    checks = article_checks(article, item.wanted_images, prompts, plan=brief.plan)
    checks["tool_choice"] = tool_choice(article, item.tools)
    checks["plan"] = plan_checks(article, brief.plan)  # sections asked and written, language match
    checks["throughput"] = writer_tokens.take().to_dict()
    return BenchRow(
        item.id, item.category, seconds, str(target), scored.to_dict(), quality, selection, error, candidates, checks
    )


def run_benchmark(
    briefs: Sequence[BenchBrief],
    services: QualityServices,
    out_dir: Path,
    *,
    quality: int = 1,
    judge: Any = None,
    image_judge: Any = None,
    progress: Progress | None = None,
    judge_label: str = "",
) -> list[BenchRow]:
    """Every brief in order; results.jsonl grows as they finish (a crash keeps the finished ones)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)
    rows: list[BenchRow] = []
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as results:
        for number, item in enumerate(briefs, start=1):
            say(f"[{number}/{len(briefs)}] {item.id}")
            row = run_brief(
                item, services, out_dir, quality=quality, judge=judge, image_judge=image_judge, progress=say
            )
            rows.append(row)
            results.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
            results.flush()
    summary = summarize(rows)
    summary["judge_label"] = judge_label  # e.g. the weak embedded judge: say what judged
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_report(rows, summary, out_dir / "report.html")
    return rows


def _mean(values: Sequence[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def _rubric_fraction(score: dict[str, Any]) -> float | None:
    rubric = score.get("rubric") or {}
    return rubric.get("fraction") if rubric.get("kind") == "rubric" else None


def summarize(rows: Sequence[BenchRow]) -> dict[str, Any]:
    """Means over the briefs; judge figures over the briefs the judge answered (with that count)."""
    per_source: dict[str, dict[str, float]] = {}
    for source in SOURCES:
        total = sum(r.score["per_source"][source]["total"] for r in rows)
        waiting = sum(r.score["per_source"][source].get("placeholder", 0) for r in rows)
        success = sum(r.score["per_source"][source]["success"] for r in rows)
        run = total - waiting
        per_source[source] = {
            "total": total,
            "placeholder": waiting,
            "success": success,
            "success_rate": success / run if run else 1.0,
        }
    rewards = [r.score.get("reward") for r in rows]
    rubrics = [_rubric_fraction(r.score) for r in rows]
    return {
        "briefs": len(rows),
        "quality": rows[0].quality if rows else 1,
        "tag_validity": _mean([r.score["tag_validity"] for r in rows]),
        "execution_success": _mean([r.execution_success for r in rows]),
        "image_count_compliance": _mean([r.score["num_score"] for r in rows]),
        "rule_reward": _mean([r.score["rule_reward"] for r in rows]),
        "judge_reward": _mean(rewards),
        "judged": sum(v is not None for v in rewards),
        "rubric": _mean(rubrics),
        "rubric_judged": sum(v is not None for v in rubrics),
        "per_source": per_source,
        "seconds": sum(r.seconds for r in rows),
        "stream_errors": sum(r.error is not None for r in rows),
        "honesty": summarize_checks([r.checks for r in rows if r.checks]),
        "plan": summarize_plan_checks([r.checks for r in rows if r.checks]),
        "throughput": summarize_throughput([r.checks for r in rows if r.checks]),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


COLUMNS = ("brief", "valid", "exec", "images", "count", "rule R", "judge R", "rubric", "s")


def table_rows(rows: Sequence[BenchRow]) -> list[list[str]]:
    out = []
    for r in rows:
        s = r.score
        out.append([
            r.id, _fmt(s["tag_validity"]), _fmt(r.execution_success), f"{s['image_count']}/{s['wanted_images']}",
            _fmt(s["num_score"]), _fmt(s["rule_reward"]), _fmt(s.get("reward")), _fmt(_rubric_fraction(s)),
            f"{r.seconds:.0f}",
        ])  # fmt: skip
    return out


def format_table(rows: Sequence[BenchRow], summary: dict[str, Any]) -> str:
    """A fixed-width table for the terminal, with a mean row."""
    body = table_rows(rows)
    mean = ["MEAN", _fmt(summary["tag_validity"]), _fmt(summary["execution_success"]), "",
            _fmt(summary["image_count_compliance"]), _fmt(summary["rule_reward"]), _fmt(summary["judge_reward"]),
            _fmt(summary["rubric"]), f"{summary['seconds']:.0f}"]  # fmt: skip
    grid = [list(COLUMNS), *body, mean]
    widths = [max(len(row[i]) for row in grid) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
             strict=True))) for row in grid]  # fmt: skip
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    per = ", ".join(
        f"{k} {v['success']}/{v['total'] - v['placeholder']} (+{v['placeholder']} placeholders)"
        for k, v in summary["per_source"].items()
    )
    lines.append(f"execution success by source: {per}")
    lines += honesty_lines(rows, summary["honesty"])
    lines += plan_lines(rows, summary)
    if summary.get("judge_label"):
        lines.append(f"judge: {summary['judge_label']}")
    if summary["judged"] == 0:
        lines.append("judge: none configured or unavailable (set STUDIO_JUDGE_BASE_URL for judge scores)")
    return "\n".join(lines)


_REPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<title>LLM-I Studio benchmark</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style>
</head><body>
<h1>Benchmark: {{ summary.briefs }} briefs, quality {{ summary.quality }}</h1>
<p>Image-count compliance uses the evaluation variant (exact count). Judge scores appear only where a
judge answered ({{ summary.judged }} of {{ summary.briefs }}).
{% if summary.get("judge_label") %}Judge: {{ summary.judge_label }}.{% endif %}</p>
<table><thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}<th>note</th></tr></thead><tbody>
{% for row, r in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}
<td>{{ r.error or r.selection }}</td></tr>{% endfor %}
</tbody></table>
<h2>Writer figures</h2><ul>{% for line in plan_lines %}<li>{{ line }}</li>{% endfor %}</ul>
<h2>Execution success by source</h2><ul>
{% for k, v in summary.per_source.items() %}<li>{{ k }}: {{ v.success }}/{{ v.total }}</li>{% endfor %}</ul>
<h2>Judge remarks</h2><dl>
{% for r in results %}{% if r.score.text %}<dt>{{ r.id }}</dt><dd>{{ r.score.text.get('reason', '') }}</dd>
{% endif %}{% endfor %}</dl>
</body></html>
"""


def write_report(rows: Sequence[BenchRow], summary: dict[str, Any], path: Path) -> Path:
    """The HTML report; every value is autoescaped and the CSP forbids scripts and fetches."""
    from studio.export.html import CSP

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_REPORT).render(
        csp=CSP,
        summary=summary,
        columns=COLUMNS,
        rows=list(zip(table_rows(rows), rows, strict=True)),
        results=[r.to_dict() for r in rows],
        plan_lines=plan_lines(rows, summary),
    )
    Path(path).write_text(html, encoding="utf-8")
    return Path(path)
