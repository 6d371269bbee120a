"""Tool-choice accuracy (the harness): each tag's final source against the brief's ``tools`` and
its description's kind (studio.core.picture_kinds).

A tag counts as right when its source is one of the tools the brief lists (any, when it lists
none) and its description is either ambiguous or asks for that source. An edit is judged as the
routing check judges it: its description says what the edited picture shows ("the living room in
Scandinavian style" reads as a photo), so only a chart asked of an edit makes it wrong. An invalid
tag (no source) counts as wrong. The source is the final one, after the routing check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.vocab import Source
from studio.core.article import Article
from studio.core.picture_kinds import classify


def tool_choice(article: Article, tools: Sequence[str] = ()) -> dict[str, Any]:
    """{"right", "total", "wrong": [{"id", "source", "why"}]} for one article; plain JSON."""
    wrong = []
    blocks = article.image_blocks()
    for block in blocks:
        verdict = classify(block.description)
        if not block.source:
            why = "an invalid tag: no tool ran"
        elif tools and block.source not in tools:
            why = f"the brief's tools are {', '.join(tools)}"
        elif verdict is not None and verdict.kind != block.source and _contradicts(block.source, verdict.kind):
            why = verdict.reason
        else:
            continue
        wrong.append({"id": block.id, "source": block.source, "why": why})
    return {"right": len(blocks) - len(wrong), "total": len(blocks), "wrong": wrong}


def _contradicts(source: str, kind: str) -> bool:
    """Does a description of ``kind`` contradict the ``source`` (the routing check's rule)?"""
    return source != Source.EDIT or kind == Source.CODE


def tool_choice_accuracy(checks: Sequence[dict[str, Any]]) -> float | None:
    """Right tags over all tags of a run (None when no tag was written)."""
    total = sum(c.get("tool_choice", {}).get("total", 0) for c in checks)
    right = sum(c.get("tool_choice", {}).get("right", 0) for c in checks)
    return right / total if total else None
