"""The chat backend shape: one method that yields text chunks.

Backends translate their vendor's exceptions into models.errors at the boundary. ``stream`` is
a generator whose *return value* is the finish reason the server gave (``"stop"``,
``"length"`` when the token limit cut the answer, or None when unknown); consumers that only
want text iterate it as usual, the engine reads the reason with ``drain``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

from models.errors import Cancelled


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str | list[dict[str, Any]]  # list form carries image parts (data URLs)


@dataclass(frozen=True)
class ChatOptions:
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = ()
    grammar: str | None = None  # GBNF (llama.cpp servers); ignored where unsupported
    json_schema: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # passed through in the request body


@runtime_checkable
class ChatBackend(Protocol):
    name: str

    def stream(self, messages: list[Message], options: ChatOptions) -> Iterator[str]:
        """Yield text chunks as the model writes them; a generator's return value is the finish
        reason (see the module docstring). Raises models.errors.ModelError."""
        ...

    def describe(self) -> str:
        """One line for the UI/CLI: which model, where."""
        ...

    def model_name(self) -> str | None:
        """The model as a fact a dataset may carry (a model id, a GGUF's name and quantization),
        never a file path or a server address; None when it cannot be known."""
        ...


def model_name_of(backend: ChatBackend) -> str | None:
    """``backend.model_name()``; None for a backend that predates it (a test double, a plug-in
    written against the older protocol): unknown, which is still no path."""
    name = getattr(backend, "model_name", None)
    return name() if callable(name) else None


def complete(
    backend: ChatBackend,
    messages: list[Message],
    options: ChatOptions,
    *,
    cancel: Callable[[], bool] | None = None,
) -> str:
    """Non-streaming call: the same generator, joined.

    ``cancel``: asked before each chunk; when it says True the stream is closed (an HTTP stream
    closes its connection, so the server stops generating) and ``Cancelled`` is raised."""
    if cancel is None:
        return "".join(backend.stream(messages, options))
    chunks = backend.stream(messages, options)
    parts: list[str] = []
    try:
        for chunk in chunks:
            if cancel():
                raise Cancelled("stopped while the model was writing")
            parts.append(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()
    if cancel():
        raise Cancelled("stopped while the model was writing")
    return "".join(parts)


FINISH_LENGTH = "length"  # the OpenAI finish_reason for an answer cut at max_tokens


def drain(chunks: Iterable[str], on_chunk: Callable[[str], object]) -> str | None:
    """Hand every chunk to ``on_chunk`` and return the stream's finish reason (a generator's
    return value; None for a plain iterable or when the backend did not say)."""
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration as stop:
            value = stop.value
            return value if isinstance(value, str) else None
        on_chunk(chunk)


FinishStream = Generator[str, None, str | None]
