"""Wiring: Settings in, the backend, the available tools and the engine out.

The only place that turns settings into constructed tools and models, so the CLI, the UI and
the benchmarks all get the same studio. Tools that cannot work right now are left out, with
the reason (and how to turn them on) kept for the prompt, the UI and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.base import ChatBackend, ChatOptions
from studio.charts import ChartCoder
from studio.engine import Engine, EngineOptions
from studio.settings import Settings
from tools.base import Availability, Tool
from tools.params import SOURCES


def build_backend(settings: Settings) -> ChatBackend:
    """The chat backend named by STUDIO_BACKEND. Raises ConfigError / ModelUnavailable."""
    if settings.backend == "openai":
        from models.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(
            settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            connect_timeout_s=settings.openai_connect_timeout_s,
            read_timeout_s=settings.openai_read_timeout_s,
        )
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
    )


def build_tools(settings: Settings) -> dict[str, Tool]:
    """All enabled tools, constructed (cheap: heavy state such as pipelines loads on first run)."""
    tools: dict[str, Tool] = {}
    enabled = set(settings.tools_enabled)
    if "code" in enabled:
        from tools.code import CodeTool

        tools["code"] = CodeTool(
            timeout_s=settings.code_timeout_s,
            cpu_s=settings.code_cpu_s,
            memory_mb=settings.code_memory_mb,
            max_file_mb=settings.code_max_file_mb,
        )
    if "search" in enabled:
        from tools.search import SearchTool

        tools["search"] = SearchTool(
            search_timeout_s=settings.search_timeout_s,
            max_results=settings.search_max_results,
            download_timeout_s=settings.download_timeout_s,
            max_bytes=settings.download_max_bytes,
            max_pixels=settings.download_max_pixels,
            min_side=settings.download_min_side,
        )
    if "diffusion" in enabled:
        from tools.diffusion import DiffusionTool

        tools["diffusion"] = DiffusionTool(
            model=settings.diffusion_model,
            steps=settings.diffusion_steps,
            size=settings.diffusion_size,
            device=settings.device,
            allow_downloads=settings.allow_downloads,
        )
    if "edit" in enabled:
        from tools.edit import EditTool

        tools["edit"] = EditTool(
            model=settings.edit_model,
            steps=settings.edit_steps,
            size=settings.diffusion_size,
            device=settings.device,
            allow_downloads=settings.allow_downloads,
        )
    return tools


def check_availability(tools: dict[str, Tool]) -> dict[str, Availability]:
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


@dataclass
class Services:
    settings: Settings
    backend: ChatBackend
    tools: dict[str, Tool]
    availability: dict[str, Availability]
    small_model: bool
    _closed: bool = field(default=False, repr=False)

    def available_sources(self) -> list[str]:
        return [s for s in SOURCES if self.availability[s].ok]

    def off_reasons_by_source(self) -> dict[str, str | None]:
        return {s: None if a.ok else a.reason for s, a in self.availability.items()}

    @property
    def uses_grammar(self) -> bool:
        """GBNF only reaches llama.cpp servers: the embedded backend (vLLM names it differently)."""
        return self.settings.use_grammar and self.backend.name == "embedded"

    def engine(self, *, style: str = "") -> Engine:
        """An engine over the available tools; tools that are off fail with their reason."""
        on = {s: t for s, t in self.tools.items() if self.availability[s].ok}
        code_writer = None
        if self.small_model:
            options = ChatOptions(max_tokens=self.settings.chart_max_tokens, temperature=0.2)
            code_writer = ChartCoder(self.backend, options, use_grammar=self.settings.use_grammar)
        return Engine(
            on,
            options=EngineOptions(max_concurrent_tools=self.settings.max_concurrent_tools, style=style),
            code_writer=code_writer,
            off_reasons={s: a.reason for s, a in self.availability.items() if not a.ok},
        )

    def describe_tools(self) -> list[str]:
        return [f"{s}: on" if a.ok else f"{s}: off - {a.reason}" for s, a in self.availability.items()]

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
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    if backend is None:
        backend = build_backend(settings)
    tools = build_tools(settings)
    availability = check_availability(tools)
    return Services(
        settings=settings,
        backend=backend,
        tools=tools,
        availability=availability,
        small_model=backend.name == "embedded",
    )
