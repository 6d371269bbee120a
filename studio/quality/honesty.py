"""Judge-free honesty checks of one written article (the harness reports them per brief and run).

- faked pictures: a code block that drew something whose description asks for a photo,
  portrait, scene, illustration or edit, in any of the nine languages
  (studio.core.picture_kinds.not_a_chart); and, apart, Markdown
  images the text pretends (``![...](url)``, outside any tool);
- placeholders: tags whose tool was off (or a photo asked of code), kept for the user to fill;
- picture kinds the brief names (a chart, a photo, an illustration, an edit of the user's image:
  the brief's plan, studio.core.brief_plan) and which of them no tag of the right source was
  written for; tags the routing check sent to another tool (``rerouted``); the brief's language;
- chart execution: code blocks that ran / drew, how many through the plain fallback, how many
  marked illustrative, and the relevance check (title / axis labels share a word with the
  description);
- leaked example phrases (studio.quality.leaks);
- image count against the wanted count (evaluation variant: exact), with the reason when missed;
- cut off: the model stopped at its token limit (``Article.cut_off``, which article.json, the CLI
  and the UI show); an article that ends mid-sentence without that mark counts as *unmarked*;
- stream guards: loops, prompt echoes and tool talk the guards removed (``Article.removed``), and
  any *left*: the finished text run through a fresh guard (with the prompts as sent) again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from models.vocab import BlockStatus, Source
from studio.core.article import REPETITION, Article, Removal, TextBlock
from studio.core.brief_plan import BriefPlan, plan_text
from studio.core.chart_checks import relevance
from studio.core.guards import TextGuard
from studio.core.picture_kinds import not_a_chart
from studio.quality.leaks import article_output_text, check_leaks, prompt_examples
from studio.quality.reward import image_count_score
from studio.quality.tool_choice import tool_choice_accuracy

_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\(")
_SENTENCE_END = (".", "!", "?", ":", ")", '"', "'", "»", "”", "…")


def ends_mid_sentence(article: Article) -> bool:
    """Does the article's last text stop mid-sentence (not a heading, no closing punctuation)?"""
    texts = [b.text for b in article.blocks if isinstance(b, TextBlock) and b.text.strip()]
    if not texts:
        return False
    last = texts[-1].strip().splitlines()[-1].strip()
    return not last.startswith("#") and not last.endswith(_SENTENCE_END)


def count_note(written: int, wanted: int, article: Article, cut_off: bool) -> str:
    """Why the image count differs from the wanted one ("" when it complies)."""
    if image_count_score(written, wanted, evaluation=True) == 1.0:
        return ""
    if wanted == -1:
        return f"no images were wanted but {written} tag(s) were written"
    if article.error:
        return f"the model stream broke after {written} of {wanted} tag(s): {article.error}"
    if cut_off:
        return f"the model reached its token limit after {written} of {wanted} tag(s)"
    return f"the model wrote {written} tag(s) where {wanted} were wanted"


def _asked(plan: BriefPlan, wanted_images: int) -> list[str]:
    """The sources the brief names a picture for, as many as the wanted count leaves room for
    (the paper's counts: -1 none, 0 and 99 any, N exactly N)."""
    if wanted_images == -1:
        return []
    asked = list(plan.kinds)
    return asked[:wanted_images] if 0 < wanted_images < 99 else asked


def left_by_guards(article: Article, prompts: Sequence[str] = ()) -> list[Removal]:
    """What the stream guards would still remove from the finished article (0 when they did their
    job; the whole count when STUDIO_STREAM_GUARDS was off). A loop counts once: the guard stops there."""
    guard = TextGuard(prompts=prompts, brief=article.brief)
    for block in article.blocks:
        if isinstance(block, TextBlock):
            guard.feed(block.text)
        else:
            guard.boundary()
    guard.close()
    return guard.take_removals()


