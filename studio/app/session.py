"""Per-session controller: one browser tab (or API client) working on one project.

``Studio`` holds what all sessions share (settings, the project store, the built services and
any extra chat backends chosen in the settings panel); it is thread-safe. ``Session`` holds
one session's state (its project, its article, the view shown) and is used from one request
at a time (the UI keeps one per browser session in ``gr.State``; nothing lives in globals).

Every change goes to the store first and the session then reloads the article from it, so
what a session shows is what a reload (or another process) would find.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from models.base import ChatBackend
from models.errors import StudioError
from storage import repo
from storage.db import Store, open_store
from storage.prefs import export_preferences
from storage.recorder import ArticleRecorder
from storage.views import ProjectInfo, VersionInfo
from studio.app.regenerate import Mode, dependent_edits, regenerate_image, rewrite_text
from studio.app.services import Services, build_services, openai_backend
from studio.app.settings import Settings
from studio.app.store_adapter import VersionFacts, load_article, record
from studio.app.ui_model import ArticleView, apply_event, view_from_article
from studio.core.agent import Brief, render_response, write_article
from studio.core.article import Article, ImageBlock
from studio.core.events import ArticleDone, Event, replay_events
from studio.export.sources import sniff_mime
from tools.base import Availability
from tools.params import SOURCES

MAX_UPLOAD_BYTES = 20 * 2**20  # one image filled into a block


class Studio:
    """Shared by every session of one app (thread-safe)."""

    def __init__(self, settings: Settings, *, services: Services | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self.services = services or build_services(settings)
        self.store = store or open_store(settings.database_url, Path(settings.data_dir))
        repo.mark_interrupted(self.store)  # articles a dead process left 'running'
        for tool in self.services.tools.values():
            # Start warm workers (the chart sandbox) now, so the first chart does not pay the
            # interpreter and matplotlib start-up.
            warm = getattr(tool, "warm", None)
            if callable(warm):
                with contextlib.suppress(StudioError):  # it starts on first use then, and says why there
                    warm()
        self._backends: dict[tuple[str, str], ChatBackend] = {}
        self._lock = threading.Lock()

    def backend_for(self, kind: str = "", base_url: str = "", model: str = "") -> ChatBackend:
        """The default backend, or a shared OpenAI-compatible client for another server/model."""
        if (
            kind != "openai"
            or not base_url
            or (self.services.backend.name == "openai" and base_url == self.settings.openai_base_url and not model)
        ):
            return self.services.backend
        with self._lock:
            key = (base_url.rstrip("/"), model)
            if key not in self._backends:
                self._backends[key] = openai_backend(self.settings, base_url, model)
            return self._backends[key]

    def services_for(self, backend: ChatBackend | None = None, tools: Sequence[str] | None = None) -> Services:
        """The shared services with another backend and/or fewer tools (never more than are on)."""
        availability = dict(self.services.availability)
        if tools is not None:
            for source in SOURCES:
                if source not in tools and availability[source].ok:
                    availability[source] = Availability.off("not allowed for this article (options)")
        chosen = backend or self.services.backend
        return dataclasses.replace(
            self.services, backend=chosen, availability=availability, two_phase_code=chosen.name == "embedded"
        )

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()  # type: ignore[attr-defined]
        self.services.close()
        self.store.close()


@dataclasses.dataclass
class RunOptions:
    backend: str = ""  # "" or "embedded": the studio's backend; "openai": base_url/model below
    base_url: str = ""
    model: str = ""
    tools: tuple[str, ...] | None = None  # None: every tool that is on
    wanted_images: int | None = None
    style: str = ""
    quality: int = 1  # > 1: quality mode, N candidates, the best one kept


class Session:
    """One user's working state. Not shared between sessions."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.project_id: int | None = None
        self.article_id: int | None = None
        self.article: Article | None = None
        self.facts: dict[str, VersionFacts] = {}
        self.view = ArticleView()
        self.options = RunOptions()

    @property
    def store(self) -> Store:
        return self.studio.store

    # --- projects -----------------------------------------------------------------------------
    def projects(self) -> list[ProjectInfo]:
        return repo.list_projects(self.store)

    def new_project(self, name: str = "") -> ProjectInfo:
        project = repo.create_project(self.store, name.strip() or time.strftime("Untitled %Y-%m-%d %H:%M:%S"))
        self._set_project(project.id, None)
        return project

    def open_project(self, project_id: int) -> ArticleView:
        repo.get_project(self.store, project_id)  # KeyError when it is gone
        latest = repo.latest_article(self.store, project_id)
        self._set_project(project_id, latest.id if latest else None)
        return self.view

    def rename(self, name: str) -> ProjectInfo:
        return repo.rename_project(self.store, self._project(), name)

    def duplicate(self, name: str | None = None) -> ProjectInfo:
        copy = repo.duplicate_project(self.store, self._project(), name)
        self.open_project(copy.id)
        return copy

    def delete(self) -> None:
        repo.delete_project(self.store, self._project())
        self._set_project(None, None)

    def _project(self) -> int:
        if self.project_id is None:
            raise ValueError("no project is open: create or open one first")
        return self.project_id

    def _set_project(self, project_id: int | None, article_id: int | None) -> None:
        self.project_id, self.article_id = project_id, article_id
        self.article, self.facts, self.view = None, {}, ArticleView()
        if article_id is not None:
            self.reload()

    def reload(self) -> ArticleView:
        """Read the article back from the store (the truth) and rebuild the view."""
        if self.article_id is None:
            return self.view
        _, self.article, self.facts = load_article(self.store, self.article_id)
        self.view = view_from_article(self.article)
        for block in self.view.blocks:
            fact = self.facts.get(block.id)
            if fact:
                block.version, block.version_count = fact.current, fact.count
                block.accepted = fact.accepted is not None and fact.accepted == fact.current
        return self.view

    # --- writing ------------------------------------------------------------------------------
    def services(self, options: RunOptions | None = None) -> Services:
        o = options or self.options
        backend = self.studio.backend_for(o.backend, o.base_url, o.model)
        return self.studio.services_for(backend, o.tools)

    def generate(
        self, brief: Brief, options: RunOptions | None = None, *, response: str | None = None
    ) -> Iterator[tuple[Event, ArticleView]]:
        """Write an article into the open project (a new one named after the brief if none is).

        ``response``: an existing LLM-I response to execute instead of asking the model (the
        CLI's ``render``; evaluations, tests). Yields each event with the view after it; every
        event is saved before it is yielded.
        """
        options = options or self.options
        if self.project_id is None:
            self.new_project(" ".join(brief.text.split())[:60] or "Untitled")
        services = self.services(options)
        settings = {
            "backend": services.backend.name,
            "model": services.backend.describe(),
            "tools": services.available_sources(),
            "wanted_images": brief.wanted_images,
            "style": brief.style,
        }
        recorder = ArticleRecorder(
            self.store,
            self._project(),
            brief=brief.text,
            input_images=[(data, sniff_mime(data) or "image/png") for data in brief.user_images],
            settings=settings,
        )
        self.article_id, self.facts = recorder.article_id, {}
        self.view = ArticleView(brief=brief.text, user_images=list(brief.user_images))
        if response is None and options.quality > 1:
            yield from self._generate_best(brief, services, options.quality, recorder)
            return
        if response is None:
            events = write_article(brief, services)
        else:
            events = render_response(response, services, user_images=brief.user_images, style=brief.style)
        for event in record(events, recorder):
            apply_event(self.view, event)
            if isinstance(event, ArticleDone):
                self.reload()
            yield event, self.view

    def _generate_best(
        self, brief: Brief, services: Services, candidates: int, recorder: ArticleRecorder
    ) -> Iterator[tuple[Event, ArticleView]]:
        """Quality mode: candidates stream into a scratch view; the chosen one is then recorded."""
        from studio.quality.scaling import CandidateEvent, ScalingDone, ScalingNote, write_best_article

        judge, image_judge = self.studio.services.judges()
        scratch: dict[int, ArticleView] = {}
        notes: list[str] = []
        chosen: Article | None = None
        started = time.monotonic()
        for item in write_best_article(brief, services, candidates=candidates, judge=judge, image_judge=image_judge):
            if isinstance(item, CandidateEvent):
                view = scratch.setdefault(item.candidate, ArticleView(brief=brief.text))
                apply_event(view, item.event)
                view.done = False  # only the chosen article is "done"
                view.note = f"quality mode: candidate {item.candidate + 1} of {candidates}"
                yield item.event, view
            elif isinstance(item, ScalingNote):
                notes.append(item.message)
            elif isinstance(item, ScalingDone):
                chosen = item.result.article
        assert chosen is not None, "write_best_article always ends with ScalingDone"
        self.view = ArticleView(brief=brief.text, user_images=list(brief.user_images))
        for event in record(replay_events(chosen, time.monotonic() - started), recorder):
            apply_event(self.view, event)
            if isinstance(event, ArticleDone):
                self.reload()
                self.view.note = "quality mode: " + "; ".join(notes)
            yield event, self.view

    # --- per-block actions --------------------------------------------------------------------
    def _article(self) -> tuple[int, Article]:
        if self.article_id is None or self.article is None:
            raise ValueError("no article is open: write one first")
        return self.article_id, self.article

    def regenerate(
        self,
        block_id: str,
        mode: Mode = "again",
        *,
        params: dict[str, Any] | None = None,
        source: str | None = None,
        description: str | None = None,
        seed: int | None = None,
    ) -> ArticleView:
        """A new version of one image block (see studio.app.regenerate); it becomes current."""
        article_id, article = self._article()
        style = str(repo.open_article(self.store, article_id).settings.get("style") or "")
        new = regenerate_image(
            article,
            block_id,
            self.services(),
            mode=mode,
            params=params,
            source=source,
            description=description,
            seed=seed,
            style=style,
        )
        r = new.result
        repo.add_image_version(
            self.store,
            article_id,
            block_id,
            source=new.source,
            description=new.description,
            params=new.params,
            status=new.status,
            error=None if new.status == "ok" else (r.error or "the tool returned no image"),
            image=r.image if new.status == "ok" else None,
            mime=r.mime,
            provenance={**r.provenance, "seed": r.provenance.get("seed", seed)} if seed is not None else r.provenance,
            seconds=r.seconds,
            instruction=new.instruction,
        )
        return self.reload()

    def fill_upload(self, block_id: str, data: bytes, *, name: str = "") -> ArticleView:
        """Fill an image block (a placeholder, or any image block) with the user's own image: a new
        version, status ok, provenance ``uploaded``; the call (source, description, params) is kept so
        the block can still be run later. Raises ValueError for bytes that are not a raster image."""
        article_id, article = self._article()
        block = article.block(block_id)
        if block.kind != "image":
            raise ValueError(f"block {block_id} is a text block: rewrite it instead")
        mime = sniff_mime(data)
        if mime is None:
            raise ValueError("the upload is not a PNG, JPEG, WebP or GIF image: choose an image file")
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValueError(f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB: choose a smaller image")
        assert isinstance(block, ImageBlock)
        repo.add_image_version(
            self.store,
            article_id,
            block_id,
            source=block.source or "search",
            description=block.description,
            params=block.params,
            status="ok",
            image=data,
            mime=mime,
            provenance={"uploaded": True, "file": " ".join(name.split())[:200], "filled": block.status},
            instruction="uploaded by the user",
        )
        return self.reload()

    def stale_edits(self, block_id: str) -> list[str]:
        """Edit blocks made from this block's image (re-run them after it changed)."""
        _, article = self._article()
        return [b.id for b in dependent_edits(article, block_id)]

    def rewrite(self, block_id: str, instruction: str = "", *, seed: int | None = None) -> ArticleView:
        article_id, article = self._article()
        text = rewrite_text(article, block_id, self.services(), instruction, seed=seed)
        repo.add_text_version(self.store, article_id, block_id, text, instruction=instruction or None)
        return self.reload()

    def accept(self, block_id: str, number: int | None = None) -> ArticleView:
        article_id, _ = self._article()
        repo.accept_version(self.store, article_id, block_id, number)
        return self.reload()

    def revert(self, block_id: str, number: int) -> ArticleView:
        article_id, _ = self._article()
        repo.revert_version(self.store, article_id, block_id, number)
        return self.reload()

    def versions(self, block_id: str) -> list[VersionInfo]:
        article_id, _ = self._article()
        return repo.list_versions(self.store, article_id, block_id)

    def rate(self, *, thumbs: int | None = None, stars: int | None = None, comment: str = "") -> None:
        article_id, _ = self._article()
        repo.rate_article(self.store, article_id, thumbs=thumbs, stars=stars, comment=comment)

    # --- export -------------------------------------------------------------------------------
    def export(self, fmt: str, out_dir: Path) -> Path:
        from studio.export import FORMATS, export_article

        _, article = self._article()
        out_dir.mkdir(parents=True, exist_ok=True)
        return export_article(article, fmt, out_dir / f"article-{self.article_id}{FORMATS[fmt]}")

    def export_preferences(self, out_dir: Path) -> Path:
        return export_preferences(self.store, out_dir)
