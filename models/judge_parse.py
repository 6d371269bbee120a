"""Reading scores out of a judge's answer: hostile, free-form model text.

JSON objects are tried first (inside ```json fences, or anywhere in surrounding prose, after any
<think> block); then "Label: value" lines ("Text score: 4", "- image quality: 4/5"). A score
counts only when it was really read and lies on the scale: a missing or out-of-range value makes
the whole answer unusable (the caller asks again), never a default.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

_THINK_RE = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_NUMBER_RE = re.compile(r"^\s*\**\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?")
_LINE_RE = re.compile(r"^[\s\-*#>|]*([A-Za-z][A-Za-z _\-–/]*?)[\s*]*[:=][\s*]*(.+)$")

# Normalised label -> field. Labels are lower-cased, non-alphanumerics become "_", "_score" dropped.
TEXT_FIELDS = {
    "text": "text",
    "text_quality": "text",
    "tag": "tags",
    "tags": "tags",
    "image_tag": "tags",
    "img_tag": "tags",
    "tag_usage": "tags",
}
IMAGE_FIELDS = {
    "image_quality": "quality",
    "quality": "quality",
    "task_relevance": "task",
    "task": "task",
    "relevance_to_task": "task",
    "text_image_relevance": "text_image",
    "text_image": "text_image",
    "text_image_consistency": "text_image",
    "text_image_alignment": "text_image",
}
REASON_KEYS = ("reason", "justification", "explanation", "rationale", "comment")


def _norm_label(label: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return key[: -len("_score")] if key.endswith("_score") else key


def _score_value(value: Any, low: int, high: int) -> int | None:
    """An integer score from 4, 4.0, "4", "4/5", "**4**"; None where absent or out of range.

    A fraction must be over the scale's maximum (4/5 on 1-5, 2/2 on 0-2): 8/10 is not guessed at.
    Decimals inside the scale round half up and then clamp, only once a number was really read.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number, denominator = float(value), None
    elif isinstance(value, str):
        match = _NUMBER_RE.match(value)
        if not match:
            return None
        number = float(match.group(1))
        denominator = float(match.group(2)) if match.group(2) else None
    else:
        return None
    if denominator is not None and denominator != high:
        return None
    if not math.isfinite(number) or number < low or number > high:
        return None
    return min(high, max(low, math.floor(number + 0.5)))


def _json_objects(text: str) -> Iterable[Any]:
    """Every JSON value that starts at a '{' or '[' in the text: fenced blocks first, then the rest."""
    decoder = json.JSONDecoder()
    sources = [m.group(1) for m in _FENCE_RE.finditer(text)] + [text]
    for source in sources:
        for i, ch in enumerate(source):
            if ch in "{[":
                try:
                    value, _ = decoder.raw_decode(source, i)
                except ValueError:
                    continue
                yield value


def strip_thinking(text: str) -> str:
    return _THINK_RE.sub("", text).strip()


def excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return repr(flat[:limit] + ("…" if len(flat) > limit else ""))


def parse_scores(text: str, fields: dict[str, str], low: int = 1, high: int = 5) -> tuple[dict[str, int], str] | None:
    """The named scores and a reason from a judge's answer, or None unless every field was found.

    ``fields`` maps normalised labels to field names (see ``TEXT_FIELDS``). JSON objects are
    tried first (fenced, or anywhere in prose); then "Label: value" lines.
    """
    wanted = set(fields.values())
    text = strip_thinking(text)
    for obj in _json_objects(text):
        if not isinstance(obj, dict):
            continue
        scores: dict[str, int] = {}
        reason = ""
        for key, value in obj.items():
            if not isinstance(key, str):
                continue
            name = fields.get(_norm_label(key))
            if name and name not in scores:
                score = _score_value(value, low, high)
                if score is not None:
                    scores[name] = score
            elif key.lower() in REASON_KEYS and isinstance(value, str):
                reason = value
        if set(scores) == wanted:
            return scores, reason.strip()[:1000]
    scores, reason = {}, ""
    for line in text.splitlines():
        match = _LINE_RE.match(line)
        if not match:
            continue
        label, value = _norm_label(match.group(1)), match.group(2)
        name = fields.get(label)
        if name and name not in scores:
            score = _score_value(value, low, high)
            if score is not None:
                scores[name] = score
        elif label in REASON_KEYS and not reason:
            reason = value.strip()
    if set(scores) == wanted:
        return scores, (reason or " ".join(text.split()))[:1000]
    return None


_RUBRIC_LINE_RE = re.compile(
    r"^[\s\-*#>|]*(?:criterion\s*)?(\d+)\s*[:.)]\s*(?:score\s*[:=]?\s*)?\**([0-9](?:\.\d+)?(?:\s*/\s*2)?)\**"
    r"\s*(?:[-–—:,.;]\s*)?(.*)$",
    re.IGNORECASE,
)


def parse_rubric(text: str, n: int) -> list[tuple[int, str]] | None:
    """(score 0/1/2, justification) per criterion, in order, or None unless all ``n`` got a valid score."""
    text = strip_thinking(text)
    for obj in _json_objects(text):
        items = obj
        if isinstance(obj, dict):
            items = next((obj[k] for k in ("scores", "criteria", "results", "rubric") if k in obj), None)
        if not isinstance(items, list) or len(items) != n:
            continue
        scores: list[tuple[int, str]] = []
        for item in items:
            if isinstance(item, dict):
                score = _score_value(item.get("score"), 0, 2)
                note = next((item[k] for k in REASON_KEYS if isinstance(item.get(k), str)), "")
            else:
                score, note = _score_value(item, 0, 2), ""
            if score is None:
                break
            scores.append((score, note.strip()[:1000]))
        if len(scores) == n:
            return scores
    by_index: dict[int, tuple[int, str]] = {}
    for line in text.splitlines():
        match = _RUBRIC_LINE_RE.match(line)
        if not match:
            continue
        index = int(match.group(1))
        score = _score_value(match.group(2), 0, 2)
        if 1 <= index <= n and score is not None and index not in by_index:
            by_index[index] = (score, match.group(3).strip()[:1000])
    if n and len(by_index) == n:
        return [by_index[i] for i in range(1, n + 1)]
    return None


def sniff_mime(data: bytes) -> str:
    """The image type from its first bytes (PNG when unknown: every tool of ours writes PNG)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"
