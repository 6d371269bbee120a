"""Regenerating one block: modes, edit-index rules, the next search hit, text rewrites."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pydantic import BaseModel

from models.openai_compat import OpenAICompatBackend
from models.vocab import BlockStatus
from studio.app.regenerate import (
    check_edit_index,
    dependent_edits,
    neighbours,
    parent_image,
    regenerate_image,
    rewrite_text,
)
from studio.app.services import Services
from studio.app.settings import load_settings
from studio.core.article import Article, ImageBlock, TextBlock
from tests.llama_server import llama_server  # noqa: F401  (fixture)
from tools.base import Availability, Tool, ToolContext, ToolResult
from tools.params import SearchParams


def png(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


HITS = ["red", "green", "blue"]


class LocalSearch(Tool):
    """Image search over a fixed hit list (the live web cannot be reached from tests)."""

    name = "search"
    Params = SearchParams

    def __init__(self) -> None:
        self.contexts: list[ToolContext] = []

    def run(self, params: BaseModel, context: ToolContext) -> ToolResult:
        self.contexts.append(context)
        if context.result_offset >= len(HITS):
            return ToolResult.failure("no more image results")
        color = HITS[context.result_offset]
        return ToolResult.success(png(color), {"title": color, "hit_index": context.result_offset})


def services(tools: dict[str, Tool], backend: object | None = None) -> Services:
    availability = {s: Availability.on() if s in tools else Availability.off("off in this test") for s in
                    ("search", "diffusion", "code", "edit")}  # fmt: skip
    settings = load_settings(data_dir=Path("/tmp/unused-llmi"), max_tokens=120)
    backend = backend or OpenAICompatBackend("http://127.0.0.1:9/v1", model="none")
    return Services(settings, backend, tools, availability, two_phase_code=False)  # type: ignore[arg-type]


def article() -> Article:
    a = Article(brief="colours", user_images=[png("white")])
    a.blocks = [
        TextBlock("b1", "Intro.\n\n"),
        ImageBlock("b2", 1, "search", "A colour", {"query": "colour"}, "", status="ok", image=png("red"),
                   provenance={"hit_index": 0}),
        TextBlock("b3", "Middle.\n\n"),
        ImageBlock("b4", 2, "edit", "Bluer", {"img_index": 1, "prompt": "bluer"}, "", status="ok", image=png("blue")),
        ImageBlock("b5", 3, "edit", "From the user image", {"img_index": 0, "prompt": "x"}, "", status="failed"),
    ]  # fmt: skip
    return a


def test_search_again_takes_the_next_hit_each_time() -> None:
    tool = LocalSearch()
    a = article()
    new = regenerate_image(a, "b2", services({"search": tool}), mode="again")
    assert (
        new.status == BlockStatus.OK
        and new.result.provenance["hit_index"] == 1
        and "next search hit" in new.instruction
    )
    a.blocks[1].provenance = new.result.provenance  # the session makes it current
    new = regenerate_image(a, "b2", services({"search": tool}), mode="again")
    assert tool.contexts[-1].result_offset == 2 and new.result.provenance["title"] == "blue"


def test_another_tool_and_edited_params_are_validated() -> None:
    a = article()
    s = services({"search": LocalSearch()})
    off = regenerate_image(a, "b2", s, mode="tool", source="diffusion", params={"prompt": "a red square"})
    assert off.status == BlockStatus.PLACEHOLDER and "diffusion tool is off: off in this test" in (
        off.result.error or ""
    )
    bad = regenerate_image(a, "b2", s, mode="params", params={"query": "x", "extra": 1})
    assert bad.status == BlockStatus.FAILED and "extra" in (bad.result.error or "")
    wrong = regenerate_image(a, "b2", s, mode="tool", source="nope", params={})
    assert "unknown tool" in (wrong.result.error or "")


def test_edit_indices_point_only_backwards_and_at_real_images() -> None:
    a = article()
    b4 = a.block("b4")
    assert isinstance(b4, ImageBlock)
    assert check_edit_index(a, b4, 1) is None and check_edit_index(a, b4, 0) is None
    assert "0..1" in (check_edit_index(a, b4, 2) or "")
    assert parent_image(a, 0)[0] == a.user_images[0]
    assert parent_image(a, 3)[0] is None and "has no image" in (parent_image(a, 3)[1] or "")
    assert parent_image(a, 9)[1] == "there is no image at index 9"
    res = regenerate_image(a, "b4", services({"edit": LocalSearch()}), mode="params",
                           params={"img_index": 3, "prompt": "x"})  # fmt: skip
    assert res.status == BlockStatus.FAILED and "img_index must be 0..1" in (res.result.error or "")
    assert [b.id for b in dependent_edits(a, "b2")] == ["b4"] and dependent_edits(a, "b4") == []


def test_neighbours_are_the_text_around_a_block() -> None:
    before, after = neighbours(article(), "b2")
    assert before == "Intro.\n\n" and after == "Middle.\n\n"


def test_rewrite_with_a_real_small_model_keeps_text_only(llama_server: str) -> None:  # noqa: F811
    a = article()
    backend = OpenAICompatBackend(llama_server)
    try:
        text = rewrite_text(a, "b3", services({}, backend), "make it longer", seed=1)
    finally:
        backend.close()
    assert text.endswith("\n\n") and "<imgen>" not in text and text.strip()
    with pytest.raises(ValueError):
        rewrite_text(a, "b2", services({}, backend))
