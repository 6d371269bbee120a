"""Re-run exactly one block: a new image for one tag, or a rewrite of one text span.

Image blocks (``regenerate_image``), by mode (a placeholder block, whose tool was off, is filled
by ``again`` once the tool is on: the kept call runs as written):

- ``again``: the same call made again. Diffusion / edit get a fresh seed; search takes the next
  hit (``result_offset`` one past the hit shown); a chart keeps its data and only its drawing
  changes (the same labels and values drawn anew by ``chart_data.redraw_code``, with the chart's
  record of where its numbers came from); a chart without literal data gets new code from the
  chart coder when the backend writes the code (small models), else runs again. New numbers
  need *Edit call…* (its data table).
- ``params``: the same tool with edited params (validated by the tool's strict Params model).
- ``tool``: another tool (source) with its params, e.g. a search instead of a diffusion; without a
  new description the caption is re-derived for the new kind (a chart is never captioned as a photo).

Edit consistency: an edit's ``img_index`` points into the list of user images and image
blocks, so it may only point at an image that comes before it; ``check_edit_index`` enforces
that for edited params, the parent image is resolved from the article's *current* versions,
and ``dependent_edits`` names the edits that used a block's image so the caller can re-run them
after that image changed (``regenerate_image(..., mode='again')`` on each).

Text blocks (``rewrite_text``): the chat backend rewrites one block with an optional
instruction, seeing the brief and the neighbouring text. Tags in the answer are removed (a text
block must stay text; a new tag would shift every later img_index).

Nothing here touches the store: the session records the returned values.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from models.base import ChatOptions, complete
from models.block_names import capitalised, name_for
from models.errors import Refused
from models.provenance import is_illustrative
from models.vocab import WRITTEN_PARAMS, BlockStatus, Source
from studio.app.call_form import caption_for
from studio.app.services import Services
from studio.core.article import CONTEXT_CHARS, Article, ImageBlock, TextBlock
from studio.core.chart_checks import photo_request
from studio.core.chart_data import chart_data, redraw_code
from studio.core.protocol import TAG_RE
from studio.core.runner import text_before, validate_params
from tools.base import Outcome, ToolContext, ToolResult, outcome_of
from tools.params import IMAGE_INDEX, edit_targets, edits_images

Mode = Literal["again", "params", "tool"]
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Regenerated:
    """A new version of an image block: the call that was run and its result."""

    block_id: str
    source: str
    description: str
    params: dict[str, Any]
    result: ToolResult
    instruction: str  # how it was asked for, for the version's record ("new seed", "next hit", ...)
    written_params: dict[str, Any] | None = None  # the call as asked for (``params``: as it ran)

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.result, self.source)

    @property
    def status(self) -> BlockStatus:
        return self.outcome.status


def neighbours(article: Article, block_id: str, chars: int = CONTEXT_CHARS) -> tuple[str, str]:
    """The text before and after a block (current versions), cut to ``chars`` each."""
    return article.text_around(block_id, chars)


def check_edit_index(article: Article, block: ImageBlock, img_index: int) -> str | None:
    """Why an edit at ``block`` may not point at ``img_index`` (None when it may)."""
    if img_index not in edit_targets(block.image_index):
        return (
            f"an edit may only change an image that comes before it: img_index must be 0..{block.image_index - 1}, "
            f"got {img_index}"
        )
    return None


def parent_image(article: Article, img_index: int) -> tuple[bytes | None, str | None]:
    """The image an edit changes, or (None, why it is missing): ``Article.parent_image``."""
    return article.parent_image(img_index)


def dependent_edits(article: Article, block_id: str) -> list[ImageBlock]:
    """Edit blocks whose img_index points at this block's image (directly)."""
    target = article.block(block_id)
    if not isinstance(target, ImageBlock):
        return []
    return [
        b
        for b in article.image_blocks()
        if b.source is not None
        and edits_images(b.source)
        and b.status != BlockStatus.INVALID
        and b.params.get(IMAGE_INDEX) == target.image_index
    ]


def _next_offset(block: ImageBlock) -> int:
    shown = block.provenance.get("hit_index", block.provenance.get("result_offset"))
    return int(shown) + 1 if isinstance(shown, int) else 1


