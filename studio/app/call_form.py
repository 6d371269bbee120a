"""The call editor of an image card, as plain values: which fields a tool shows, what they are
pre-filled with (switching tools fills the new tool's params from the description), and the
params they make. No gradio: ``studio.app.ui`` maps these onto components."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.errors import Refused
from studio.app.ui_model import ArticleView, BlockView
from studio.export.sources import plain

FIELDS = ("query", "prompt", "code", "img_index")
SHOWN = {"search": ("query",), "diffusion": ("prompt",), "code": ("code",), "edit": ("img_index", "prompt")}


@dataclass(frozen=True)
class CallForm:
    tool: str
    description: str
    query: str
    prompt: str
    code: str
    img_index: int | None

    def shown(self, field: str) -> bool:
        return field in SHOWN.get(self.tool, ())


def form_for(block: BlockView, tool: str | None, on_sources: list[str], view: ArticleView) -> CallForm:
    """The form for ``tool`` (default: the block's own, when it is on) pre-filled from the block."""
    chosen = tool or (block.source if block.source in on_sources else (on_sources[0] if on_sources else "code"))
    same = chosen == block.source
    p = block.params if same else {}
    description = block.description
    choices = edit_choices(view, block)
    index = p.get("img_index") if isinstance(p.get("img_index"), int) else (choices[-1][1] if choices else None)
    return CallForm(
        tool=chosen,
        description=description,
        query=str(p.get("query") or description),
        prompt=str(p.get("prompt") or description),
        code=str(p.get("code") or ""),
        img_index=index,
    )


def edit_choices(view: ArticleView, block: BlockView) -> list[tuple[str, int]]:
    """The images an edit at ``block`` may change: user images and the images before it."""
    out = [(f"your image {i + 1}", i) for i in range(len(view.user_images))]
    for b in view.blocks:
        if b.id == block.id:
            break
        if b.kind == "image" and b.image_index is not None:
            out.append((f"image {b.image_index + 1}: {plain(b.description, 50)}", b.image_index))
    return out


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
