"""Wiring: Settings in; the backend, the tools, the tool runner, the chart coder, the engine and
the judges out.

The only module that turns Settings into constructed objects, so the CLI, the UI, sessions, the
benchmarks and quality mode all get the same studio. Nothing below the app layer reads Settings.
Tools that cannot work right now are left out, with the reason (and how to turn them on) kept
for the prompt, the UI and the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.base import ChatBackend, ChatOptions, Penalties, capabilities_of
from models.errors import ConfigError
from models.judge import Judge
from models.openai_compat import OpenAICompatBackend
from models.vocab import Source
from studio.app.base_urls import is_configured
from studio.app.settings import Settings
from studio.core.agent import WriterLimits
from studio.core.brief_plan import BriefPlan
from studio.core.captions import fix_copied_caption
from studio.core.charts import ChartCoder, ChartWritingTool
from studio.core.engine import Engine, EngineOptions
from studio.core.protocol import ToolCall
from studio.core.routing import PictureRouter, Routed
from studio.core.runner import ToolRunner
from tools.base import Availability, Tool
from tools.params import SOURCES

if TYPE_CHECKING:
    from models.embedded import DraftModel

log = logging.getLogger(__name__)


def _same_server(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def openai_backend(settings: Settings, base_url: str | None = None, model: str | None = None) -> OpenAICompatBackend:
    """An OpenAI-compatible client (vLLM, a router, any gateway).

    The configured API key goes only to the configured base URL: a client for another URL (the
    UI's "test connection", a per-article server) gets no key, so typing a URL can never send
    the studio's key to it."""
    url = base_url or settings.openai_base_url
    if is_configured(url, settings.openai_base_url):  # also as the page shows it (credentials removed)
        url = settings.openai_base_url
    key = settings.openai_api_key if _same_server(url, settings.openai_base_url) else "EMPTY"
    return OpenAICompatBackend(
        url,
        model=settings.openai_model if model is None else model,
        api_key=key,
        connect_timeout_s=settings.openai_connect_timeout_s,
        read_timeout_s=settings.openai_read_timeout_s,
        grammar_field=settings.openai_grammar_field,
        sampler_fields=settings.openai_sampler_fields,
        chat_template_kwargs=(
            None if settings.openai_enable_thinking is None else {"enable_thinking": settings.openai_enable_thinking}
        ),
    )


def build_backend(settings: Settings) -> ChatBackend:
    """The chat backend named by STUDIO_BACKEND. Raises ConfigError / ModelUnavailable."""
    if settings.backend == "openai":
        return openai_backend(settings)
    from models.embedded import EmbeddedBackend
    from models.weights import resolve_gguf

    gguf = resolve_gguf(
        settings.embedded_weights, settings.embedded_gguf, settings.data_dir / "models", settings.allow_downloads
    )
    return EmbeddedBackend(
        gguf,
        threads=settings.embedded_threads,
        ctx=settings.embedded_ctx,
        read_timeout_s=settings.embedded_read_timeout_s,
        parallel=settings.embedded_parallel,
        gpu_layers=settings.embedded_gpu_layers,
        draft=draft_model(settings),
    )


def draft_model(settings: Settings) -> DraftModel | None:
    """The embedded writer's draft model for speculative decoding, or None when it is off."""
    from models.embedded import DraftModel
    from models.weights import resolve_gguf

    if settings.embedded_draft_gguf is not None:
        path = Path(settings.embedded_draft_gguf)
        if not path.is_file():
            raise ConfigError(f"STUDIO_EMBEDDED_DRAFT_GGUF points at {path}, which is not an existing file")
    elif settings.embedded_draft_weights is not None:
        path = resolve_gguf(
            settings.embedded_draft_weights, None, settings.data_dir / "models", settings.allow_downloads
        )
    else:
        return None
    return DraftModel(
        path,
        n_max=settings.embedded_draft_max,
        n_min=settings.embedded_draft_min,
        p_min=settings.embedded_draft_p_min,
    )


def max_tokens_for(settings: Settings, backend: ChatBackend) -> int:
    """STUDIO_MAX_TOKENS, or the default the backend that writes the article declares."""
    if settings.max_tokens is not None:
        return settings.max_tokens
    return capabilities_of(backend).default_max_tokens


def build_tools(settings: Settings) -> dict[str, Tool[Any]]:
    """All enabled tools, constructed (cheap: heavy state such as pipelines loads on first run)."""
    tools: dict[str, Tool[Any]] = {}
    enabled = set(settings.tools_enabled)
    if Source.CODE in enabled:
        from tools.code import CodeTool

        tools[Source.CODE] = CodeTool(
            timeout_s=settings.code_timeout_s,
            cpu_s=settings.code_cpu_s,
            memory_mb=settings.code_memory_mb,
            max_file_mb=settings.code_max_file_mb,
            weak_sandbox=settings.code_weak_sandbox,
            max_pixels=settings.download_max_pixels,
            max_concurrent=settings.max_concurrent_tools,
        )
    if Source.SEARCH in enabled:
        tools[Source.SEARCH] = _search_tool(settings)
    if Source.DIFFUSION in enabled:
        tools[Source.DIFFUSION] = _diffusion_tool(settings)
    if Source.EDIT in enabled:
        tools[Source.EDIT] = _edit_tool(settings)
    return tools


def _search_tool(settings: Settings) -> Tool[Any]:
    """The search tool over STUDIO_SEARCH_PROVIDER (ddgs by default), its licence filter, and the
    downloader's address policy (private addresses refused except STUDIO_DOWNLOAD_ALLOWED_HOSTS)."""
    from urllib.parse import urlsplit

    from tools.search import SearchTool, ddgs_searcher
    from tools.search_providers import build_searcher

    names = [p.strip().lower() for p in settings.search_provider if p.strip()]
    common: dict[str, Any] = {
        "search_timeout_s": settings.search_timeout_s,
        "max_results": settings.search_max_results,
        "download_timeout_s": settings.download_timeout_s,
        "max_bytes": settings.download_max_bytes,
        "max_pixels": settings.download_max_pixels,
        "min_side": settings.download_min_side,
        "allow_private": settings.allow_private_addresses,
        "allowed_hosts": settings.download_allowed_hosts,
    }
    if names in ([], ["ddgs"]) and settings.search_licences in (None, "any"):
        return SearchTool(**common)  # today's default, unchanged
    searcher, mode, probes = build_searcher(
        names,
        timeout_s=settings.search_timeout_s,
        licences=settings.search_licences,
        openverse_url=settings.openverse_url,
        wikimedia_url=settings.wikimedia_url,
        searxng_url=settings.searxng_url,
        serpapi_url=settings.serpapi_url,
        serpapi_key=settings.serpapi_key,
        ddgs=lambda: ddgs_searcher(settings.search_timeout_s),
    )
    first = urlsplit(probes[0])
    port = first.port or (443 if first.scheme == "https" else 80)
    log.info("image search: %s, licences %s", ", ".join(names), mode)
    return SearchTool(**common, searcher=searcher, probe_address=(first.hostname or "", port), licence_mode=mode)


def url_image_fetcher(settings: Settings) -> Any:
    """``fetch(url) -> tools.download.DownloadedImage`` for an image the writer gives by URL: the
    search's safe downloader with its address policy, size, pixel and time limits
    (STUDIO_DOWNLOAD_*; private addresses refused except STUDIO_DOWNLOAD_ALLOWED_HOSTS). No
    smallest side: the writer chose this picture."""
    from functools import partial

    from tools.download import fetch_image

    return partial(
        fetch_image,
        timeout_s=settings.download_timeout_s,
        max_bytes=settings.download_max_bytes,
        max_pixels=settings.download_max_pixels,
        min_side=1,
        allow_private=settings.allow_private_addresses,
        allowed_hosts=settings.download_allowed_hosts,
    )


def image_servers(settings: Settings, kind: str) -> Any:
    """The ``ImageServers`` for STUDIO_DIFFUSION_SERVERS or STUDIO_EDIT_SERVERS, or None when the
    list is empty (the in-process diffusers pipeline is used)."""
    urls = settings.diffusion_servers if kind == Source.DIFFUSION else settings.edit_servers
    if not urls:
        return None
    from models.image_api import ImageServers

    return ImageServers(
        urls,
        api_key=settings.images_api_key,
        model=settings.diffusion_api_model if kind == Source.DIFFUSION else settings.edit_api_model,
        kind=settings.images_api_kind,
        timeout_s=settings.images_timeout_s,
        connect_timeout_s=settings.images_connect_timeout_s,
        cooldown_s=settings.images_cooldown_s,
        setting="STUDIO_DIFFUSION_SERVERS" if kind == Source.DIFFUSION else "STUDIO_EDIT_SERVERS",
    )


def _if_set(settings: Settings, name: str) -> Any:
    """A setting's value when the operator set it, else None: the in-process defaults (2 steps,
    512 px: right for sd-turbo) are not sent to image servers, whose models have their own."""
    return getattr(settings, name) if name in settings.model_fields_set else None


def _diffusion_tool(settings: Settings) -> Tool[Any]:
    servers = image_servers(settings, Source.DIFFUSION)
    if servers is not None:
        from tools.image_servers import ServerDiffusionTool

        return ServerDiffusionTool(
            servers,
            steps=_if_set(settings, "diffusion_steps"),
            size=_if_set(settings, "diffusion_size"),
            guidance=settings.diffusion_guidance,
        )
    from tools.diffusion import DiffusionTool

    return DiffusionTool(
        model=settings.diffusion_model,
        steps=settings.diffusion_steps,
        size=settings.diffusion_size,
        guidance=settings.diffusion_guidance,
        device=settings.device,
        offload=settings.diffusion_offload,
        allow_downloads=settings.allow_downloads,
        warm_on_start=settings.warm_image_models,
    )


def _edit_tool(settings: Settings) -> Tool[Any]:
    servers = image_servers(settings, Source.EDIT)
    if servers is not None:
        from tools.image_servers import ServerEditTool

        return ServerEditTool(
            servers,
            steps=_if_set(settings, "edit_steps"),
            size=_if_set(settings, "diffusion_size"),
            guidance=settings.edit_guidance,
        )
    from tools.edit import EditTool

    return EditTool(
        model=settings.edit_model,
        steps=settings.edit_steps,
        size=settings.diffusion_size,
        guidance=settings.edit_guidance,
        device=settings.device,
        offload=settings.diffusion_offload,
        allow_downloads=settings.allow_downloads,
        warm_on_start=settings.warm_image_models,
    )


def check_availability(tools: dict[str, Tool[Any]]) -> dict[str, Availability]:
    """Which sources can work right now; an absent tool is off with the setting to change."""
    status: dict[str, Availability] = {}
    for source in SOURCES:
        tool = tools.get(source)
        if tool is None:
            status[source] = Availability.off(f"disabled: add '{source}' to STUDIO_TOOLS_ENABLED")
            continue
        try:
            status[source] = tool.availability()
        except Exception as exc:  # a broken check must not take the studio down
            status[source] = Availability.off(f"availability check failed: {exc}")
    return status


def build_judges(settings: Settings) -> tuple[Judge | None, Judge | None]:
    """(text judge, image judge) from STUDIO_JUDGE_* / STUDIO_IMAGE_JUDGE_*; (None, None) when no
    judge URL is set. The image judge defaults to the text judge's endpoint; where the endpoint is
    the same and nothing else differs, both are one Judge (one connection pool)."""
    base = settings.judge_base_url
    common: dict[str, Any] = {
        "timeout_s": settings.judge_timeout_s,
        "retries": settings.judge_retries,
        "connect_timeout_s": settings.judge_connect_timeout_s,
    }
    text = Judge(base, settings.judge_model, settings.judge_api_key, **common) if base else None
    if (settings.image_judge_base_url or "").lower() in {"none", "off"}:  # a text-only judge endpoint
        return text, None
    image_base = settings.image_judge_base_url or base
    if not image_base:
        return text, None
    same_endpoint = image_base == base
    model = settings.image_judge_model
    if model is None:
        model = settings.judge_model if same_endpoint else ""
    key = settings.image_judge_api_key if settings.image_judge_api_key is not None else settings.judge_api_key
    if text is not None and same_endpoint and model == settings.judge_model and key == settings.judge_api_key:
        return text, text
    prefix = "STUDIO_IMAGE_JUDGE_" if settings.image_judge_base_url else "STUDIO_JUDGE_"
    return text, Judge(image_base, model, key, settings_prefix=prefix, **common)


@dataclass
class Services:
    """The constructed studio. Satisfies ``studio.core.agent.WriterServices`` (what the agent,
    quality mode and the benchmark need), so those layers never see Settings."""

    settings: Settings
    backend: ChatBackend
    tools: dict[str, Tool[Any]]
    availability: dict[str, Availability]
    # The backend does not write chart code in its tags (``Capabilities.writes_chart_code``): its
    # tags leave it empty and a second call writes it (see studio.core.charts).
    two_phase_code: bool
    # start-up problems that do not stop the studio but must not go unnoticed (logged at WARNING)
    warnings: list[str] = field(default_factory=list)
    _closed: bool = field(default=False, repr=False)

    def available_sources(self) -> list[str]:
        return [s for s in SOURCES if self.availability[s].ok]

    def off_reasons_by_source(self) -> dict[str, str | None]:
        return {s: None if a.ok else a.reason for s, a in self.availability.items()}

    @property
    def uses_grammar(self) -> bool:
        """A backend that needs the grammar (a small local model): STUDIO_USE_GRAMMAR (on by
        default). One that merely accepts it (an OpenAI-compatible server): STUDIO_OPENAI_GRAMMAR
        (off by default; the client sends it under STUDIO_OPENAI_GRAMMAR_FIELD, vLLM's
        structured_outputs.grammar)."""
        capabilities = capabilities_of(self.backend)
        if capabilities.needs_grammar:
            return self.settings.use_grammar
        return self.settings.openai_grammar and capabilities.accepts_grammar

    @property
    def limits(self) -> WriterLimits:
        s = self.settings
        return WriterLimits(
            s.max_images,
            max_tokens_for(s, self.backend),
            s.temperature,
            s.max_paragraph_chars,
            s.max_continuations,
            s.writer_seed,
            penalties=Penalties(
                s.dry_multiplier, s.dry_base, s.dry_allowed_length, s.repeat_penalty, s.presence_penalty
            ),
            guards=s.stream_guards,
            outline_min_sections=s.outline_min_sections,
        )

    def chart_coder(self) -> ChartCoder:
        """The one ChartCoder construction: chart_max_tokens, and the code grammar where it reaches."""
        options = ChatOptions(max_tokens=self.settings.chart_max_tokens, temperature=0.2)
        return ChartCoder(self.backend, options, use_grammar=self.uses_grammar)

    def runner(self) -> ToolRunner:
        """The tool runner over the tools that are on. Code is always wrapped by the chart writer:
        it writes the code of an empty call (two-phase) and, for any chart, records where the
        numbers came from and marks made-up numbers illustrative."""
        on: dict[str, Tool[Any]] = {s: t for s, t in self.tools.items() if self.availability[s].ok}
        if Source.CODE in on:
            on[Source.CODE] = ChartWritingTool(on[Source.CODE], self.chart_coder())
        off = {s: a.reason for s, a in self.availability.items() if not a.ok}
        return ToolRunner(on, off_reasons=off, timeout_s=self.settings.tool_timeout_s)

    def engine(self, *, style: str = "", plan: BriefPlan | None = None, written: Sequence[str] = ()) -> Engine:
        """An engine over the runner; tools that are off fail with their reason. The routing check
        (STUDIO_ROUTE_PICTURES) sends a tag to the tool its description asks for, among those on;
        ``plan``: the brief's plan (an edit can be routed to the one image the user attached);
        ``written``: the sources the article already has (a continuation of it)."""
        on = [s for s, a in self.availability.items() if a.ok]
        router = PictureRouter(
            on,
            user_images=plan.user_images if plan else 0,
            drawn=plan.drawn if plan else False,
            fiction=plan.fiction if plan else False,
            named=plan.kinds if plan else (),
        )
        router.written.update(written)
        routing = self.settings.route_pictures

        def route(call: ToolCall) -> ToolCall | Routed:
            call = fix_copied_caption(call)
            return router(call) if routing else call

        options = EngineOptions(max_concurrent_tools=self.settings.max_concurrent_tools, style=style, route=route)
        return Engine(self.runner(), options=options)

    def judges(self) -> tuple[Judge | None, Judge | None]:
        return build_judges(self.settings)

    def describe_tools(self) -> list[str]:
        """One line per tool; a tool that is on may say more (its image servers and their models)."""
        return [
            (f"{s}: on" + (f" - {a.reason}" if a.reason else "")) if a.ok else f"{s}: off - {a.reason}"
            for s, a in self.availability.items()
        ]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for tool in self.tools.values():
            tool.close()
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()


def build_services(settings: Settings, *, backend: ChatBackend | None = None) -> Services:
    """Construct everything once. ``backend`` overrides the one named by settings (tests)."""
    Path(settings.data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)  # the store makes it 0700
    if backend is None:
        backend = build_backend(settings)
    tools = build_tools(settings)
    availability = check_availability(tools)
    return Services(
        settings=settings,
        backend=backend,
        tools=tools,
        availability=availability,
        two_phase_code=not capabilities_of(backend).writes_chart_code,
        warnings=startup_warnings(settings, tools),
    )


def image_servers_list(settings: Settings, kind: str) -> list[str]:
    return settings.diffusion_servers if kind == Source.DIFFUSION else settings.edit_servers


def startup_warnings(settings: Settings, tools: dict[str, Tool[Any]]) -> list[str]:
    """Loud start-up warnings: a GPU that diffusion will not use because torch is CPU-only."""
    warnings: list[str] = []
    in_process = {s for s in (Source.DIFFUSION, Source.EDIT) if s in tools and image_servers_list(settings, s) == []}
    if settings.device in {"auto", "cuda"} and in_process:
        from models.image_weights import cpu_torch_on_gpu_machine

        problem = cpu_torch_on_gpu_machine()
        if problem:
            warnings.append(problem)
    for warning in warnings:
        log.warning("%s", "!" * 20 + " " + warning)
    return warnings
