"""Maps studio events onto the storage recorder, and stored articles back into studio values.

storage/ may not import studio/ (it knows no event classes), so this is the one place where
the two meet: ``record(events, recorder)`` persists every event as it passes, and
``load_article`` rebuilds an ``Article`` (current version of every block, images read from the
asset store) plus the version facts the UI shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, assert_never

from models.base import model_name_of
from models.vocab import BlockStatus, block_status
from storage.db import Store
from storage.recorder import ArticleRecorder
from storage.repo import open_article
from storage.views import ArticleInfo, VersionInfo
from studio.app.services import Services
from studio.app.ui_model import VersionView
from studio.core.agent import PASTED_WRITER, Brief, build_messages, chat_options
from studio.core.article import Article, ImageBlock, TextBlock, stored_removals
from studio.core.events import (
    ArticleDone,
    Event,
    TagOpened,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallInvalid,
    ToolCallQueued,
    ToolCallStarted,
)


def record_event(recorder: ArticleRecorder, event: Event) -> None:
    """Persist one event (the recorder commits image events at once, text in short batches)."""
    match event:
        case TagOpened():
            pass  # a tag being written is no block yet: its Queued/Invalid event stores it
        case TextDelta():
            recorder.text_delta(event.block_id, event.text)
        case ToolCallQueued():
            recorder.image_queued(
                event.block_id, event.image_index, event.source, event.description, event.params, event.raw or None
            )
        case ToolCallInvalid():
            recorder.image_invalid(
                event.block_id, event.image_index, event.raw, event.reason, event.source, event.description
            )
        case ToolCallStarted():
            recorder.image_started(event.block_id, event.source)
        case ToolCallFinished():
            recorder.image_finished(
                event.block_id,
                BlockStatus.OK,
                image_bytes=event.image,
                mime=event.mime,
                provenance=event.provenance,
                params=event.params,
                seconds=event.seconds,
            )
        case ToolCallFailed():
            recorder.image_finished(
                event.block_id,
                BlockStatus.PLACEHOLDER if event.placeholder else BlockStatus.FAILED,
                error=event.error,
                provenance=event.provenance,
                params=event.params,
                seconds=event.seconds,
            )
        case ArticleDone():
            recorder.done(
                event.error,
                event.seconds,
                cut_off=event.cut_off,
                stopped=event.stopped,
                removed=[r.to_dict() for r in event.article.removed],
            )
        case _:
            assert_never(event)


def record(events: Iterable[Event], recorder: ArticleRecorder) -> Iterator[Event]:
    """Pass events through, persisting each before it is yielded (so what the UI shows is saved)."""
    for event in events:
        record_event(recorder, event)
        yield event


@dataclass(frozen=True)
class VersionFacts:
    current: int
    count: int
    accepted: int | None


def _image(store: Store, version: VersionInfo) -> bytes | None:
    if version.asset is None or not store.assets.exists(version.asset.sha256):
        return None
    return store.assets.read(version.asset.sha256)


def image_block(store: Store, key: str, image_index: int, v: VersionInfo) -> ImageBlock:
    """A stored image version as the engine's block value."""
    return ImageBlock(
        id=key,
        image_index=image_index,
        source=v.source,
        description=v.description or "",
        params=dict(v.params or {}),
        raw=v.raw or "",
        status=block_status(v.status),
        error=v.error,
        provenance=dict(v.provenance or {}),
        image=_image(store, v),
        mime=v.asset.mime if v.asset else "image/png",
        seconds=v.seconds or 0.0,
    )


def article_from_info(store: Store, info: ArticleInfo) -> tuple[Article, dict[str, VersionFacts]]:
    """The stored article (current versions) as an ``Article`` plus each block's version facts."""
    user_images = [store.assets.read(ref.sha256) for ref in info.input_images if store.assets.exists(ref.sha256)]
    article = Article(brief=info.brief, user_images=user_images, error=info.error)
    article.cut_off = bool(info.settings.get("cut_off"))
    article.removed = stored_removals(info.settings.get("removed"))
    facts: dict[str, VersionFacts] = {}
    highest = 0
    for b in info.blocks:
        if b.kind == "text":
            article.blocks.append(TextBlock(b.key, b.current.text or ""))
        else:
            index = b.image_index if b.image_index is not None else len(article.image_blocks()) + len(user_images)
            article.blocks.append(image_block(store, b.key, index, b.current))
        facts[b.key] = VersionFacts(b.current_version, b.version_count, b.accepted_version)
        if b.key.startswith("b") and b.key[1:].isdigit():
            highest = max(highest, int(b.key[1:]))
    article._next_id = highest  # new blocks never reuse a stored key
    return article, facts


def load_article(
    store: Store, article_id: int, owner: str | None = None
) -> tuple[ArticleInfo, Article, dict[str, VersionFacts]]:
    info = open_article(store, article_id, owner)
    article, facts = article_from_info(store, info)
    return info, article, facts


def writer_record(
    brief: Brief, services: Services, *, response: str | None, quality: int, response_source: str = ""
) -> dict[str, Any]:
    """What the article row keeps of how it was written (its ``settings`` JSON): the writer's
    backend and model, the system and user prompt exactly as sent, and the settings that shape
    generation. The preference export builds its conversational prompts from this.

    Facts only, since exported datasets are shared: the model's name (``model_name``), never a
    file path or server address. A rendered response was written elsewhere: its writer is
    ``pasted response``, its model whatever the user said it came from (``response_source``),
    and no sampling setting of ours shaped it."""
    messages = build_messages(brief, services)
    options = chat_options(brief, services)
    limits = services.limits
    pasted = response is not None
    return {
        "backend": PASTED_WRITER if pasted else services.backend.name,
        "model": (" ".join(response_source.split())[:200] or None) if pasted else model_name_of(services.backend),
        "tools": services.available_sources(),
        "wanted_images": brief.wanted_images,
        "style": brief.style,
        # "model": the backend wrote it; "render": an existing response was executed (no model call)
        "written_by": "render" if pasted else "model",
        "system_prompt": str(messages[0]["content"]),
        "user_prompt": str(messages[1]["content"]),
        "generation": {
            "max_tokens": None if pasted else options.max_tokens,
            "temperature": None if pasted else options.temperature,
            "top_p": None if pasted else options.top_p,
            "max_images": limits.max_images,
            "max_paragraph_chars": limits.max_paragraph_chars,
            "grammar": None if pasted else options.grammar is not None,
            "two_phase_code": services.two_phase_code,
            "quality": quality,
        },
        "user": None,  # no accounts yet; the export keeps the field
        # the brief as the studio read it (studio.core.brief_plan): what the rules above acted on
        "plan": {
            "language": brief.plan.language,
            "kinds": list(brief.plan.kinds),
            "sections": brief.plan.sections,
            "images": brief.plan.images,
        },
    }


def file_stem(title: str) -> str:
    """A file name from a title: letters, digits and dashes (any script), at most 60 characters."""
    import re

    stem = re.sub(r"[^\w]+", "-", title, flags=re.UNICODE).strip("-_")[:60]
    return stem


def version_view(v: VersionInfo) -> VersionView:
    return VersionView(
        number=v.number,
        origin=v.origin,
        status=v.status,
        error=v.error,
        sha256=v.asset.sha256 if v.asset else None,
        text=v.text,
        instruction=v.instruction,
        source=v.source,
    )
