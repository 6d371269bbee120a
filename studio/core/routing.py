"""The routing check: a tag whose source contradicts its description goes to the right tool.

After a tag closes (before it is queued), its description is classified
(studio.core.picture_kinds); when the description clearly asks for another kind of picture than
the model's source, and that kind's tool is on, the call is re-written for that tool:

- a chart described in a search / diffusion / edit tag -> code, with an empty code string (the
  chart writer, studio.core.charts.ChartWritingTool, writes it from the description);
- a photo of a real thing asked of diffusion, or an empty chart tag -> search (the description is
  the query);
- an illustration or concept asked of search, or an empty chart tag -> diffusion (the
  description is the prompt);
- a change to the user's image asked of search / diffusion -> edit of that image, when exactly
  one image was attached (with several, which one is ambiguous).

Never routed: an ambiguous description (no clear kind), a kind whose tool is off, a code tag that
carries its own code (code that is there draws what it draws), an edit to anything but a chart.
The engine records the model's choice (``routed_from``), the studio's (``routed_to``) and why
(``routed_why``) in the block's provenance; the card says "routed to chart" in small print.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

from pydantic import BaseModel

from models.vocab import Source
from studio.core.picture_kinds import classify
from studio.core.protocol import ToolCall
from tools.params import CodeParams, DiffusionParams, EditParams, SearchParams

QUERY_MAX = 120
PROMPT_MAX = 300

# What the card's small print calls each destination ("routed to chart").
ROUTE_WORDS: dict[str, str] = {
    Source.CODE: "chart",
    Source.SEARCH: "photo search",
    Source.DIFFUSION: "illustration",
    Source.EDIT: "edit",
}


@dataclass(frozen=True)
class Routed:
    """A call the routing check changed, and why (the engine records both)."""

    call: ToolCall
    why: str


class PictureRouter:
    """Callable for ``EngineOptions.route``: a call in, the same call or a ``Routed`` one out."""

    def __init__(self, available: Collection[str], *, user_images: int = 0) -> None:
        """available: the sources whose tools are on; user_images: how many the user attached."""
        self.available = frozenset(str(s) for s in available)
        self.user_images = user_images

    def __call__(self, call: ToolCall) -> ToolCall | Routed:
        verdict = classify(call.description)
        if verdict is None or verdict.kind == call.source or verdict.kind not in self.available:
            return call
        params = self._params(call, verdict.kind)
        if params is None:
            return call
        why = f"{verdict.reason}; the model chose {call.source}"
        return Routed(dataclasses.replace(call, source=verdict.kind, params=params), why)

    def _params(self, call: ToolCall, target: str) -> BaseModel | None:
        """The call's params for ``target``, or None when it must stay (see the module docstring)."""
        if call.source == Source.CODE and str(call.params_dict().get("code", "")).strip():
            return None
        if call.source == Source.EDIT and target != Source.CODE:
            return None
        words = " ".join(call.description.split()) or _text_param(call)
        if target == Source.CODE:
            return CodeParams(code="")
        if target == Source.SEARCH:
            return SearchParams(query=words[:QUERY_MAX])
        if target == Source.DIFFUSION:
            return DiffusionParams(prompt=words[:PROMPT_MAX])
        if target == Source.EDIT and self.user_images == 1:
            return EditParams(img_index=0, prompt=words[:PROMPT_MAX])
        return None


def _text_param(call: ToolCall) -> str:
    params = call.params_dict()
    return " ".join(str(params.get("query") or params.get("prompt") or "").split())