def guard_checks(article: Article, prompts: Sequence[str] = ()) -> dict[str, Any]:
    """Removed by the guards while the article was written, and left in it (see left_by_guards)."""
    left = left_by_guards(article, prompts)

    def count(items: Sequence[Removal], kind: str) -> int:
        return sum(r.kind == kind for r in items)

    return {
        "loops_removed": count(article.removed, REPETITION),
        "echo_removed": count(article.removed, "echo"),
        "tool_talk_removed": count(article.removed, "tool_talk"),
        "loops_left": count(left, REPETITION),
        "echo_left": count(left, "echo"),
        "tool_talk_left": count(left, "tool_talk"),
        "removed": [r.to_dict() for r in article.removed],
        "left": [r.to_dict() for r in left],
    }


def article_checks(
    article: Article, wanted_images: int, prompts: Sequence[str] = (), plan: BriefPlan | None = None
) -> dict[str, Any]:
    """The per-article honesty figures (see the module docstring); plain JSON values. ``prompts``:
    the system and user messages as sent (for the echo check of the guard figures); ``plan``: the
    brief's plan (studio.core.brief_plan; read from ``article.brief`` when not given)."""
    plan = plan or plan_text(article.brief, user_images=len(article.user_images))
    blocks = article.image_blocks()
    code = [b for b in blocks if b.source == Source.CODE]
    ran = [b for b in code if b.status in (BlockStatus.OK, BlockStatus.FAILED)]
    drawn = [b for b in code if b.status == BlockStatus.OK]
    fits = [relevance(b.description, str(b.params.get("code", ""))) for b in drawn]
    cut_off = bool(article.cut_off)  # the model stopped at its token limit (article.json, CLI, UI say so)
    mid_sentence = ends_mid_sentence(article)
    leaks = check_leaks(article_output_text(article), prompt_examples())
    written = len(blocks)
    texts = [b for b in article.blocks if isinstance(b, TextBlock)]
    asked = _asked(plan, wanted_images)
    return {
        "faked": [b.id for b in drawn if not_a_chart(b.description)],
        # a picture pretended in the text, outside any tool (a Markdown image with a made-up URL)
        "markdown_images": [b.id for b in texts for _ in _MD_IMAGE.finditer(b.text)],
        "placeholders": [
            {"id": b.id, "source": b.source, "reason": b.error} for b in blocks if b.status == BlockStatus.PLACEHOLDER
        ],
        "asked_sources": asked,
        # the routing check (studio.core.routing): tags sent to another tool than the model chose
        "rerouted": [
            {"id": b.id, "from": b.provenance["routed_from"], "to": b.provenance.get("routed_to", b.source)}
            for b in blocks
            if b.provenance.get("routed_from")
        ],
        "language": plan.language,
        "asked_missing": [s for s in asked if s not in {b.source for b in blocks}],
        "code_run": len(ran),
        "code_ok": len(drawn),
        "code_fallback": sum(bool(b.provenance.get("fallback")) for b in drawn),
        "code_repaired": sum(bool(b.provenance.get("repaired")) for b in drawn),
        "code_illustrative": sum(bool(b.provenance.get("illustrative")) for b in drawn),
        "code_errors": [b.error for b in ran if b.status == BlockStatus.FAILED],
        "relevant": sum(f.ok for f in fits),
        "irrelevant": [f.reason for f in fits if not f.ok],
        "leaks": leaks.to_dict(),
        "images_written": written,
        "count_ok": image_count_score(written, wanted_images, evaluation=True) == 1.0,
        "count_note": count_note(written, wanted_images, article, cut_off),
        "cut_off": cut_off,
        "continuations": article.continuations,
        "ends_mid_sentence": mid_sentence,
        # looks cut off to a reader, yet the article does not say so
        "cut_off_unmarked": mid_sentence and not cut_off,
        "guards": guard_checks(article, prompts),
    }


