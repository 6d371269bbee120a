"""A chart's data, read from its code: where the numbers came from, made-up sequences, redrawing.

- ``chart_data``: the literal labels and values of chart code (``labels = [...]``, ``values = [...]``,
  or the literal lists given to ``plt.bar`` / ``barh`` / ``plot`` / ``pie``), read with ``ast`` only
  (the code itself is model output and runs only in the sandbox).
- ``made_up``: values that are no data: all equal, or a placeholder sequence (1, 2, 3, ... or
  10, 20, 30, ...). The chart writer repairs such a chart once, then marks it illustrative.
- ``data_origin``: where most of the values are stated: the brief or the article text.
- ``redraw_code``: the same labels and values drawn anew (another orientation, palette, value
  labels), for *Regenerate* on a chart: it changes the drawing, never the data.
- ``table_text`` / ``parse_table``: the data as an editable "label: value" table (the call editor).
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass

from models.errors import Refused
from studio.core.chart_checks import stated_numbers

MAX_POINTS = 200
_SERIES_CALLS = {"bar", "barh", "plot", "pie", "scatter", "stem"}
_LABEL_CALLS = {
    "title": "title",
    "set_title": "title",
    "suptitle": "title",
    "xlabel": "xlabel",
    "set_xlabel": "xlabel",
    "ylabel": "ylabel",
    "set_ylabel": "ylabel",
}
PALETTES = (
    ("steelblue", "#4c72b0"),
    ("seagreen", "#55a868"),
    ("darkorange", "#dd8452"),
    ("slateblue", "#8172b3"),
    ("firebrick", "#c44e52"),
    ("teal", "#1b9e77"),
)


@dataclass(frozen=True)
class ChartData:
    labels: tuple[str, ...]
    values: tuple[float, ...]
    texts: dict[str, str]  # title / xlabel / ylabel, when the code states them literally

    def __bool__(self) -> bool:
        return bool(self.values)


def _literal(node: ast.AST) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _numbers(value: object) -> tuple[float, ...] | None:
    if not isinstance(value, list | tuple) or not 2 <= len(value) <= MAX_POINTS:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    return tuple(float(v) for v in value)


def _strings(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list | tuple) or not 2 <= len(value) <= MAX_POINTS:
        return None
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return None
    if all(isinstance(v, int) for v in value) and not all(1000 <= int(v) <= 2999 for v in value):
        return None  # a list of plain numbers is data, unless it is years
    return tuple(" ".join(str(v).split())[:60] for v in value)


def chart_data(code: str) -> ChartData:
    """The labels and values of ``code``'s first literal series (empty when it has none).

    The series is what a ``bar`` / ``barh`` / ``plot`` / ``pie`` call draws (its x and y, literal or
    a name assigned a literal list); without such a call, the first assigned lists.
    """
    try:
        tree = ast.parse(code or "")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ChartData((), (), {})
    assigned: dict[str, object] = {}
    order: list[object] = []
    calls: list[ast.Call] = []
    texts: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value)
            assigned.setdefault(node.targets[0].id, value)
            order.append(value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _SERIES_CALLS:
                calls.append(node)
            which = _LABEL_CALLS.get(node.func.attr)
            if which and node.args and isinstance(text := _literal(node.args[0]), str):
                texts.setdefault(which, " ".join(text.split())[:120])

    def resolve(arg: ast.AST) -> object:
        return assigned.get(arg.id) if isinstance(arg, ast.Name) else _literal(arg)

    for call in calls:
        args = [resolve(a) for a in call.args[:2]]
        ys = _numbers(args[-1]) if args else None
        if ys is None:
            continue
        names = _strings(args[0]) if len(args) == 2 else None
        positions = _numbers(args[0]) if len(args) == 2 and names is None else None
        if positions is not None:
            names = tuple(f"{x:g}" for x in positions)
        keyword = next((resolve(k.value) for k in call.keywords if k.arg in ("labels", "tick_label")), None)
        return _data(names or _strings(keyword), ys, texts)
    values = next((n for v in order if (n := _numbers(v)) is not None), None)
    label_list = next((t for v in order if (t := _strings(v)) is not None), None)
    return _data(label_list, values, texts) if values else ChartData((), (), texts)


def _data(labels: tuple[str, ...] | None, values: tuple[float, ...], texts: dict[str, str]) -> ChartData:
    if labels is None or len(labels) != len(values):
        labels = tuple(f"item {i + 1}" for i in range(len(values)))
    return ChartData(labels, values, texts)


def made_up(values: tuple[float, ...] | list[float]) -> str | None:
    """Why the values look invented (all equal, a placeholder sequence), or None."""
    if len(values) < 2:
        return None
    if len(set(values)) == 1:
        return f"all {len(values)} values are equal ({values[0]:g})"
    if len(values) >= 3 and all(float(v).is_integer() for v in values):
        step = values[1] - values[0]
        steady = all(b - a == step for a, b in zip(values, values[1:], strict=False))
        counting = (values[0] in (0, 1) and step == 1) or values[0] == step  # 1, 2, 3 ... or 10, 20, 30 ...
        if steady and step > 0 and counting:
            return "the values are a placeholder sequence (" + ", ".join(f"{v:g}" for v in values[:5]) + ")"
    return None


def _stated(text: str) -> set[float]:
    out: set[float] = set()
    for raw in stated_numbers(text):
        number = raw.rstrip("%")
        for candidate in (number.replace(",", ""), number.replace(",", ".")):
            try:
                out.add(float(candidate))
            except ValueError:
                continue
    return out


def data_origin(values: tuple[float, ...], *, brief: str, text: str) -> str | None:
    """ "brief" or "text" when most values are stated there (the brief first), else None."""
    if not values:
        return None
    for where, source in (("brief", brief), ("text", text)):
        found = _stated(source)
        if found and sum(v in found for v in values) * 2 > len(values):
            return where
    return None


def redraw_code(data: ChartData, *, seed: int, title: str, illustrative_note: str = "") -> str:
    """The same labels and values drawn anew: orientation, palette and value labels by ``seed``."""
    rng = random.Random(seed)
    color, _ = PALETTES[rng.randrange(len(PALETTES))]
    horizontal = rng.random() < 0.5
    annotate = rng.random() < 0.5
    lines = [
        f"labels = {list(data.labels)!r}",
        f"values = {[round(v, 6) for v in data.values]!r}",
        "plt.figure(figsize=(7, 4))",
        f"bars = plt.{'barh' if horizontal else 'bar'}(labels, values, color={color!r})",
    ]
    if annotate:
        lines.append("plt.bar_label(bars, fmt='%g', fontsize=8)")
    lines.append(f"plt.title({(data.texts.get('title') or title)[:80]!r})")
    value_label = data.texts.get("ylabel") or "Value"
    name_label = data.texts.get("xlabel") or ""
    lines.append(f"plt.{'xlabel' if horizontal else 'ylabel'}({value_label!r})")
    if name_label:
        lines.append(f"plt.{'ylabel' if horizontal else 'xlabel'}({name_label!r})")
    lines.append("plt.tight_layout()")
    if illustrative_note:
        lines.append(illustrative_note)
    return "\n".join(lines)


def table_text(data: ChartData) -> str:
    """The data as one "label: value" line per point (what the call editor shows)."""
    return "\n".join(f"{label}: {value:g}" for label, value in zip(data.labels, data.values, strict=True))


_ROW = re.compile(r"^\s*(?P<label>.*?)\s*[:=\t]\s*(?P<value>-?\d+(?:\.\d+)?)\s*$")


def parse_table(text: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The "label: value" lines of the call editor's table; Refused naming a bad line."""
    labels: list[str] = []
    values: list[float] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _ROW.match(line)
        if match is None or not match.group("label"):
            raise Refused(f"data line {number} ({line.strip()[:40]!r}) is not 'label: number'")
        labels.append(" ".join(match.group("label").split())[:60])
        values.append(float(match.group("value")))
    if len(values) < 2:
        raise Refused("the data table needs at least two 'label: number' lines")
    if len(values) > MAX_POINTS:
        raise Refused(f"the data table has {len(values)} lines; the limit is {MAX_POINTS}")
    return tuple(labels), tuple(values)
