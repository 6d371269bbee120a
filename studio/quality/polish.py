"""Quality-mode polish: repair failed, invalid or placeholder image calls and charts that fail the
relevance check (studio.core.chart_checks), rewrite weak text next to images.

Every repair runs through the one tool runner (``engine.runner``); chart code comes from the
studio's one ChartCoder (``services.chart_coder()``). Changes are made in place on a copy of the
chosen candidate; ``scaling.write_best_article`` keeps them only when the score is not worse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from models.base import ChatOptions, complete
from models.errors import StudioError
from models.vocab import BlockStatus
from studio.core.agent import Brief, WriterServices
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.chart_checks import relevance
from studio.core.charts import ChartCoder
from studio.core.engine import Engine
from studio.core.runner import ToolRunner, text_before
from tools.base import ToolContext, ToolResult


class QualityServices(WriterServices, Protocol):
    """What quality mode needs of the wired studio beyond the writer's: the one chart coder."""

    def chart_coder(self) -> ChartCoder: ...


WEAK_CHARS = 120  # a paragraph before an image shorter than this says too little about it
_TAG = re.compile(r"<imgen>.*?(</imgen>|$)|<\s*/?\s*imgen[^>]*>", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"[A-Za-z]{3,}")
_STOP = {"the", "and", "for", "with", "from", "that", "this", "are", "was", "its", "into", "over", "per"}


def repair_plans(block: ImageBlock, available: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(source, params) to try for an invalid or failed block, best first, only available tools."""
    desc = " ".join(block.description.split())
    topic = desc or str(block.params.get("query") or block.params.get("prompt") or "")
    plans: list[tuple[str, dict[str, Any]]] = []
    if block.source == "code":
        plans.append(("code", {"code": ""}))  # rewritten by the chart writer, with the failure as context
    if block.source in ("search", "diffusion") and block.status == BlockStatus.INVALID and topic:
        plans.append((block.source, {"query": topic} if block.source == "search" else {"prompt": topic}))
    if block.source in ("search", None, "edit") and topic:
        plans.append(("diffusion", {"prompt": topic}))  # another tool: a picture of the same subject
    if block.source in ("diffusion", None) and topic:
        plans.append(("search", {"query": topic}))
    seen: set[str] = set()
    return [(s, p) for s, p in plans if s in available and not (s in seen or seen.add(s))]  # type: ignore[func-returns-value]


def _run_plan(
    source: str, params: dict[str, Any], block: ImageBlock, runner: ToolRunner, coder: ChartCoder, context: ToolContext
) -> tuple[dict[str, Any], ToolResult]:
    """Run one repair plan on the runner; returns the params actually used (chart code filled in)
    and the result."""
    if source == "code":  # a broken chart: one repair turn with its error, or fresh code
        try:
            old = str(block.params.get("code") or "")
            why = block.error or relevance(block.description, old).reason
            code = (
                coder.repair(old, why, block.description, context.text_before)
                if old.strip()
                else coder.write(block.description, context.text_before)
            )
        except StudioError as exc:
            return params, ToolResult.failure(f"the chart writer failed: {exc}")
        params = {"code": code}
    result = runner.run(source, params, context)
    return (dict(result.params) if result.params is not None else params), result


def _apply(block: ImageBlock, source: str, params: dict[str, Any], result: ToolResult) -> None:
    block.provenance = {
        **result.provenance,
        "repaired": {"from_source": block.source, "from_status": block.status, "reason": block.error},
    }
    block.source, block.params, block.status, block.error = source, params, BlockStatus.OK, None
    block.image, block.mime, block.seconds = result.image, result.mime, result.seconds


def polish_article(article: Article, brief: Brief, services: QualityServices, engine: Engine) -> dict[str, Any]:
    """Repair broken calls and rewrite weak text around images, in place. Returns what changed."""
    runner = engine.runner
    coder = services.chart_coder()
    repaired: list[dict[str, Any]] = []
    for block in article.image_blocks():
        if block.status == BlockStatus.OK and not irrelevant_chart(block.source, block.description, block.params):
            continue
        context = ToolContext(
            style=brief.style, description=block.description, text_before=text_before(article, block.id)
        )
        for source, params in repair_plans(block, runner.sources()):
            used, result = _run_plan(source, params, block, runner, coder, context)
            # a broken block takes any picture; a drawn but irrelevant chart only a relevant one
            off_topic = block.status == BlockStatus.OK and irrelevant_chart(source, block.description, used)
            if result.ok and result.image and not off_topic:
                repaired.append({"block": block.id, "from": block.source, "to": source})
                _apply(block, source, used, result)
                break
    rewritten = _rewrite_weak_text(article, services)
    return {"repaired": repaired, "rewritten": rewritten}


def irrelevant_chart(source: str | None, description: str, params: dict[str, Any]) -> bool:
    """A chart whose title and axis labels share no word with its description (the relevance
    check, studio.core.chart_checks): quality mode repairs it like a failure."""
    return source == "code" and not relevance(description, str(params.get("code") or "")).ok


def is_weak(paragraph: str, description: str) -> bool:
    """Too short, or shares no content word with the picture's title."""
    text = paragraph.strip()
    if len(text) < WEAK_CHARS:
        return True
    words = {w.lower() for w in _WORD.findall(description)} - _STOP
    return bool(words) and not words & {w.lower() for w in _WORD.findall(text)}


def _rewrite_weak_text(article: Article, services: QualityServices, limit: int = 3) -> list[str]:
    rewritten: list[str] = []
    for i, block in enumerate(article.blocks):
        if len(rewritten) >= limit:
            break
        if not isinstance(block, ImageBlock) or block.status != BlockStatus.OK or i == 0:
            continue
        before = article.blocks[i - 1]
        if not isinstance(before, TextBlock):
            continue
        head, sep, last = before.text.rstrip().rpartition("\n\n")
        if last.lstrip().startswith("#") or not is_weak(last, block.description):
            continue
        new = rewrite_paragraph(services, article.brief, last, block.description)
        if new:
            before.text = f"{head}{sep}{new}\n\n"
            rewritten.append(before.id)
    return rewritten


def rewrite_paragraph(services: QualityServices, brief: str, paragraph: str, figure: str) -> str:
    """One chat call; the reply is model output, so tags are stripped and the length capped."""
    messages = [
        {
            "role": "system",
            "content": "You edit articles. Rewrite the paragraph so it leads into the figure that follows it. "
            "Keep its facts, add no new claims, write 2-4 sentences of plain prose. Reply with the paragraph only.",
        },
        {"role": "user", "content": f"Article brief: {brief[:500]}\nFigure: {figure[:200]}\nParagraph:\n{paragraph}"},
    ]
    try:
        text = complete(services.backend, messages, ChatOptions(max_tokens=220, temperature=0.3))  # type: ignore[arg-type]
    except StudioError:
        return ""
    text = _TAG.sub("", text).strip()
    return text[:1200] if len(text) >= 20 else ""
