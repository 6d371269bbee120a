"""The call editor of an image card, as plain values: which fields a tool shows, what they are
pre-filled with (switching tools fills the new tool's params from the description), and the
params they make. No gradio: ``studio.app.ui`` maps these onto components.

The form opens on the block's own tool, also when that tool is off (a placeholder keeps its
search until the user picks another tool: no silent switch). Picking another tool re-derives the
caption for the new kind of picture (a chart is never captioned as a photo). A chart's data is
shown as a "label: value" table beside the code; a changed table redraws the chart with exactly
those numbers, recorded as the author's (``data_from: author``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from models.errors import Refused
from studio.app.ui_model import ArticleView, BlockView
from studio.core.chart_checks import chart_request, photo_request
from studio.core.chart_data import ChartData, chart_data, parse_table, redraw_code, table_text
from studio.export.sources import plain

FIELDS = ("query", "prompt", "code", "data", "img_index")
SHOWN = {"search": ("query",), "diffusion": ("prompt",), "code": ("code", "data"), "edit": ("img_index", "prompt")}
_KIND_WORDS = re.compile(
    r"^\s*(?:an?\s+|the\s+)?(?:(?:bar|line|pie|scatter)\s+)?(?:photo(?:graph)?|picture|image|illustration|drawing|"
    r"painting|chart|graph|plot|diagram)\s*(?:of|showing|:)?\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CallForm:
    tool: str
    description: str
    query: str
    prompt: str
    code: str
    img_index: int | None
    data: str = ""  # a chart's data as "label: value" lines

    def shown(self, field: str) -> bool:
        return field in SHOWN.get(self.tool, ())


def form_for(block: BlockView, tool: str | None, on_sources: list[str], view: ArticleView) -> CallForm:
    """The form for ``tool`` (default: the block's own, when it is on) pre-filled from the block."""
    del on_sources  # the block's own tool is kept even when it is off: only the user switches tools
    chosen = tool or block.source or "search"
    same = chosen == block.source
    p = block.params if same else {}
    description = block.description if same else caption_for(block.description, chosen)
    subject = subject_of(block.description)
    choices = edit_choices(view, block)
    index = p.get("img_index") if isinstance(p.get("img_index"), int) else (choices[-1][1] if choices else None)
    code = str(p.get("code") or "")
    return CallForm(
        tool=chosen,
        description=description,
        query=str(p.get("query") or subject),
        prompt=str(p.get("prompt") or subject),
        code=code,
        img_index=index,
        data=table_text(chart_data(code)) if code else "",
    )


def subject_of(description: str) -> str:
    """What a caption shows, without the kind of picture ("Photo of a harbour" -> "a harbour")."""
    text = " ".join(description.split())
    return _KIND_WORDS.sub("", text, count=1).strip() or text


def caption_for(description: str, tool: str) -> str:
    """The caption re-derived for a picture made by ``tool`` (a chart is never captioned as a photo)."""
    subject = subject_of(description)
    if tool == "code":
        if chart_request(description) and not photo_request(description):
            return " ".join(description.split())
        return f"Chart: {subject}"
    if tool == "search":
        return f"Photo of {subject}" if chart_request(description) else " ".join(description.split())
    if tool == "diffusion":
        return f"Illustration of {subject}" if chart_request(description) else " ".join(description.split())
    return " ".join(description.split())


def edit_choices(view: ArticleView, block: BlockView) -> list[tuple[str, int]]:
    """The images an edit at ``block`` may change: user images and the images before it."""
    out = [(f"your image {i + 1}", i) for i in range(len(view.user_images))]
    for b in view.blocks:
        if b.id == block.id:
            break
        if b.kind == "image" and b.image_index is not None:
            out.append((f"image {b.image_index + 1}: {plain(b.description, 50)}", b.image_index))
    return out


def chart_params(
    code: str, data: str, description: str, original: str = "", seed: int = 0, kept: str = ""
) -> tuple[dict[str, Any], str]:
    """(params, where their numbers come from) for a chart call. The table shown was the data of
    ``original`` (the block's code when the editor opened, whose numbers came from ``kept``): a
    table the user changed redraws the chart with the table's numbers ("author"); code the user
    changed runs as typed, its numbers the author's when they differ from the original's, else
    still ``kept``."""
    before = chart_data(original or "")
    if (data or "").strip() and data.strip() != table_text(before).strip():
        labels, values = parse_table(data)
        table = ChartData(labels, values, chart_data(code or "").texts)
        return {"code": redraw_code(table, seed=seed, title=description)}, "author"
    typed = chart_data(code or "")
    if typed and typed.values != before.values:
        return {"code": code or ""}, "author"
    return {"code": code or ""}, kept


def params_for(tool: str, query: str, prompt: str, code: str, img_index: Any) -> dict[str, Any]:
    """The params the form's fields make for ``tool`` (validated later by the tool's model)."""
    if tool == "search":
        return {"query": (query or "").strip()}
    if tool == "diffusion":
        return {"prompt": (prompt or "").strip()}
    if tool == "code":
        return {"code": code or ""}
    if tool == "edit":
        if img_index in (None, ""):
            raise Refused("choose the image to edit")
        return {"img_index": int(img_index), "prompt": (prompt or "").strip()}
    raise Refused(f"unknown tool {tool!r}")
