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
class Penalties:
    """Sampler settings against loops, sent only where a server reads them (see
    models.openai_compat.sampler_fields: llama.cpp takes all of them, vLLM the two penalties).

    dry_*: llama.cpp's DRY sampler ("don't repeat yourself": penalises extending a sequence that
    already occurred; multiplier 0 turns it off). repeat_penalty: llama.cpp ``repeat_penalty``,
    vLLM ``repetition_penalty`` (1.0 off). presence_penalty: both (0.0 off). None: not sent, so the
    server's own default stands (vLLM reads the model's generation_config)."""

    dry_multiplier: float | None = None
    dry_base: float | None = None
    dry_allowed_length: int | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None


@dataclass(frozen=True)
class ChatOptions:
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = ()
    grammar: str | None = None  # GBNF (llama.cpp servers); ignored where unsupported
    json_schema: dict[str, Any] | None = None
    penalties: Penalties | None = None  # anti-loop sampling (the article writer sets it)
    extra: dict[str, Any] = field(default_factory=dict)  # passed through in the request body


@dataclass(frozen=True)
class Capabilities:
    """What a chat backend needs or offers, declared by its class (``capabilities = ...``), as llm's
    model classes declare ``can_stream``: the studio decides from these, never from a name.

    The defaults describe an unknown backend (a test double): no grammar, code written in the tag,
    the short token budget."""

    # A small local model: it keeps to the LLM-I format only under the article grammar
    # (STUDIO_USE_GRAMMAR), gets the short prompt, and leaves chart code empty in its tags, so a
    # second call writes it (two-phase charts, studio.core.charts).
    needs_grammar: bool = False
    # The server takes a GBNF grammar field; STUDIO_OPENAI_GRAMMAR turns it on for a model that
    # does not need it.
    accepts_grammar: bool = False
    # Writes chart code inside its tags (LLM-I checkpoints); False: the two-phase charts above.
    writes_chart_code: bool = True
    default_max_tokens: int = 1200  # STUDIO_MAX_TOKENS overrides it
    in_process: bool = False  # the model runs inside the studio (nothing to connect to)
    # answers several requests at once (quality mode writes its candidates side by side); False:
    # one after the other
    serves_concurrently: bool = True


def capabilities_of(backend: object) -> Capabilities:
    """The backend's declared capabilities (the defaults for one that declares none)."""
    declared = getattr(backend, "capabilities", None)
    return declared if isinstance(declared, Capabilities) else Capabilities()


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
