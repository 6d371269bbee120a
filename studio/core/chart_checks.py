"""Judge-free checks around chart code (used by the chart writer, the harness and quality mode).

- ``photo_request``: a code tag whose description asks for a photo, portrait, scene or
  illustration of a real thing (not a chart or diagram). The chart writer refuses it (the block
  becomes a placeholder for search / diffusion / an upload); the harness counts code blocks that
  drew one anyway as *faked pictures*.
- ``stated_numbers``: the numbers a text states, so the chart writer gets the data the text
  gives, and knows when there is none (then the chart says its numbers are illustrative).
- ``chart_labels`` / ``relevance``: the chart's title and axis labels, read from the code's
  literal strings (the code runs in the sandbox, whose only product is a PNG), must share content
  words with the description.
- ``fallback_code``: a plain bar chart of the data the description states, written by us (never
  by the model), for when the model's code failed twice.

All input is model output and treated as text: nothing here runs it (``ast.parse`` only).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from studio.core.brief_plan import plan_text

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")
_NUMBER = re.compile(r"(?<![A-Za-z0-9.])-?\d+(?:[.,]\d+)?%?")

_CHART_WORDS = {
    "chart", "graph", "plot", "diagram", "histogram", "pie", "bar", "bars", "line", "scatter", "timeline",
    "table", "axis", "trend", "trends", "comparison", "share", "shares", "breakdown", "distribution",
    "flowchart", "flow", "infographic", "heatmap", "percent", "percentage", "statistics", "data", "cycle",
    "steps", "schematic", "map",
}  # fmt: skip
_PHOTO_WORDS = {
    "photo", "photos", "photograph", "photographs", "photography", "picture", "pictures", "portrait",
    "portraits", "illustration", "illustrations", "painting", "drawing", "sketch", "scene", "scenes",
    "landscape", "view", "image", "images", "shot", "snapshot", "selfie", "watercolor", "watercolour",
    "artwork", "render", "close-up", "closeup",
}  # fmt: skip
_STOP = {
    "the", "and", "for", "with", "from", "that", "this", "these", "those", "its", "their", "into", "over",
    "per", "vs", "versus", "are", "was", "were", "has", "have", "had", "not", "but", "all", "any", "each",
    "how", "what", "which", "who", "why", "when", "where", "than", "then", "also", "more", "most", "less",
    "between", "about", "across", "chart", "graph", "plot", "diagram", "bar", "line", "pie", "scatter",
    "showing", "shows", "show", "shown", "of", "in", "on", "to", "by", "a", "an", "as", "at", "or", "is",
    "be", "it", "our", "your", "one", "two", "three", "four", "five", "year", "years", "value", "values",
    "number", "numbers", "count", "total", "illustrative", "title", "label", "labels", "x", "y", "axis",
}  # fmt: skip


def content_words(text: str) -> set[str]:
    """Lower-case content words (3+ letters, no stop words), with a crude plural strip."""
    out = set()
    for raw in _WORD.findall(text or ""):
        word = raw.lower().strip("'-")
        if len(word) < 3 or word in _STOP:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return out


def photo_request(description: str) -> bool:
    """True when the description asks for a photo / portrait / scene / illustration, not a chart."""
    words = {w.lower() for w in _WORD.findall(description or "")}
    return bool(words & _PHOTO_WORDS) and not (words & _CHART_WORDS)


_CHART_NOUNS = {
    "chart",
    "charts",
    "graph",
    "graphs",
    "plot",
    "plots",
    "diagram",
    "diagrams",
    "histogram",
    "infographic",
}


def asked_sources(brief: str) -> list[str]:
    """The sources a brief names a picture for (code, search, diffusion): its plan's kinds
    (studio.core.brief_plan reads briefs, in every language; this is its plain-text shortcut)."""
    return list(plan_text(brief).kinds)


def chart_request(description: str) -> bool:
    """True when the description names a chart or diagram (a bar chart, a graph, a diagram...)."""
    return bool({w.lower() for w in _WORD.findall(description or "")} & _CHART_NOUNS)


def stated_numbers(text: str) -> list[str]:
    """The numbers a text states (years included), in order, without repeats."""
    return list(dict.fromkeys(m.group(0) for m in _NUMBER.finditer(text or "")))


def number_sentences(text: str, limit: int = 6) -> list[str]:
    """The sentences of ``text`` that state a number (the data the chart should use), last first."""
    sentences = re.split(r"(?<=[.!?])\s+|\n+", text or "")
    found = [" ".join(s.split()) for s in sentences if _NUMBER.search(s)]
    return found[-limit:]


_LABEL_CALLS = {"title", "suptitle", "set_title", "xlabel", "ylabel", "set_xlabel", "set_ylabel"}
_LABEL_KEYWORDS = {"title", "xlabel", "ylabel"}


def _literal_text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return ""


def chart_labels(code: str) -> list[str]:
    """The literal title / axis-label strings of chart code (plt.title, ax.set_xlabel, ax.set(title=)...)."""
    try:
        tree = ast.parse(code or "")
    except (SyntaxError, ValueError):
        return []
    out: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr in _LABEL_CALLS and node.args:
            out.append(_literal_text(node.args[0]))
        out += [_literal_text(k.value) for k in node.keywords if k.arg in _LABEL_KEYWORDS]
    return [" ".join(t.split()) for t in out if t.strip()]


@dataclass(frozen=True)
class Relevance:
    ok: bool
    labels: tuple[str, ...]
    shared: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "labels": list(self.labels), "shared": list(self.shared), "reason": self.reason}


def relevance(description: str, code: str) -> Relevance:
    """Do the chart's title and axis labels share a content word with its description?"""
    labels = tuple(chart_labels(code))
    if not labels:
        return Relevance(False, (), (), "the chart has no title or axis label")
    shared = tuple(sorted(content_words(" ".join(labels)) & content_words(description)))
    if not shared:
        shown = "; ".join(labels)[:200]
        return Relevance(False, labels, (), f"the title and labels ({shown}) share no word with the description")
    return Relevance(True, labels, shared, "")


