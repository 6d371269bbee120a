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

- a photo search in a brief whose pictures are drawn (BriefPlan.drawn) -> diffusion: in fiction
  always, otherwise when the description is ambiguous.

Never routed away: a tag whose source is a kind the brief names (BriefPlan.kinds) and that the
article has not got yet. The grammar owes each named kind one tag of its source, so routing that
tag elsewhere would leave the kind the user asked for missing (measured: a Kyoto guide asking for
a photo and a chart got two charts when the forced search tag described a chart).

Never routed: an ambiguous description (no clear kind; but see the drawn brief above), a kind
whose tool is off while the model's is on (both off: routed, the placeholder then names the
right tool), a code tag that carries its own code (code that is there draws what it draws), an
edit to anything but a chart.
The engine records the model's choice (``routed_from``), the studio's (``routed_to``) and why
(``routed_why``) in the block's provenance; the card says "routed to chart" in small print.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from pydantic import BaseModel

from models.vocab import Source
from studio.core.picture_kinds import Verdict, classify
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

    def __init__(
        self,
        available: Collection[str],
        *,
        user_images: int = 0,
        drawn: bool = False,
        fiction: bool = False,
        named: Collection[str] = (),
    ) -> None:
        """available: the sources whose tools are on; user_images: how many the user attached;
        drawn: the brief asks for drawn pictures and no photo (BriefPlan.drawn); fiction: it is a
        story or a fictional thing (BriefPlan.fiction); named: the kinds the brief names
        (BriefPlan.kinds). One router serves one article: it counts the kinds written so far."""
        self.available = frozenset(str(s) for s in available)
        self.user_images = user_images
        self.drawn = drawn
        self.fiction = fiction
        self.named = frozenset(str(s) for s in named)
        self.written: Counter[str] = Counter()

    def __call__(self, call: ToolCall) -> ToolCall | Routed:
        outcome = self._route(call)
        if isinstance(outcome, Routed) and call.source in self.named and not self.written[call.source]:
            outcome = call  # the only tag of a kind the brief asks for stays that kind
        self.written[(outcome.call if isinstance(outcome, Routed) else outcome).source] += 1
        return outcome

    def _route(self, call: ToolCall) -> ToolCall | Routed:
        verdict = classify(call.description)
        drawn = self._drawn_instead(call, verdict)
        if drawn is not None:
            return drawn
        if verdict is None or verdict.kind == call.source or not self._may_route(call.source, verdict.kind):
            return call
        params = self._params(call, verdict.kind)
        if params is None:
            return call
        why = f"{verdict.reason}; the model chose {call.source}"
        return Routed(dataclasses.replace(call, source=verdict.kind, params=params), why)

    def _may_route(self, source: str, target: str) -> bool:
        """A call goes to ``target`` when that tool is on, or when the model's tool is off too: both
        are placeholders then, and the right kind's says which tool to turn on."""
        return target in self.available or source not in self.available

    def _drawn_instead(self, call: ToolCall, verdict: Verdict | None) -> Routed | None:
        """A photo search in a brief whose pictures are drawn goes to diffusion: in fiction always
        (a story's scene or a fictional product has no photo on the web), in a brief that asks
        for illustrations and no photo when the description is ambiguous."""
        if call.source != Source.SEARCH or not self.drawn or not self._may_route(call.source, Source.DIFFUSION):
            return None
        if verdict is not None and not (self.fiction and verdict.kind == Source.SEARCH):
            return None  # a clear kind is the description's own routing
        params = self._params(call, Source.DIFFUSION)
        if params is None:
            return None
        why = (
            "the brief is fiction: nothing in it can be photographed"
            if self.fiction
            else ("the brief asks for illustrations, not photos")
        )
        return Routed(
            dataclasses.replace(call, source=Source.DIFFUSION, params=params), f"{why}; the model chose search"
        )

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
