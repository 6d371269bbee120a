"""Per-session controller: one browser tab (or API client) working on one project.

``Studio`` holds what all sessions share (settings, the store, the services, extra chat
backends, the articles being written); it is thread-safe. ``Session`` holds one session's state
(its project, its article, the view) for one request at a time (one per tab in ``gr.State``).

Every change goes to the store first and the session then reloads the article from it.

Ownership: a ``Session`` belongs to one user (``LOCAL_USER`` while accounts are off) and passes
that user as ``owner`` to every repository call, so every UI handler and API endpoint sees and
changes only that user's projects; another user's id is "not found". Only an admin's
preference export covers every user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from models.base import ChatBackend, capabilities_of
from models.errors import NotFound, Refused, StudioError
from models.text import StreamText, valid_text
from models.vocab import LISTED_CUT_OFF, ArticleStatus
from storage import processes, repo
from storage.db import Store, open_store
from storage.pref_export import ExportCounts, PreferenceExport, count_preferences, export_preferences
from storage.pref_rows import Scope
from storage.recorder import ArticleRecorder
from storage.schema import LOCAL_USER
from storage.views import ProjectInfo
from studio.app.accounts import UsersFile
from studio.app.base_urls import check_base_url, is_configured
from studio.app.copying import copy_html, copy_markdown
from studio.app.editing import BlockActions
from studio.app.revising import RevisionActions
from studio.app.running import RunningArticles
from studio.app.services import Services, build_services, openai_backend
from studio.app.settings import Settings
from studio.app.store_adapter import VersionFacts, file_stem, load_article, record, version_view, writer_record
from studio.app.suggesting import SuggestActions
from studio.app.taste_session import TasteActions
from studio.app.ui_model import ArticleView, apply_event, view_from_article
from studio.core.agent import Brief, render_response, write_article
from studio.core.article import Article
from studio.core.events import ArticleDone, Event, replay_events
from studio.export.publish_check import CheckItem, publish_check
from studio.export.sources import sniff_mime
from tools.base import Availability
from tools.params import SOURCES

PrefScope = Literal["article", "project", "all"]
log = logging.getLogger(__name__)
MAX_BACKENDS = 8  # clients for other servers/models kept for reuse (each holds a connection pool)


class Studio(RunningArticles):
    """Shared by every session of one app (thread-safe)."""

    def __init__(self, settings: Settings, *, services: Services | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self.services = services or build_services(settings)
        self.store = store or open_store(settings.database_url, Path(settings.data_dir))
        self.users = UsersFile(settings.users_path()) if settings.auth == "users" else None
        # Other app processes may share the store: announce this one, interrupt only the articles
        # of writers that are gone (storage.processes), and keep doing so while running.
        self.process = processes.register(self.store)
        processes.reap(self.store, settings.process_stale_s)
        repo.purge_deleted_projects(self.store)  # projects deleted more than 30 days ago go for good
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="studio-heartbeat", daemon=True)
        self._beat.start()
        for tool in self.services.tools.values():
            # Start warm workers (the chart sandbox) now, so the first chart does not pay the
            # interpreter and matplotlib start-up.
            warm = getattr(tool, "warm", None)
            if callable(warm):
                with contextlib.suppress(StudioError):  # it starts on first use then, and says why there
                    warm()
        self._backends: OrderedDict[tuple[str, str], ChatBackend] = OrderedDict()  # LRU, MAX_BACKENDS
        self._lock = threading.Lock()
        self._running: dict[int, threading.Event] = {}  # article id -> its stop flag, while written

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.settings.process_heartbeat_s):
            try:
                processes.heartbeat(self.store, self.process)
                processes.reap(self.store, self.settings.process_stale_s)
            except StudioError as exc:  # the database is away for a moment: try again next beat
                log.warning("heartbeat failed: %s", exc)

    def is_admin(self, user: str) -> bool:
        """May export every user's preference data (the single local user may: it is everyone)."""
        if user == LOCAL_USER or user in self.settings.admin_users:
            return True
        return self.users is not None and self.users.is_admin(user)

    def _is_own_server(self, base_url: str) -> bool:
        own = getattr(self.services.backend, "base_url", None)
        if own is None:
            return False
        configured = self.settings.openai_base_url
        return bool(
            own == base_url.rstrip("/") or (is_configured(base_url, configured) and own == configured.rstrip("/"))
        )

    def backend_for(self, kind: str = "", base_url: str = "", model: str = "") -> ChatBackend:
        """The default backend, or a shared OpenAI-compatible client for another server/model."""
        if (
            kind != "openai"
            or not base_url
            # the studio's own backend already talks to that server (its configured model), typed
            # as configured or as the page shows it (credentials removed: base_urls)
            or (not model and self._is_own_server(base_url))
        ):
            return self.services.backend
        with self._lock:
            key = (base_url.rstrip("/"), model)
            if key not in self._backends:
                self._backends[key] = openai_backend(self.settings, base_url, model)
            self._backends.move_to_end(key)
            while len(self._backends) > MAX_BACKENDS:
                # forgotten, not closed: an article still streaming from it keeps its reference
                self._backends.popitem(last=False)
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
            self.services,
            backend=chosen,
            availability=availability,
            two_phase_code=not capabilities_of(chosen).writes_chart_code,
        )

    def close(self) -> None:
        self._stop.set()
        self._beat.join(timeout=5)
        with contextlib.suppress(StudioError):
            processes.unregister(self.store, self.process)
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


