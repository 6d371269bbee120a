"""The agent: a brief goes in, the event stream of the article comes out.

It builds the messages (our system prompt, offering only the tools available now), asks the
chat backend to stream, constrains small local models with a GBNF grammar so every tag is
valid, and hands the chunks to the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from models.base import ChatBackend, ChatOptions, Message
from studio.core.article import Article
from studio.core.engine import Engine
from studio.core.events import Event
from studio.core.grammar import article_grammar
from studio.core.prompts import system_prompt, user_prompt


@dataclass(frozen=True)
class WriterLimits:
    """The settings that shape one article (the app builds these from Settings)."""

    max_images: int = 4
    max_tokens: int = 1200
    temperature: float = 0.7
    max_paragraph_chars: int = 700


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

    def engine(self, *, style: str = "") -> Engine: ...


@dataclass(frozen=True)
class Brief:
    text: str
    wanted_images: int | None = None  # None: the model decides (up to settings.max_images)
    user_images: tuple[bytes, ...] = ()
    style: str = ""


def build_messages(brief: Brief, services: WriterServices) -> list[Message]:
    system = system_prompt(
        services.off_reasons_by_source(),
        max_images=_max_images(brief, services),
        compact=services.two_phase_code,  # the embedded backend: a small model, the short prompt
        two_phase_code=services.two_phase_code,
        style=brief.style,
    )
    user = user_prompt(brief.text, wanted_images=brief.wanted_images, user_image_count=len(brief.user_images))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _max_images(brief: Brief, services: WriterServices) -> int:
    if brief.wanted_images is not None:
        return brief.wanted_images
    return services.limits.max_images


def chat_options(brief: Brief, services: WriterServices) -> ChatOptions:
    limits = services.limits
    grammar = None
    if services.uses_grammar:
        wanted = _max_images(brief, services)
        least = min(1, wanted) if brief.wanted_images is None else wanted
        for min_images in dict.fromkeys((least, 0)):  # 0: e.g. edit is the only tool and nothing to edit yet
            try:
                grammar = article_grammar(
                    services.available_sources(),
                    min_images=min_images,
                    max_images=wanted,
                    user_image_count=len(brief.user_images),
                    max_paragraph_chars=limits.max_paragraph_chars,
                    two_phase_code=services.two_phase_code,
                )
                break
            except ValueError:
                continue
    return ChatOptions(max_tokens=limits.max_tokens, temperature=limits.temperature, grammar=grammar)


def write_article(brief: Brief, services: WriterServices, *, stop: threading.Event | None = None) -> Iterator[Event]:
    """Stream the article for a brief. The last event is ArticleDone, whatever fails.
    ``stop``: set it to end the article early, keeping what was written (see ``Engine.run``)."""
    article = Article(brief=brief.text, user_images=list(brief.user_images))
    chunks = services.backend.stream(build_messages(brief, services), chat_options(brief, services))
    return services.engine(style=brief.style).run(chunks, article, stop=stop)


def render_response(
    text: str,
    services: WriterServices,
    *,
    user_images: Sequence[bytes] = (),
    style: str = "",
    stop: threading.Event | None = None,
    chunks: Iterable[str] | None = None,
) -> Iterator[Event]:
    """Execute the tags of an existing LLM-I response (e.g. a reference evaluation output).
    ``chunks``: the response in pieces (as a model would stream it); default: all at once."""
    article = Article(brief="", user_images=list(user_images))
    return services.engine(style=style).run(chunks if chunks is not None else [text], article, stop=stop)
