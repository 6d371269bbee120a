"""The agent: a brief goes in, the event stream of the article comes out.

It builds the messages (our system prompt, offering all four sources by what each is for; a tag
for a tool that is off becomes a placeholder block), asks the chat backend to stream, constrains
small local models with a GBNF grammar so every tag is valid and the image count is the one
asked for (none at all for "no images"), and hands the chunks to the engine.

The brief is read once, into its plan (``Brief.plan``, studio.core.brief_plan): the prompt, the
count, the grammar's required pictures, the guards and the engine's routing check all take it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from models.base import FINISH_LENGTH, ChatBackend, ChatOptions, FinishStream, Message, Penalties
from models.text import valid_text
from models.vocab import Source
from studio.core.article import Article, TextBlock
from studio.core.brief_plan import BriefPlan, plan_brief, plan_text
from studio.core.engine import Engine
from studio.core.events import Event
from studio.core.grammar import article_grammar
from studio.core.guards import TextGuard
from studio.core.prompts import system_prompt, user_prompt
from tools.params import SOURCES


@dataclass(frozen=True)
class WriterLimits:
    """The settings that shape one article (the app builds these from Settings)."""

    max_images: int = 4
    max_tokens: int = 1200
    temperature: float = 0.7
    max_paragraph_chars: int = 700
    max_continuations: int = 1  # more requests after a token-limit stop (0: mark it cut off at once)
    seed: int | None = None  # a fixed sampling seed: the same brief, model and server give the same article
    penalties: Penalties | None = None  # anti-loop sampling, sent where the server reads it
    guards: bool = True  # the stream guards (repetition, prompt echo, tool talk: studio.core.guards)
    # a brief asking for this many sections or more is written outline first (studio.core.outline); 0: never
    outline_min_sections: int = 3


class WriterServices(Protocol):
    """What the agent (and quality mode, the benchmark) need of the wired studio. The app's
    ``Services`` satisfies it; the core never sees Settings."""

    @property
    def backend(self) -> ChatBackend: ...

    @property
    def two_phase_code(self) -> bool: ...

    @property
    def uses_grammar(self) -> bool: ...

    @property
    def limits(self) -> WriterLimits: ...

    def available_sources(self) -> list[str]: ...

    def off_reasons_by_source(self) -> dict[str, str | None]: ...

    def engine(self, *, style: str = "", plan: BriefPlan | None = None, written: Sequence[str] = ()) -> Engine: ...


@dataclass(frozen=True)
class Brief:
    text: str
    # None: the model decides (1 up to settings.max_images); 0 or -1: no images (the grammar admits
    # no tag); N > 0: exactly N (the grammar admits exactly N).
    wanted_images: int | None = None
    user_images: tuple[bytes, ...] = ()
    style: str = ""

    def __post_init__(self) -> None:  # a brief is text entering the studio: valid Unicode (models.text)
        object.__setattr__(self, "text", valid_text(self.text))
        object.__setattr__(self, "style", valid_text(self.style))

    @cached_property
    def plan(self) -> BriefPlan:
        """The brief read once (studio.core.brief_plan): built on first use, then kept."""
        return plan_brief(self)


def build_messages(brief: Brief, services: WriterServices) -> list[Message]:
    plan = brief.plan
    count = image_count(plan, services)
    system = system_prompt(
        services.off_reasons_by_source(),
        max_images=_max_images(plan, services),
        exact_count=count is not None,
        compact=services.two_phase_code,  # the embedded backend: a small model, the short prompt
        two_phase_code=services.two_phase_code,
        style=plan.style,
    )
    user = user_prompt(plan.text, wanted_images=count, user_image_count=plan.user_images, plan=plan)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def image_count(plan: BriefPlan, services: WriterServices) -> int | None:
    """The exact image count the article must have (None: the model decides). The brief's setting
    as it is; a count its text states ("three photos") up to ``limits.max_images``."""
    if plan.wanted_images is not None or plan.images is None:
        return plan.images
    return min(plan.images, services.limits.max_images)


def _max_images(plan: BriefPlan, services: WriterServices) -> int:
    count = image_count(plan, services)
    return count if count is not None else services.limits.max_images  # 0: no images at all


def required_sources(plan: BriefPlan, min_images: int, max_images: int) -> list[str]:
    """The picture kinds the brief names, each needed once in the grammar, as many as fit (an edit
    of the user's image first, then a chart). Measured with the 1.5B model offered all four
    sources: "a chart of annual rainfall" became four search tags; Kyoto's "photos of Kinkaku-ji"
    became diffusion tags; "an edited version of my photo" became a search tag."""
    kinds = sorted(plan.kinds, key=lambda kind: kind != Source.EDIT)
    return kinds[:max_images] if min_images > 0 else []


def picture_range(plan: BriefPlan, services: WriterServices) -> tuple[int, int, tuple[str, ...]]:
    """The article's tags as (least, most, the sources the brief names): None as the count means
    one at least, and each kind the brief names, up to the settings' maximum; 0: none; N: N."""
    count = image_count(plan, services)
    most = count if count is not None else services.limits.max_images
    required = tuple(required_sources(plan, 1, most))
    least = count if count is not None else min(most, max(1, len(required)))
    return least, most, required


def chat_options(brief: Brief, services: WriterServices) -> ChatOptions:
    limits = services.limits
    plan = brief.plan
    grammar = None
    if services.uses_grammar:
        wanted = _max_images(plan, services)
        least = min(1, wanted) if image_count(plan, services) is None else wanted
        for min_images in dict.fromkeys((least, 0)):  # 0: e.g. edit is the only tool and nothing to edit yet
            try:
                grammar = article_grammar(
                    SOURCES,  # all four always: a tag for a tool that is off becomes a placeholder
                    min_images=min_images,
                    max_images=wanted,
                    user_image_count=plan.user_images,
                    max_paragraph_chars=limits.max_paragraph_chars,
                    two_phase_code=services.two_phase_code,
                    required=required_sources(plan, min_images, wanted),
                )
                break
            except ValueError:
                continue
    return ChatOptions(
        max_tokens=limits.max_tokens,
        temperature=limits.temperature,
        seed=limits.seed,
        grammar=grammar,
        penalties=limits.penalties,
    )


def writer_guard(messages: list[Message], brief: Brief, services: WriterServices, article: Article) -> TextGuard | None:
    """The stream guards for one article the model writes (None where STUDIO_STREAM_GUARDS is off):
    echoes are measured against the messages as sent, the brief's own words excepted; the
    article's text so far counts for repetition (a continuation must not repeat it)."""
    if not services.limits.guards:
        return None
    prompts = [m["content"] for m in messages[:2] if isinstance(m["content"], str)]
    written = "".join(b.text for b in article.blocks if isinstance(b, TextBlock))
    return TextGuard(prompts=prompts, brief=brief.plan.text, written=written)


def write_article(brief: Brief, services: WriterServices, *, stop: threading.Event | None = None) -> Iterator[Event]:
    """Stream the article for a brief. The last event is ArticleDone, whatever fails.

    When the model stops at its token limit, the article is continued (up to
    ``limits.max_continuations`` more requests, where no grammar is in force: a grammar
    describes a whole article and cannot resume mid-way); if it is still cut off, the article
    and ArticleDone say so (``cut_off``). ``stop``: set it to end the article early, keeping
    what was written (see ``Engine.run``)."""
    article = Article(brief=brief.text, user_images=list(brief.user_images))
    messages, options = build_messages(brief, services), chat_options(brief, services)
    chunks = article_chunks(brief, services, article, messages, options)
    guard = writer_guard(messages, brief, services, article)
    return services.engine(style=brief.style, plan=brief.plan).run(chunks, article, stop=stop, guard=guard)


def article_chunks(
    brief: Brief, services: WriterServices, article: Article, messages: list[Message], options: ChatOptions
) -> Iterator[str]:
    """The model's chunks of one article: outline first, section by section, for a brief that asks
    for ``limits.outline_min_sections`` sections or more (studio.core.outline); otherwise one
    request, continued after token-limit stops where no grammar is in force, and under a grammar
    redirected after a loop to the pictures still owed (studio.core.owed)."""
    plan = brief.plan
    least = services.limits.outline_min_sections
    if least and (plan.sections or 0) >= least:
        from studio.core.outline import write_sections  # it builds on this module's pieces

        return write_sections(brief, services, messages, options, article)
    bound = services.limits.max_continuations if options.grammar is None else 0
    chunks = _continued(services.backend, messages, options, article, bound)
    if options.grammar is None:
        return chunks
    from studio.core.owed import RedirectableChunks, owed_writer  # it builds on this module's pieces

    owed = owed_writer(brief, services, messages, options)
    return RedirectableChunks(chunks, lambda: owed.request(article))


def continue_article(
    article: Article, brief: Brief, services: WriterServices, *, stop: threading.Event | None = None
) -> Iterator[Event]:
    """Write more of an article that was cut off at the token limit, in place: the model sees the
    article so far as its own unfinished answer and goes on; new blocks are appended.

    Small grammar-constrained models write the continuation without their grammar (it cannot
    start mid-article), so a bad tag there becomes an invalid block with its reason."""
    article.cut_off = False
    article.error = None  # a stopped article's "stopped by the user" would end the new stream at once
    article.continuations += 1
    options = dataclasses.replace(chat_options(brief, services), grammar=None)
    first = build_messages(brief, services)
    messages = continuation_messages(first, article.to_llmi_text())
    chunks = services.backend.stream(messages, continuation_options(options))
    guard = writer_guard(first, brief, services, article)
    join = ends_mid_paragraph(article)
    written = [b.source for b in article.image_blocks() if b.source]
    engine = services.engine(style=brief.style, plan=brief.plan, written=written)
    return engine.run(chunks, article, stop=stop, guard=guard, join_last_text=join)


_ENDINGS = tuple(".!?…:;\"'”’)»]}。！？；：」』）")


def ends_mid_paragraph(article: Article) -> bool:
    """The article's last block is text whose last paragraph has no ending (it stopped
    mid-sentence): a continuation joins that paragraph instead of starting a new one."""
    last = article.blocks[-1] if article.blocks else None
    if not isinstance(last, TextBlock) or not last.text.strip() or last.text.endswith("\n\n"):
        return False
    final_line = last.text.rstrip().rsplit("\n", 1)[-1].lstrip()
    return not final_line.startswith("#") and not final_line.endswith(_ENDINGS)


def continuation_messages(messages: list[Message], so_far: str) -> list[Message]:
    """The chat with the unfinished answer as the last (assistant) message, to be continued."""
    return [*messages, {"role": "assistant", "content": so_far}]


def continuation_options(options: ChatOptions) -> ChatOptions:
    """Ask the server to continue the final assistant message instead of starting a new one
    (vLLM: continue_final_message; llama.cpp's server continues a final assistant message)."""
    extra = {**options.extra, "continue_final_message": True, "add_generation_prompt": False}
    return dataclasses.replace(options, extra=extra)


def _continued(
    backend: ChatBackend, messages: list[Message], options: ChatOptions, article: Article, bound: int
) -> FinishStream:
    """The model's stream, continued after token-limit stops up to ``bound`` times (counted in
    ``article.continuations``); returns the last finish reason."""
    written: list[str] = []
    finish = yield from tee(backend.stream(messages, options), written)
    while finish == FINISH_LENGTH and article.continuations < bound:
        article.continuations += 1
        request = continuation_messages(messages, "".join(written))
        finish = yield from tee(backend.stream(request, continuation_options(options)), written)
    return finish


def tee(chunks: Iterable[str], into: list[str]) -> FinishStream:
    """Yield the chunks, keeping a copy, and pass the finish reason on."""
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration as stop:
            return stop.value if isinstance(stop.value, str) else None
        into.append(chunk)
        yield chunk


PASTED_WRITER = "pasted response"  # who wrote a rendered article: no model of ours did


def render_response(
    text: str,
    services: WriterServices,
    *,
    user_images: Sequence[bytes] = (),
    style: str = "",
    stop: threading.Event | None = None,
    chunks: Iterable[str] | None = None,
    brief: str = "",
) -> Iterator[Event]:
    """Execute the tags of an existing LLM-I response (e.g. a reference evaluation output).
    ``chunks``: the response in pieces (as a model would stream it); default: all at once.
    ``brief``: what the user typed for it (the article keeps it)."""
    article = Article(brief=brief, user_images=list(user_images))
    # the routing check may send an edit to the one image the user attached, as in a written article
    engine = services.engine(style=style, plan=plan_text(brief, user_images=len(user_images), style=style))
    # chart code in a pasted response carries its own numbers: the chart says they came from it
    engine.options = dataclasses.replace(engine.options, code_from="response")
    return engine.run(chunks if chunks is not None else [text], article, stop=stop)