class Session(BlockActions, TasteActions, RevisionActions, SuggestActions):
    """One user's working state (one browser tab, one API client). Not shared between sessions."""

    def __init__(self, studio: Studio, user: str = LOCAL_USER) -> None:
        self.studio = studio
        self.user = user
        self.project_id: int | None = None
        self.article_id: int | None = None
        self.article: Article | None = None
        self.facts: dict[str, VersionFacts] = {}
        self.view = ArticleView()
        self.options = RunOptions()
        self.writing = False  # this session is writing its article now

    @property
    def store(self) -> Store:
        return self.studio.store

    # --- projects -----------------------------------------------------------------------------
    def projects(self) -> list[ProjectInfo]:
        return repo.list_projects(self.store, self.user)

    def new_project(self, name: str = "") -> ProjectInfo:
        name = name.strip() or time.strftime("Untitled %Y-%m-%d %H:%M:%S")
        project = repo.create_project(self.store, name, owner=self.user)
        self._set_project(project.id, None)
        return project

    def open_project(self, project_id: int) -> ArticleView:
        repo.get_project(self.store, project_id, self.user)  # NotFound when it is gone (or not theirs)
        latest = repo.latest_article(self.store, project_id, self.user)
        self._set_project(project_id, latest.id if latest else None)
        return self.view

    def open_article(self, article_id: int, project_id: int | None = None) -> ArticleView:
        """Open one article (NotFound when it, or its project, is gone or does not match)."""
        info = repo.open_article(self.store, article_id, self.user)
        if project_id is not None and info.project_id != project_id:
            raise NotFound(f"article {article_id} is not in project {project_id}")
        repo.get_project(self.store, info.project_id, self.user)
        self._set_project(info.project_id, article_id)
        return self.view

    def articles(self) -> list[tuple[int, str, str]]:
        """(id, label, status) of the open project's articles, newest first. The label is the id
        (the one in the page's URL) and the title (its first heading, else the brief); an article
        stopped before anything was written is labelled "(empty)". Status 'cut off' for an
        article the model ended at its token limit."""
        if self.project_id is None:
            return []
        out = []
        for info in repo.list_articles(self.store, self.project_id, self.user):
            cut_off = info.status == ArticleStatus.DONE and info.settings.get("cut_off")
            status = LISTED_CUT_OFF if cut_off else info.status
            written = any((b.current.text or "").strip() if b.kind == "text" else True for b in info.blocks)
            label = repo.article_title(info)[:60] if written or status == ArticleStatus.RUNNING else "(empty)"
            out.append((info.id, f"{info.id}. {label}", status))
        return out[::-1]

    def rename(self, name: str) -> ProjectInfo:
        return repo.rename_project(self.store, self._project(), name, self.user)

    def duplicate(self, name: str | None = None) -> ProjectInfo:
        copy = repo.duplicate_project(self.store, self._project(), name, self.user)
        self.open_project(copy.id)
        return copy

    def delete(self) -> ProjectInfo:
        """Hide the open project (soft delete: ``restore`` brings it back)."""
        info = repo.delete_project(self.store, self._project(), self.user)
        self._set_project(None, None)
        return info

    def restore(self, project_id: int) -> ProjectInfo:
        info = repo.restore_project(self.store, project_id, self.user)
        self.open_project(project_id)
        return info

    def _project(self) -> int:
        if self.project_id is None:
            raise Refused("no project is open: create or open one first")
        return self.project_id

    def _set_project(self, project_id: int | None, article_id: int | None) -> None:
        self.project_id, self.article_id = project_id, article_id
        self.article, self.facts, self.view = None, {}, ArticleView(project_id=project_id)
        if article_id is not None:
            self.reload()

    def reload(self) -> ArticleView:
        """Read the article back from the store (the truth) and rebuild the view."""
        if self.article_id is None:
            return self.view
        info, self.article, self.facts = load_article(self.store, self.article_id, self.user)
        histories = repo.article_versions(self.store, self.article_id, self.user)
        view = view_from_article(self.article)
        view.project_id, view.article_id, view.status = info.project_id, info.id, info.status
        view.elapsed = info.seconds
        view.stopped = info.status == ArticleStatus.INTERRUPTED
        view.cut_off = bool(info.settings.get("cut_off"))
        if info.status == ArticleStatus.RUNNING:
            view.done = False
            view.elsewhere = not self.writing
            view.started = info.created_at.timestamp()
        for block, stored in zip(view.blocks, info.blocks, strict=True):
            block.version, block.version_count = stored.current_version, stored.version_count
            block.accepted = stored.accepted_version is not None and stored.accepted_version == stored.current_version
            block.candidate = version_view(stored.candidate) if stored.candidate else None
            block.history = [version_view(v) for v in histories.get(block.id, [])]
        self.history_labels(view)
        self.view = view
        return view

    # --- writing ------------------------------------------------------------------------------
    def check_options(self, options: RunOptions) -> None:
        """BaseUrlRefused where this user may not use the options' model server (base_urls)."""
        if options.backend == "openai":
            s = self.studio.settings
            check_base_url(options.base_url, s.openai_base_url, admin=self.studio.is_admin(self.user),
                           allow_custom=s.allow_custom_base_url)  # fmt: skip

    def services(self, options: RunOptions | None = None) -> Services:
        o = options or self.options
        self.check_options(o)
        backend = self.studio.backend_for(o.backend, o.base_url, o.model)
        return self.studio.services_for(backend, o.tools)

    def check_brief(self, text: str) -> None:
        """Refused, with the limit, when the brief is longer than ``max_brief_chars``."""
        limit = self.studio.settings.max_brief_chars
        if len(text) > limit:
            raise Refused(
                f"the brief is {len(text):,} characters long; the limit is {limit:,} "
                "(STUDIO_MAX_BRIEF_CHARS). Shorten it to what the article is about; long source "
                "material can be pasted as a response in render mode"
            )

    def generate(
        self,
        brief: Brief,
        options: RunOptions | None = None,
        *,
        response: str | None = None,
        chunks: Iterable[str] | None = None,
        response_source: str = "",
    ) -> Iterator[tuple[Event | None, ArticleView]]:
        """Write a new article into the open project (a new one named after the brief if none is);
        the project's other articles stay as they are.

        ``response``: an existing LLM-I response to execute instead of asking the model (the
        CLI's ``render``; evaluations, tests), optionally in ``chunks`` as a model would stream
        it; ``response_source``: where the user says it came from (kept as its writer's model).
        Yields ``(None, view)`` at once (the article exists, nothing is written yet), then
        each event with the view after it; every event is saved before it is yielded. Any tab
        can stop it with ``Studio.stop(article_id)``.
        """
        options = self.options = options or self.options  # later edits and the page use this run's backend
        if response is not None:  # a pasted response: valid Unicode before it is parsed (models.text)
            response = valid_text(response)
        if chunks is not None:
            chunks = _valid_chunks(chunks)
        if response is None:  # render mode sends no brief to a model
            self.check_brief(brief.text)
        if self.project_id is None:
            self.new_project(" ".join(brief.text.split())[:60] or "Untitled")
        services = self.services(options)
        settings = writer_record(
            brief, services, response=response, quality=options.quality, response_source=response_source
        )
        recorder = ArticleRecorder(
            self.store,
            self._project(),
            brief=brief.text,
            input_images=[(data, sniff_mime(data) or "image/png") for data in brief.user_images],
            settings=settings,
            owner=self.user,
        )
        self.article_id, self.facts, self.article = recorder.article_id, {}, None
        self.view = ArticleView(
            brief=brief.text,
            user_images=list(brief.user_images),
            project_id=self.project_id,
            article_id=self.article_id,
            started=time.time(),
        )
        stop = self.studio.start_writing(recorder.article_id)
        self.writing = True
        try:
            yield None, self.view
            if response is None and options.quality > 1:
                yield from self._generate_best(brief, services, options.quality, recorder)
                return
            if response is None:
                events = write_article(brief, services, stop=stop)
            else:
                events = render_response(
                    response,
                    services,
                    user_images=brief.user_images,
                    style=brief.style,
                    stop=stop,
                    chunks=chunks,
                    brief=brief.text,
                )
            yield from self.follow_recorded(events, recorder)
        finally:
            self.writing = False
            self.studio.finish_writing(recorder.article_id)

    def follow_recorded(
        self, events: Iterable[Event], recorder: ArticleRecorder
    ) -> Iterator[tuple[Event, ArticleView]]:
        """Record each event, fold it into this tab's view and pass both on; at the end the view
        is read back from the store (the stored article is what the tab shows)."""
        for event in record(events, recorder):
            apply_event(self.view, event)
            if isinstance(event, ArticleDone):
                self.writing = False
                self.reload()
            yield event, self.view

    def _generate_best(
        self, brief: Brief, services: Services, candidates: int, recorder: ArticleRecorder
    ) -> Iterator[tuple[Event, ArticleView]]:
        """Quality mode: candidates stream into a scratch view; the chosen one is then recorded."""
        from studio.quality.scaling import CandidateEvent, ScalingDone, ScalingNote, write_best_article

        judge, image_judge = self.studio.services.judges()
        taste, taste_why = self.taste_model()  # None when there is none or it does not beat chance
        scratch: dict[int, ArticleView] = {}
        notes: list[str] = []
        chosen: Article | None = None
        started = time.monotonic()
        if taste is None and self.taste_store().latest() is not None:
            notes.append(taste_why)  # a model exists but is not used: say so
        best = write_best_article(
            brief, services, candidates=candidates, judge=judge, image_judge=image_judge, taste=taste
        )
        for item in best:
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

    # --- article-wide ----------------------------------------------------------------------
    def rate(self, *, thumbs: int | None = None, stars: int | None = None, comment: str = "") -> None:
        article_id, _ = self._article()
        repo.rate_article(self.store, article_id, thumbs=thumbs, stars=stars, comment=comment, owner=self.user)

    # --- export -------------------------------------------------------------------------------
    def title(self) -> str:
        if self.article_id is None:
            return ""
        return repo.article_title(repo.open_article(self.store, self.article_id, self.user))

    def export(self, fmt: str, out_dir: Path, *, appendix: bool = True, include_unfinished: bool = False) -> Path:
        """The open article as ``fmt``, in a file named after its title (placeholders and failed
        images left out unless ``include_unfinished``; see ``publish_check`` for what to fix first)."""
        from studio.export import FORMATS, export_article

        _, article = self._article()
        out_dir.mkdir(parents=True, exist_ok=True)
        name = file_stem(self.title()) or f"article-{self.article_id}"
        path = out_dir / f"{name}{FORMATS[fmt]}"
        return export_article(article, fmt, path, appendix=appendix, include_unfinished=include_unfinished)

    def preference_scope(self, scope: PrefScope = "project") -> Scope:
        """``article``: the open article; ``project``: the open project; ``all``: every project.
        Always this user's events only; an admin's ``all`` covers every user (rows name their user)."""
        owner = None if self.studio.is_admin(self.user) else self.user
        if scope == "article":
            return Scope(article_id=self._article()[0], owner=owner)
        if scope == "project":
            return Scope(project_id=self._project(), owner=owner)
        if scope == "all":
            return Scope(owner=owner)
        raise Refused(f"export scope must be 'article', 'project' or 'all', got {scope!r}")

    def preference_counts(self, scope: PrefScope = "project", *, keep_identical: bool = False) -> ExportCounts:
        return count_preferences(self.store, self.preference_scope(scope), keep_identical=keep_identical)

    def export_preferences(
        self, out_dir: Path, scope: PrefScope = "project", *, keep_identical: bool = False
    ) -> PreferenceExport:
        """The preference data of the open article / project / all, as a TRL dataset directory; this
        user's taste model and its training report go beside it (``taste-model/``)."""
        result = export_preferences(self.store, out_dir, self.preference_scope(scope), keep_identical=keep_identical)
        self.taste_store().export_to(result.out_dir)
        return result

    def markdown(self, base_url: str | None = None) -> str:
        """The open article as self-contained Markdown (images as data URIs, or as absolute
        URLs of this studio when ``base_url`` is given), for copying."""
        _, article = self._article()
        return copy_markdown(article, base_url)

    def rich_text(self, base_url: str | None = None) -> str:
        """The open article as an HTML fragment for the clipboard (images as in ``markdown``)."""
        _, article = self._article()
        return copy_html(article, base_url)

    def publish_check(self) -> list[CheckItem]:
        """What to look at before publishing the open article (``studio.export.publish_check``)."""
        _, article = self._article()
        return publish_check(article)


def _valid_chunks(chunks: Iterable[str]) -> Iterator[str]:
    text = StreamText()
    for chunk in chunks:
        if valid := text.feed(chunk):
            yield valid
    if tail := text.flush():
        yield tail
