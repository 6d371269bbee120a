"""The agent: a brief goes in, the event stream of the article comes out.

It builds the messages (our system prompt, offering only the tools available now), asks the
chat backend to stream, constrains small local models with a GBNF grammar so every tag is
valid, and hands the chunks to the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from models.base import ChatOptions, Message
from studio.article import Article
from studio.events import Event
from studio.grammar import article_grammar
from studio.prompts import system_prompt, user_prompt
from studio.services import Services


@dataclass(frozen=True)
class Brief:
    text: str
    wanted_images: int | None = None  # None: the model decides (up to settings.max_images)
    user_images: tuple[bytes, ...] = ()
    style: str = ""


def build_messages(brief: Brief, services: Services) -> list[Message]:
    available = services.off_reasons_by_source()
    system = system_prompt(
        available,
        max_images=_max_images(brief, services),
        small_model=services.small_model,
        style=brief.style,
    )
    user = user_prompt(brief.text, wanted_images=brief.wanted_images, user_image_count=len(brief.user_images))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _max_images(brief: Brief, services: Services) -> int:
    if brief.wanted_images is not None:
        return brief.wanted_images
    return services.settings.max_images


def chat_options(brief: Brief, services: Services) -> ChatOptions:
    settings = services.settings
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
                    max_paragraph_chars=settings.max_paragraph_chars,
                    two_phase_code=services.small_model,
                )
                break
            except ValueError:
                continue
    return ChatOptions(max_tokens=settings.max_tokens, temperature=settings.temperature, grammar=grammar)


def write_article(brief: Brief, services: Services) -> Iterator[Event]:
    """Stream the article for a brief. The last event is ArticleDone, whatever fails."""
    article = Article(brief=brief.text, user_images=list(brief.user_images))
    chunks = services.backend.stream(build_messages(brief, services), chat_options(brief, services))
    return services.engine(style=brief.style).run(chunks, article)


def render_response(
    text: str, services: Services, *, user_images: Sequence[bytes] = (), style: str = ""
) -> Iterator[Event]:
    """Execute the tags of an existing LLM-I response (e.g. a reference evaluation output)."""
    article = Article(brief="", user_images=list(user_images))
    return services.engine(style=style).run([text], article)
