"""Harness checks of what the brief's plan asks of the text (studio.core.brief_plan): the number of
sections (steps, items) and the article's language.

- sections: the article's ``## `` headings (the outline writer, studio.core.outline, writes one per
  section); an article without any counts its ``### `` headings, then its numbered list items
  ("1. ...", "2) ..."), so a brief of "five steps" written as a list counts too. Compliance is
  None where the brief asks for no count.
- language: the article's prose (title, headings and paragraphs, not the tags) through the same
  detector the plan uses on the brief (studio.core.languages.detect_language).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from studio.core.article import Article, TextBlock
from studio.core.brief_plan import BriefPlan
from studio.core.languages import detect_language

_H2 = re.compile(r"^##\s+\S", re.MULTILINE)
_H3 = re.compile(r"^###\s+\S", re.MULTILINE)
_NUMBERED = re.compile(r"^\s{0,3}\d{1,2}[.)]\s+\S", re.MULTILINE)


def article_prose(article: Article) -> str:
    return "\n".join(b.text for b in article.blocks if isinstance(b, TextBlock))


def count_sections(text: str) -> int:
    """``## `` headings; else ``### `` headings; else numbered list items."""
    for pattern in (_H2, _H3, _NUMBERED):
        found = len(pattern.findall(text))
        if found:
            return found
    return 0


def plan_checks(article: Article, plan: BriefPlan) -> dict[str, Any]:
    """{"sections_asked", "sections_written", "sections_ok", "language", "article_language",
    "language_ok"}; plain JSON. ``sections_ok`` is None when the brief asks for no count."""
    prose = article_prose(article)
    written = count_sections(prose)
    language = detect_language(prose) if prose.strip() else ""
    return {
        "sections_asked": plan.sections,
        "section_word": plan.section_word,
        "sections_written": written,
        "sections_ok": None if plan.sections is None else written == plan.sections,
        "language": plan.language,
        "article_language": language,
        "language_ok": language == plan.language,
    }


def summarize_plan_checks(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of one run: section compliance over the briefs that ask for a count, language match
    over all (None where no brief applies)."""
    asked = [c["plan"]["sections_ok"] for c in checks if c.get("plan", {}).get("sections_ok") is not None]
    languages = [c["plan"]["language_ok"] for c in checks if "plan" in c]
    return {
        "section_briefs": len(asked),
        "section_compliant": sum(asked),
        "section_compliance": sum(asked) / len(asked) if asked else None,
        "language_briefs": len(languages),
        "language_matched": sum(languages),
        "language_match": sum(languages) / len(languages) if languages else None,
    }


def _share(part: int, whole: int, rate: float | None) -> str:
    return f"{part}/{whole}" + ("" if rate is None else f" ({rate:.3f})")


def plan_lines(rows: Sequence[Any], summary: dict[str, Any]) -> list[str]:
    """The run's section compliance, language match and writer tokens/s, then the briefs that
    missed a count or a language."""
    plan, speed = summary.get("plan") or {}, summary.get("throughput") or {}
    if not plan:
        return []
    rate = speed.get("tokens_per_s")
    lines = [
        "section count (## headings, else numbered items) as asked: "
        + _share(plan["section_compliant"], plan["section_briefs"], plan["section_compliance"])
        + " briefs; article language = brief language: "
        + _share(plan["language_matched"], plan["language_briefs"], plan["language_match"]),
        f"writer: {speed.get('tokens', 0)} tokens in {speed.get('seconds', 0):.1f} s over "
        f"{speed.get('requests', 0)} requests, " + ("-" if rate is None else f"{rate:.1f}") + " tokens/s",
    ]
    for r in rows:
        c = r.checks.get("plan") or {}
        notes = []
        if c.get("sections_ok") is False:
            notes.append(
                f"{c['sections_written']} sections where {c['sections_asked']} {c['section_word']}s were asked"
            )
        if c and not c.get("language_ok"):
            notes.append(f"written in {c['article_language'] or 'nothing'}, asked in {c['language']}")
        if notes:
            lines.append(f"  {r.id}: " + " | ".join(notes))
    return lines