def regenerate_image(
    article: Article,
    block_id: str,
    services: Services,
    *,
    mode: Mode = "again",
    params: Mapping[str, Any] | None = None,
    source: str | None = None,
    description: str | None = None,
    seed: int | None = None,
    style: str = "",
    code_from: str = "",
) -> Regenerated:
    """Run one image block's call again (see the module docstring). Never raises for tool failures.
    ``code_from``: where the numbers of given chart code came from ("author": the call editor's table)."""
    block = article.block(block_id)
    if not isinstance(block, ImageBlock):
        raise Refused(f"{capitalised(name_for(block))} is a text block: rewrite it instead")
    new_source = (source if mode == "tool" and source else block.source) or ""
    new_params = dict(params) if mode in ("params", "tool") and params is not None else dict(block.params)
    new_description = description if description is not None else block.description
    if new_source != block.source and (
        description is None or (new_source == Source.CODE and photo_request(description))
    ):
        new_description = caption_for(new_description, new_source)
    if mode == "again" and block.source is None:
        raise Refused(f"{capitalised(name_for(block))} is an invalid tag: give params or another tool")
    seed = seed if seed is not None else random.randint(0, MAX_SEED)
    context = ToolContext(seed=seed, style=style, brief=article.brief, code_from=code_from)
    instruction = {"params": "edited params", "tool": f"another tool: {new_source}"}.get(mode, "new seed")
    if (
        mode == "again" and new_source == Source.SEARCH and block.status != BlockStatus.PLACEHOLDER
    ):  # a placeholder shows no hit
        context = dataclasses.replace(context, result_offset=_next_offset(block))
        instruction = f"next search hit ({context.result_offset})"

    written: dict[str, Any] | None = None  # the call as the writer wrote it, where not new_params

    def done(result: ToolResult) -> Regenerated:
        ran = dict(result.params) if result.params is not None else new_params
        return Regenerated(block_id, new_source, new_description, ran, result, instruction, written or new_params)

    data = chart_data(str(block.params.get("code") or "")) if mode == "again" and new_source == Source.CODE else None
    if data:
        # the chart's data is kept: only the drawing changes, and the chart keeps its record of
        # where the numbers came from (an illustrative chart stays marked)
        new_params = {"code": redraw_code(data, seed=seed, title=new_description)}
        # the writer's tag still stands (same data): a two-phase chart keeps its code-less call
        as_written = block.provenance.get(WRITTEN_PARAMS) if block.provenance else None
        written = dict(as_written) if isinstance(as_written, dict) else None
        kept = "illustrative" if is_illustrative(block.provenance) else str(block.provenance.get("data_from") or "")
        context = dataclasses.replace(context, code_from=kept)
        instruction = "new drawing, same data"
    elif mode == "again" and new_source == Source.CODE and services.two_phase_code:
        # no literal data to keep: "again" means new code, which the chart writer samples at
        # the new seed when the code is left empty
        new_params = {"code": ""}
        instruction = "new chart code"
    validated, problem = validate_params(new_source, new_params)
    if validated is None:
        return done(ToolResult.failure(problem or "the params are not valid"))
    img_index = getattr(validated, "img_index", None)
    if isinstance(img_index, int):
        problem = check_edit_index(article, block, img_index)
        if problem:
            return done(ToolResult.failure(problem))
    context = dataclasses.replace(context, description=new_description, text_before=text_before(article, block.id))
    result = services.runner().run(
        new_source, validated, context, resolve_parent=lambda index: parent_image(article, index)
    )
    return done(result)


REWRITE_SYSTEM = (
    "You rewrite one passage of an illustrated article. Keep its language, its Markdown and its "
    "role in the article; follow the user's instruction if there is one. Answer with the new "
    "passage only: no preamble, no quotes, no image tags."
)


def rewrite_messages(article: Article, block_id: str, instruction: str = "") -> list[Any]:
    block = article.block(block_id)
    if not isinstance(block, TextBlock):
        raise Refused(f"{capitalised(name_for(block))} is an image block: regenerate it instead")
    before, after = neighbours(article, block_id)
    parts = [f"Brief: {article.brief}", f"Text before the passage:\n{before[-800:]}" if before else ""]
    parts += [f"Text after the passage:\n{after[:800]}" if after else "", f"The passage:\n{block.text}"]
    parts.append(f"Instruction: {instruction.strip()}" if instruction.strip() else "Instruction: write it better.")
    return [
        {"role": "system", "content": REWRITE_SYSTEM},
        {"role": "user", "content": "\n\n".join(p for p in parts if p)},
    ]


def rewrite_text(
    article: Article, block_id: str, services: Services, instruction: str = "", *, seed: int | None = None
) -> str:
    """A new text for one text block (tags stripped). Raises ModelError when the backend fails."""
    block = article.block(block_id)
    limit = max(64, min(services.limits.max_tokens, 2 * len(getattr(block, "text", "")) // 3 + 200))
    options = ChatOptions(max_tokens=limit, temperature=services.settings.temperature, seed=seed)
    text = complete(services.backend, rewrite_messages(article, block_id, instruction), options)
    text = TAG_RE.sub("", text).replace("<imgen>", "").replace("</imgen>", "")
    original = block.text if isinstance(block, TextBlock) else ""
    # keep the paragraph breaks around the block so the article does not run together
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()) :]
    return lead + text.strip() + trail