def illustrative_note_code() -> str:
    """The line appended to chart code whose numbers the text does not state."""
    return 'plt.gcf().text(0.99, 0.01, "Illustrative numbers", ha="right", va="bottom", fontsize=8, color="gray")'


_PAIR = re.compile(r"^\s*(?P<label>.*?)\s*[:=]?\s*(?P<value>-?\d+(?:[.,]\d+)?)\s*(?P<unit>%|[A-Za-z]{0,6})\s*$")


def described_data(description: str) -> list[tuple[str, float]]:
    """(label, value) pairs a description states, e.g. 'Bar chart of X: 2019 28, 2020 25' or
    'coal 35%, gas 20%'. Empty when it states fewer than two."""
    body = description.split(":", 1)[1] if ":" in description else description
    pairs: list[tuple[str, float]] = []
    for item in re.split(r"[,;]|\band\b", body):
        m = _PAIR.match(item)
        if m is None:
            continue
        label = " ".join(m.group("label").split())[:30] or f"item {len(pairs) + 1}"
        try:
            value = float(m.group("value").replace(",", "."))
        except ValueError:
            continue
        pairs.append((label, value))
    return pairs if len(pairs) >= 2 else []


def fallback_code(description: str) -> tuple[str, bool]:
    """(our plain bar chart of the described data, whether its numbers are illustrative)."""
    data = described_data(description)
    illustrative = not data
    if illustrative:
        words = [w for w in _WORD.findall(description) if w.lower() not in _STOP][:3] or ["A", "B", "C"]
        data = [(w[:30], float(v)) for w, v in zip(words, (3, 5, 4), strict=False)]
    title = " ".join(description.split())[:80] or "Chart"
    lines = [
        f"labels = {[label for label, _ in data]!r}",
        f"values = {[value for _, value in data]!r}",
        "plt.figure(figsize=(7, 4))",
        'plt.bar([str(x) for x in labels], values, color="steelblue")',
        f"plt.title({title!r})",
        'plt.ylabel("Value")',
        "plt.tight_layout()",
    ]
    if illustrative:
        lines.append(illustrative_note_code())
    return "\n".join(lines), illustrative
