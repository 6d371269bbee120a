"""What the taste model sees of one version of a block: ``BlockView`` and its cheap features.

A view is built either from an exported preference row (``views_from_row``: the conversational
rows of ``storage.pref_rows``, their tags as the writer wrote them) or from a block of a live
``Article`` (``view_of_block``: quality-mode candidates, regenerated versions). Both give the same
fields, so the model scores a candidate exactly as it saw its training pairs.

Text parts (embedded by the taste model): the block's *call* (description = caption, params:
prompt, query or chart code) and its *context* (the brief and the text around the block, tags
stripped). Hand features (``hand_features``): the kind and source, the status, image size and
colour statistics (Pillow on a 64 px thumbnail), and for charts the chart type and the data
read from the code by regular expressions (the code is never run here: it is model output).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.vocab import BlockStatus
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.protocol import TAG_RE, ToolCall, parse_tag

SOURCES = ("code", "diffusion", "search", "edit")
CHART_CALLS = ("barh", "bar", "pie", "plot", "scatter", "hist", "boxplot", "imshow", "fill_between", "heatmap")
_CHART_RE = {name: re.compile(rf"\.{name}\(|sns\.{name}plot\(|\b{name}\(") for name in CHART_CALLS}
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
CONTEXT_BEFORE, CONTEXT_AFTER = 600, 300  # characters of text either side the model reads

HAND_NAMES: tuple[str, ...] = (
    "is_text",
    *(f"source_{s}" for s in SOURCES),
    "status_ok",
    "has_image",
    "log_width",
    "log_height",
    "aspect",
    "mean_r",
    "mean_g",
    "mean_b",
    "brightness_std",
    "saturation",
    "white_share",
    *(f"chart_{c}" for c in CHART_CALLS),
    "chart_values",
    "chart_log_mean_value",
    "caption_has_number",
    "caption_words",
    "text_words",
)


@dataclass(frozen=True)
class BlockView:
    """One version of one block, in its place."""

    brief: str
    before: str
    after: str
    kind: str  # "image" or "text"
    source: str = ""
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""  # a text block's text
    status: str = "ok"
    image: bytes | None = None

    def call_text(self) -> str:
        """The block's call as the model reads it (description, then the params that matter)."""
        if self.kind == "text":
            return " ".join(self.text.split())[:1500]
        parts = [f"{self.source}: {self.description}"]
        for key in ("prompt", "query", "code"):
            value = self.params.get(key)
            if isinstance(value, str) and value.strip():
                parts.append(value.strip()[:1200])
        return "\n".join(parts)

    def context_text(self) -> str:
        before = " ".join(strip_tags(self.before).split())[-CONTEXT_BEFORE:]
        after = " ".join(strip_tags(self.after).split())[:CONTEXT_AFTER]
        return f"{self.brief.strip()[:400]}\n{before}\n{after}"


def strip_tags(text: str) -> str:
    return TAG_RE.sub(" ", text)


# --------------------------------------------------------------------------- building views


def _tag_call(tag: str) -> tuple[str, str, dict[str, Any]] | None:
    """(source, description, params) of a written tag, or None (invalid or not a tag)."""
    match = TAG_RE.search(tag or "")
    if match is None:
        return None
    parsed = parse_tag(match.group(0))
    if isinstance(parsed, ToolCall):
        return parsed.source, parsed.description, parsed.params_dict()
    return None


def _row_view(row: Mapping[str, Any], side: str, image: bytes | None) -> BlockView:
    written = str(row.get(f"{side}_text") or "")
    brief, before = str(row.get("brief") or ""), str(row.get("text_before") or "")
    after = str(row.get("text_after") or "")
    if row.get("block_kind") == "text":
        return BlockView(brief, before, after, "text", text=written)
    call = _tag_call(written)
    source = str(row.get("source" if side == "chosen" else "rejected_source") or "")
    description, params = (call[1], dict(call[2])) if call else ("", {})
    if call and not source:
        source = call[0]
    filled = row.get(f"{side}_filled_code")
    if isinstance(filled, str) and filled:  # the chart code that ran (the writer left it empty)
        params["code"] = filled
    return BlockView(
        brief,
        before,
        after,
        "image",
        source=source,
        description=description,
        params=params,
        status=str(row.get(f"{side}_status") or "failed"),
        image=image,
    )


def views_from_row(
    row: Mapping[str, Any], chosen_image: bytes | None = None, rejected_image: bytes | None = None
) -> tuple[BlockView, BlockView]:
    """(chosen, rejected) of one exported preference row; images are passed in (the store has them)."""
    return _row_view(row, "chosen", chosen_image), _row_view(row, "rejected", rejected_image)


def view_of_block(article: Article, block: ImageBlock | TextBlock) -> BlockView:
    """A live block in its article (quality-mode candidates, regenerated versions)."""
    before, after = article.text_around(block.id)
    if isinstance(block, TextBlock):
        return BlockView(article.brief, before, after, "text", text=block.text)
    return BlockView(
        article.brief,
        before,
        after,
        "image",
        source=block.source or "",
        description=block.description,
        params=dict(block.params),
        status=block.status,
        image=block.image if block.status == BlockStatus.OK else None,
    )


# --------------------------------------------------------------------------- hand features


def _image_stats(data: bytes | None) -> list[float]:
    """has_image, log width, log height, aspect, mean r/g/b, brightness std, saturation, white share."""
    if not data:
        return [0.0] * 10
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > 80_000_000:  # a decompression bomb is not worth decoding for a feature
                raise ValueError("image too large")
            img.draft("RGB", (128, 128))
            small = img.convert("RGB")
            small.thumbnail((64, 64))
            pixels = np.asarray(small, dtype=np.float32) / 255.0
    except Exception:  # an unreadable image scores as "no image", never a crash
        return [0.0] * 10
    rgb = pixels.reshape(-1, 3)
    brightness = rgb.mean(axis=1)
    saturation = rgb.max(axis=1) - rgb.min(axis=1)
    return [
        1.0,
        math.log(max(width, 1)),
        math.log(max(height, 1)),
        width / max(height, 1),
        *[float(v) for v in rgb.mean(axis=0)],
        float(brightness.std()),
        float(saturation.mean()),
        float((brightness > 0.95).mean()),
    ]


def _chart_stats(code: str) -> list[float]:
    """Chart-call counts (barh before bar, so a barh is not also a bar) and the data in the code."""
    counts = []
    rest = code
    for name in CHART_CALLS:
        found = len(_CHART_RE[name].findall(rest))
        rest = _CHART_RE[name].sub(" ", rest)
        counts.append(float(min(found, 5)))
    values = [abs(float(v)) for v in _NUMBER_RE.findall(code)[:200]]
    mean = sum(values) / len(values) if values else 0.0
    return [*counts, math.log1p(len(values)), math.log1p(mean)]


def hand_features(view: BlockView) -> np.ndarray:
    """The HAND_NAMES vector of one view (float32)."""
    code = str(view.params.get("code") or "") if view.source == "code" else ""
    caption = view.description
    values = [
        1.0 if view.kind == "text" else 0.0,
        *[1.0 if view.source == s else 0.0 for s in SOURCES],
        1.0 if view.status == BlockStatus.OK else 0.0,
        *_image_stats(view.image),
        *_chart_stats(code),
        1.0 if re.search(r"\d", caption) else 0.0,
        math.log1p(len(caption.split())),
        math.log1p(len(view.text.split())),
    ]
    assert len(values) == len(HAND_NAMES), "HAND_NAMES and hand_features disagree"
    return np.asarray(values, dtype=np.float32)
