"""Tokens per second of the article writer, measured by the harness around the writer's backend.

``CountingBackend`` wraps a chat backend and counts the chunks of every stream and the seconds
from each request to its last chunk. llama.cpp's server (the embedded backend) and vLLM stream
one token per chunk, so chunks are tokens there; a server that batches tokens in a chunk counts
fewer (the figure is then a lower bound). ``CountedServices`` hands the agent the wrapped backend
for the article (outline and sections included) while the tools, the chart writer among them,
keep the plain one: the figure is the writer's alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.base import Capabilities, ChatBackend, ChatOptions, FinishStream, Message, capabilities_of
from studio.core.agent import WriterLimits
from studio.core.brief_plan import BriefPlan
from studio.core.charts import ChartCoder
from studio.core.engine import Engine
from studio.quality.polish import QualityServices


@dataclass
class StreamTally:
    tokens: int = 0
    seconds: float = 0.0  # request sent to last chunk, summed over the requests
    requests: int = 0

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 and self.tokens else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.tokens_per_s
        return {
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "tokens_per_s": None if rate is None else round(rate, 2),
        }


class CountingBackend:
    """A chat backend that counts what the one it wraps streams (thread-safe)."""

    def __init__(self, inner: ChatBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities: Capabilities = capabilities_of(inner)
        self._lock = threading.Lock()
        self._tally = StreamTally()

    def stream(self, messages: list[Message], options: ChatOptions) -> FinishStream:
        started = time.perf_counter()
        tokens = 0
        chunks = iter(self.inner.stream(messages, options))
        try:
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration as stop:
                    return stop.value if isinstance(stop.value, str) else None
                tokens += 1
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()  # a stopped article ends the model's stream too
            elapsed = time.perf_counter() - started
            with self._lock:
                self._tally.tokens += tokens
                self._tally.seconds += elapsed
                self._tally.requests += 1

    def take(self) -> StreamTally:
        """What was counted since the last call."""
        with self._lock:
            tally, self._tally = self._tally, StreamTally()
        return tally

    def describe(self) -> str:
        return self.inner.describe()

    def model_name(self) -> str | None:
        name = getattr(self.inner, "model_name", None)
        return name() if callable(name) else None


class CountedServices:
    """The wired studio with the writer's backend counted (see the module docstring)."""

    def __init__(self, services: QualityServices, backend: CountingBackend) -> None:
        self._services = services
        self._backend = backend

    @property
    def backend(self) -> ChatBackend:
        return self._backend

    @property
    def two_phase_code(self) -> bool:
        return self._services.two_phase_code

    @property
    def uses_grammar(self) -> bool:
        return self._services.uses_grammar

    @property
    def limits(self) -> WriterLimits:
        return self._services.limits

    def available_sources(self) -> list[str]:
        return self._services.available_sources()

    def off_reasons_by_source(self) -> dict[str, str | None]:
        return self._services.off_reasons_by_source()

    def engine(self, *, style: str = "", plan: BriefPlan | None = None, written: Sequence[str] = ()) -> Engine:
        return self._services.engine(style=style, plan=plan, written=written)

    def chart_coder(self) -> ChartCoder:
        return self._services.chart_coder()


def counted(services: QualityServices) -> tuple[QualityServices, CountingBackend]:
    """``services`` with its writer's backend counted, and the counter."""
    backend = CountingBackend(services.backend)
    return CountedServices(services, backend), backend


def summarize_throughput(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's writer tokens over its writer seconds (None when nothing was counted)."""
    tokens = sum(c.get("throughput", {}).get("tokens", 0) for c in checks)
    seconds = sum(c.get("throughput", {}).get("seconds", 0.0) for c in checks)
    return StreamTally(tokens, seconds, sum(c.get("throughput", {}).get("requests", 0) for c in checks)).to_dict()