def summarize_checks(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over the briefs of one run."""
    code_run = sum(c["code_run"] for c in checks)
    code_ok = sum(c["code_ok"] for c in checks)
    return {
        "faked_pictures": sum(len(c["faked"]) for c in checks),
        "markdown_images": sum(len(c.get("markdown_images", [])) for c in checks),
        "placeholders": sum(len(c["placeholders"]) for c in checks),
        "asked_kinds": sum(len(c.get("asked_sources", [])) for c in checks),
        "asked_missing": sum(len(c.get("asked_missing", [])) for c in checks),
        "rerouted": sum(len(c.get("rerouted", [])) for c in checks),
        "tool_choice_accuracy": tool_choice_accuracy(checks),
        "chart_runs": code_run,
        "chart_ok": code_ok,
        "chart_success": code_ok / code_run if code_run else None,
        "chart_fallback": sum(c["code_fallback"] for c in checks),
        "chart_repaired": sum(c["code_repaired"] for c in checks),
        "chart_illustrative": sum(c["code_illustrative"] for c in checks),
        "chart_relevant": sum(c["relevant"] for c in checks),
        "leaked_phrases": sum(len(c["leaks"]["leaked"]) for c in checks),
        "count_compliant": sum(c["count_ok"] for c in checks),
        "cut_off": sum(c["cut_off"] for c in checks),
        "ends_mid_sentence": sum(c["ends_mid_sentence"] for c in checks),
        "cut_off_unmarked": sum(c["cut_off_unmarked"] for c in checks),
        **{key: sum(c.get("guards", {}).get(key, 0) for c in checks) for key in GUARD_COUNTS},
    }


GUARD_COUNTS = ("loops_removed", "echo_removed", "tool_talk_removed", "loops_left", "echo_left", "tool_talk_left")


def _routing_line(h: dict[str, Any]) -> str:
    accuracy = h.get("tool_choice_accuracy")
    shown = "-" if accuracy is None else f"{accuracy:.3f}"
    return f"tool choice (final source vs the brief's tools and the description's kind): {shown}; " + (
        f"re-routed by the routing check: {h.get('rerouted', 0)}"
    )


def honesty_lines(rows: Sequence[Any], h: dict[str, Any]) -> list[str]:
    """The honesty figures of a run, then the count compliance and notes per brief."""
    if not h:
        return []
    rate = "-" if h["chart_success"] is None else f"{h['chart_success']:.3f}"
    lines = [
        f"charts: {h['chart_ok']}/{h['chart_runs']} drew ({rate}); {h['chart_fallback']} by the plain fallback, "
        f"{h['chart_repaired']} after a repair, {h['chart_illustrative']} illustrative, "
        f"{h['chart_relevant']} relevant (title/labels share a word with the description)",
        f"faked pictures: {h['faked_pictures']} by code, {h['markdown_images']} as Markdown images in the text; "
        f"placeholders: {h['placeholders']}; "
        f"leaked example phrases: {h['leaked_phrases']}",
        f"picture kinds the briefs name (chart, photo, illustration), written with their source: "
        f"{h['asked_kinds'] - h['asked_missing']}/{h['asked_kinds']}",
        f"count compliance: {h['count_compliant']}/{len(rows)} briefs; cut off (marked): {h['cut_off']}; "
        f"ending mid-sentence: {h['ends_mid_sentence']}, of them unmarked: {h['cut_off_unmarked']}",
        f"stream guards removed: {h.get('loops_removed', 0)} loops, {h.get('echo_removed', 0)} prompt echoes, "
        f"{h.get('tool_talk_removed', 0)} tool-talk sentences; left in the articles: {h.get('loops_left', 0)} loops, "
        f"{h.get('echo_left', 0)} echoes, {h.get('tool_talk_left', 0)} tool talk",
        _routing_line(h),
    ]
    for r in rows:
        c = r.checks
        notes = [c["count_note"]] if c.get("count_note") else []
        notes += [f"faked {', '.join(c['faked'])}"] if c.get("faked") else []
        notes += [f"no {', '.join(c['asked_missing'])} tag for what the brief names"] if c.get("asked_missing") else []
        notes += [f"leaked: {'; '.join(c['leaks']['leaked'])}"] if c.get("leaks", {}).get("leaked") else []
        guards = c.get("guards", {})
        notes += [f"removed ({r['kind']}): {r['text'][:80]}" for r in guards.get("removed", [])]
        notes += [f"LEFT ({r['kind']}): {r['text'][:80]}" for r in guards.get("left", [])]
        if notes:
            lines.append(f"  {r.id}: " + " | ".join(notes))
    return lines
