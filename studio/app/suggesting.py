"""Ask about a selection, for a session (mixed into ``Session``; no gradio here).

``suggest`` finds the selection in the block's Markdown (``studio.core.selection``), asks the
writer backend (``studio.core.suggest``) and yields the suggestion as tracked changes while it
streams (``studio.core.tracked``); the finished suggestion waits in the session under its id.
``decide_suggestion`` applies the accepted changes and stores the outcome with its preference
event (``storage.suggestions``). A suggestion is made on one version of the block: if the block
changes before the decision, the decision is refused and nothing is spliced into other text.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.base import ChatOptions, model_name_of
from models.block_names import capitalised, name_for
from models.errors import Refused
from storage import repo
from storage.suggestions import record_suggestion
from studio.app.ui_model import ArticleView
from studio.core.article import Article, TextBlock
from studio.core.selection import locate_selection
from studio.core.suggest import (
    CONTEXT_CHARS,
    LABELS,
    SuggestRequest,
    fit_to_selection,
    max_tokens,
    stream_suggestion,
    suggestion_messages,
)
from studio.core.tracked import Segment, apply_changes, change_ids, tracked_changes

if TYPE_CHECKING:
    from storage.db import Store
    from studio.app.services import Services

MAX_PENDING = 8  # suggestions a session keeps waiting for a decision (the oldest go first)
STREAM_UPDATE_S = 0.1  # at most this often a streamed update (each carries the whole tracked change)


@dataclass
class Suggestion:
    """One suggestion on one selection of one version of a block."""

    id: str
    block: str
    base_version: int
    text: str  # the block's Markdown at ``base_version``
    start: int
    end: int
    request: SuggestRequest
    selected: str  # the rendered text the writer selected
    suggestion: str = ""  # the model's text for the selection (cleaned, with the selection's spaces)
    segments: list[Segment] = field(default_factory=list)
    streaming: bool = True
    model: str | None = None

    @property
    def selection(self) -> str:
        return self.text[self.start : self.end]

    def update(self, suggestion: str, *, streaming: bool) -> None:
        self.suggestion = fit_to_selection(suggestion, self.selection) if not streaming else suggestion
        self.streaming = streaming
        self.segments = tracked_changes(self.selection, self.suggestion, streaming=streaming)

    def state(self) -> dict[str, Any]:
        """What the page and the API get: the tracked change and what it is about."""
        return {
            "id": self.id,
            "block": self.block,
            "version": self.base_version,
            "action": self.request.action,
            "label": LABELS[self.request.action],
            "instruction": self.request.instruction,
            "selection": self.selection,
            "suggestion": self.suggestion,
            "segments": [s.as_dict() for s in self.segments],
            "changes": change_ids(self.segments),
            "streaming": self.streaming,
            "error": "",
        }


class SuggestActions:
    """Suggestions on a selection; the host (``Session``) provides the store, the article, reload."""

    user: str
    view: ArticleView

    if TYPE_CHECKING:

        @property
        def store(self) -> Store: ...

        def reload(self) -> ArticleView: ...

        def services(self, options: Any = None) -> Services: ...

        def _article(self) -> tuple[int, Article]: ...

    @property
    def suggestions(self) -> OrderedDict[str, Suggestion]:
        """This session's suggestions waiting for a decision (created on first use)."""
        pending: OrderedDict[str, Suggestion] | None = self.__dict__.get("_suggestions")
        if pending is None:
            pending = self.__dict__["_suggestions"] = OrderedDict()
        return pending

    def suggest(
        self,
        block_id: str,
        selected: str,
        before: str = "",
        action: str = "shorten",
        detail: str = "",
        *,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream a suggestion for the ``selected`` text of a text block (its state, see
        ``Suggestion.state``); the last state is the finished suggestion, ready for a decision.
        ``cancel`` (asked per chunk) stops it: the model stream is closed, ``Cancelled`` raised."""
        request = SuggestRequest(action, detail)
        article_id, article = self._article()
        shown = article.block(block_id)
        if not isinstance(shown, TextBlock):
            raise Refused(f"{capitalised(name_for(shown))} is an image block: select text in a paragraph")
        stored = repo.open_article(self.store, article_id, self.user).block(block_id)
        text = stored.current.text or ""
        start, end = locate_selection(text, selected, before)
        services = self.services()
        item = Suggestion(secrets.token_hex(6), block_id, stored.current_version, text, start, end, request,
                          selected[:4000], model=model_name_of(services.backend))  # fmt: skip
        around_before, around_after = article.text_around(block_id, CONTEXT_CHARS)
        before_text = (around_before + "\n\n" + text[:start]).strip()
        after_text = (text[end:] + "\n\n" + around_after).strip()
        messages = suggestion_messages(item.selection, request, before_text, after_text)
        options = ChatOptions(max_tokens=min(services.limits.max_tokens, max_tokens(item.selection, action)),
                              temperature=services.settings.temperature)  # fmt: skip
        item.update("", streaming=True)
        yield item.state()
        last, latest = time.monotonic(), ""
        for latest in stream_suggestion(services.backend, messages, options, item.selection, after=after_text,
                                        action=action, cancel=cancel):  # fmt: skip
            if time.monotonic() - last >= STREAM_UPDATE_S:
                last = time.monotonic()
                item.update(latest, streaming=True)
                yield item.state()
        if not latest.strip():
            raise Refused("the model suggested nothing for this selection: try again, or say it another way")
        item.update(latest, streaming=False)
        self.suggestions[item.id] = item
        while len(self.suggestions) > MAX_PENDING:
            self.suggestions.popitem(last=False)
        yield item.state()

    def decide_suggestion(self, suggestion_id: str, accept: str = "all") -> str:
        """Keep the ``accept``ed changes ("all", "none", or change ids such as "c1,c3") of a
        finished suggestion; stores the outcome and its preference event. Returns the outcome."""
        item = self.suggestions.get(suggestion_id.strip())
        if item is None:
            raise Refused("that suggestion is not waiting any more (decided, or from another tab): ask again")
        ids = change_ids(item.segments)
        accepted = _accepted(accept, ids)
        article_id, _ = self._article()
        if not ids:
            del self.suggestions[item.id]
            return "The suggestion changed nothing; the text stays as it was."
        kept = apply_changes(item.segments, accepted)
        details = {
            "selection": item.selection,
            "selected_text": item.selected,
            "start": item.start,
            "end": item.end,
            "action": item.request.action,
            "detail": item.request.detail,
            "suggested": item.suggestion,
            "kept": kept,
            "changes": [{**s.as_dict(), "accepted": s.id in accepted} for s in item.segments if s.kind == "change"],
            "model": item.model,
        }
        decision, version = record_suggestion(
            self.store, article_id, item.block, base_version=item.base_version, base_text=item.text,
            suggested_text=item.text[: item.start] + item.suggestion + item.text[item.end :],
            kept_text=item.text[: item.start] + kept + item.text[item.end :],
            instruction=item.request.instruction, details=details, owner=self.user,
        )  # fmt: skip
        del self.suggestions[item.id]
        self.reload()
        if decision == "reject":
            return "Suggestion rejected; the text stays as it was."
        taken = "accepted" if decision == "accept" else f"{len(accepted)} of {len(ids)} changes accepted"
        return f"Suggestion {taken}: saved as version {version.number}."


def _accepted(accept: str, ids: list[str]) -> set[str]:
    words = {w.strip() for w in accept.replace(";", ",").split(",") if w.strip()}
    if {w.lower() for w in words} == {"all"}:
        return set(ids)
    if not words or {w.lower() for w in words} == {"none"}:
        return set()
    unknown = sorted(words - set(ids))
    if unknown:
        raise Refused(
            f"no change {', '.join(unknown)[:80]} in this suggestion: send 'all', 'none' or some of {', '.join(ids)}"
        )
    return words
