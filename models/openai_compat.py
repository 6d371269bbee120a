"""Chat backend for any OpenAI-compatible server (vLLM, llama.cpp's server, ...).

Streaming is a POST to ``/chat/completions`` with ``stream: true``; the reply is server-sent
events whose ``data:`` lines carry JSON chunks, ended by ``data: [DONE]``.

Constrained decoding: ``options.grammar`` (GBNF) is sent only when set, under the key the server
reads (``grammar_field``): ``grammar`` for llama.cpp's server (the embedded backend),
``structured_outputs: {"grammar": G}`` for vLLM >= 0.12 (earlier releases: ``guided_grammar``).
vLLM ignores unknown fields with HTTP 200, so the wrong key fails silently: the studio sets it
from STUDIO_OPENAI_GRAMMAR_FIELD. ``options.json_schema`` goes out as the standard OpenAI
``response_format: {"type": "json_schema", ...}``, which both vLLM and llama.cpp understand.
``chat_template_kwargs`` (e.g. ``{"enable_thinking": False}`` for Qwen3) is sent when given.
``options.penalties`` (anti-loop sampling) goes out under the names the server reads
(``sampler_fields``): ``llama.cpp`` sends dry_multiplier, dry_base, dry_allowed_length,
repeat_penalty and presence_penalty; ``vllm`` sends repetition_penalty and presence_penalty (vLLM
has no DRY sampler); ``none`` sends nothing. A penalty left None is never sent.
``options.extra`` is merged last, so it can override any field.

``<think>…</think>`` blocks are removed from every stream (models.thinking), so a reasoning
model served without a reasoning parser never writes its thinking into an article.

vLLM always runs as a separate server (it pins its own torch); this module only talks HTTP.
Every failure becomes a ModelError whose message says what to start or set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from models.base import Capabilities, ChatOptions, FinishStream, Message, Penalties
from models.errors import ModelError, ModelTimeout, ModelUnreachable
from models.text import StreamText
from models.thinking import ThinkFilter

GRAMMAR_FIELDS = ("grammar", "structured_outputs", "guided_grammar")
SAMPLER_FIELDS = ("llama.cpp", "vllm", "none")


def penalty_fields(penalties: Penalties | None, kind: str) -> dict[str, Any]:
    """The request fields for ``penalties`` on a server of ``kind`` (one of SAMPLER_FIELDS)."""
    if penalties is None or kind == "none":
        return {}
    if kind == "llama.cpp":
        names = {
            "dry_multiplier": penalties.dry_multiplier,
            "dry_base": penalties.dry_base,
            "dry_allowed_length": penalties.dry_allowed_length,
            "repeat_penalty": penalties.repeat_penalty,
            "presence_penalty": penalties.presence_penalty,
        }
    else:  # vLLM's SamplingParams names; it has no DRY sampler
        names = {"repetition_penalty": penalties.repeat_penalty, "presence_penalty": penalties.presence_penalty}
    return {k: v for k, v in names.items() if v is not None}


DEFAULT_START_HINT = "start it with `vllm serve MODEL --port 8000` or set STUDIO_OPENAI_BASE_URL"


class OpenAICompatBackend:
    """Streams chat completions from an OpenAI-compatible HTTP server."""

    name = "openai"
    # LLM-I checkpoints write chart code inside their tags: 1200 tokens cut articles short
    capabilities = Capabilities(accepts_grammar=True, writes_chart_code=True, default_max_tokens=4096)

    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str = "EMPTY",
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        *,
        start_hint: str = DEFAULT_START_HINT,
        settings_prefix: str = "STUDIO_OPENAI_",
        grammar_field: str = "grammar",
        sampler_fields: str = "vllm",
        chat_template_kwargs: dict[str, Any] | None = None,
        server_label: str = "the chat server",
        thinking_off: str = "STUDIO_OPENAI_ENABLE_THINKING=false",
    ) -> None:
        """start_hint / settings_prefix / server_label / thinking_off let a wrapper (the embedded
        backend) word errors for its own settings; grammar_field is one of GRAMMAR_FIELDS, sampler_fields
        one of SAMPLER_FIELDS (see the module doc)."""
        if grammar_field not in GRAMMAR_FIELDS:
            raise ValueError(f"grammar_field must be one of {', '.join(GRAMMAR_FIELDS)}, not {grammar_field!r}")
        if sampler_fields not in SAMPLER_FIELDS:
            raise ValueError(f"sampler_fields must be one of {', '.join(SAMPLER_FIELDS)}, not {sampler_fields!r}")
        self.sampler_fields = sampler_fields
        self.grammar_field = grammar_field
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.base_url = base_url.rstrip("/")
        self.shown_url = redact_url(self.base_url)  # what messages show: never user:password@
        self._where = f"{server_label} at {self.shown_url}"
        self.model = model
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._start_hint = start_hint
        self._prefix = settings_prefix
        self._thinking_off = thinking_off  # how to turn thinking off, named in the error
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # Proxy variables must not divert a loopback server through a corporate proxy.
        host = urlsplit(self.base_url).hostname or ""
        loopback = host in {"127.0.0.1", "localhost", "::1"}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s, pool=connect_timeout_s),
            trust_env=not loopback,
        )
        self._resolved_model: str | None = model or None

    # ----------------------------------------------------------------------------- public
    def stream(self, messages: list[Message], options: ChatOptions) -> FinishStream:
        """Yield content deltas as they arrive; return the finish reason ("stop", "length", ...).
        Raises ModelError on any failure."""
        body = self.request_body(messages, options, self.resolve_model())
        url = f"{self.base_url}/chat/completions"
        try:
            with self._client.stream("POST", url, json=body) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise self._http_error(resp)
                return (yield from self._without_thinking(self._parse_sse(resp.iter_lines())))
        except httpx.HTTPError as exc:
            raise self._translate(exc) from exc

    def request_body(self, messages: list[Message], options: ChatOptions, model: str) -> dict[str, Any]:
        """The JSON body for one streaming request (public so tests and logs can show it)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": list(messages),
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        if options.stop:
            body["stop"] = list(options.stop)
        if options.grammar:
            if self.grammar_field == "structured_outputs":
                body["structured_outputs"] = {"grammar": options.grammar}
            else:
                body[self.grammar_field] = options.grammar
        if self.chat_template_kwargs:
            body["chat_template_kwargs"] = dict(self.chat_template_kwargs)
        body.update(penalty_fields(options.penalties, self.sampler_fields))
        if options.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": options.json_schema, "strict": True},
            }
        body.update(options.extra)
        return body

    def resolve_model(self) -> str:
        """The configured model, or the first one the server lists under /models."""
        if self._resolved_model:
            return self._resolved_model
        models = self.list_models()
        if not models:
            raise ModelError(f"{self._where} lists no models: set {self._prefix}MODEL to the model to use")
        self._resolved_model = models[0]
        return models[0]

    def list_models(self) -> list[str]:
        """Model ids from GET /models."""
        try:
            resp = self._client.get(f"{self.base_url}/models")
        except httpx.HTTPError as exc:
            raise self._translate(exc) from exc
        if resp.status_code >= 400:
            raise self._http_error(resp)
        try:
            data = resp.json().get("data", [])
            return [str(item["id"]) for item in data]
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{self.shown_url}/models did not answer like an OpenAI-compatible server: {resp.text[:200]!r}"
            ) from exc

    def test_connection(self) -> tuple[bool, str]:
        """For the UI: (ok, a sentence saying what works or exactly what is wrong). Never raises."""
        try:
            models = self.list_models()
        except ModelError as exc:
            return False, str(exc)
        if not models:
            return False, f"{self._where} lists no models: set {self._prefix}MODEL"
        if self.model and self.model not in models:
            return False, (
                f"{self._where} does not serve model {self.model!r}; it serves "
                f"{', '.join(models[:5])}: set {self._prefix}MODEL to one of them or leave it empty"
            )
        chosen = self.model or models[0]
        return True, f"connected to {self.shown_url}, model {chosen}"

    def model_name(self) -> str | None:
        """The served model id (the configured one, else the first the server lists; None when
        the server cannot say: the stream that follows reports why)."""
        try:
            return self.resolve_model()
        except ModelError:
            return None

    def describe(self) -> str:
        model = self._resolved_model or "(first listed by the server)"
        return f"OpenAI-compatible server at {self.shown_url}, model {model}"

    def close(self) -> None:
        self._client.close()

    # ---------------------------------------------------------------------------- helpers
    def _parse_sse(self, lines: Iterator[str]) -> FinishStream:
        finish: str | None = None
        text = StreamText()  # valid Unicode: a pair split over two events is joined (models.text)
        for line in lines:
            if line.startswith("error:"):  # llama.cpp reports mid-stream failures as an `error:` event
                raise self._mid_answer(line[6:].strip())
            if not line.startswith("data:"):
                continue  # blank separators, comments (": ping"), event names
            payload = line[5:].strip()
            if payload == "[DONE]":
                if tail := text.flush():
                    yield tail
                return finish
            try:
                chunk = json.loads(payload)
            except ValueError as exc:
                raise ModelError(f"{self._where} sent a malformed event: {payload[:200]!r}") from exc
            if not isinstance(chunk, dict):
                raise ModelError(f"{self._where} sent a malformed event: {payload[:200]!r}")
            # OpenAI style {"error": {...}}; older vLLM sends {"object": "error", "message": ...} mid-stream
            if "error" in chunk or chunk.get("object") == "error":
                raise self._mid_answer(payload)
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str) and content and (valid := text.feed(content)):
                    yield valid
                if isinstance(choice.get("finish_reason"), str):
                    finish = choice["finish_reason"]
        if tail := text.flush():
            yield tail
        return finish

    def _without_thinking(self, chunks: FinishStream) -> FinishStream:
        """``chunks`` with <think> blocks removed; the finish reason is passed on. An answer that
        is nothing but unfinished thinking is an error that says what to change."""
        thinking = ThinkFilter()
        written = False
        while True:
            try:
                chunk = next(chunks)
            except StopIteration as stop:
                tail = thinking.flush()
                if tail:
                    yield tail
                if thinking.inside and not (written or tail):
                    off = self._thinking_off
                    raise ModelError(
                        f"{self._where} (model {self._resolved_model}) spent the whole answer thinking "
                        f"({thinking.dropped} characters in an unfinished <think> block, finish reason "
                        f"{stop.value!r}): raise STUDIO_MAX_TOKENS, or turn thinking off ({off}, or vLLM's "
                        "--reasoning-parser)"
                    ) from None
                return stop.value
            text = thinking.feed(chunk)
            if text:
                written = True
                yield text

    def _mid_answer(self, payload: str) -> ModelError:
        return ModelError(f"{self._where} failed mid-answer (model {self._resolved_model}): {_message_of(payload)}")

    def _translate(self, exc: httpx.HTTPError) -> ModelError:
        p = self._prefix
        if isinstance(exc, httpx.ConnectTimeout):
            return ModelUnreachable(
                f"connecting to {self._where} timed out after {self.connect_timeout_s:g} s "
                f"({p}CONNECT_TIMEOUT_S): {self._start_hint}"
            )
        if isinstance(exc, httpx.ConnectError):
            return ModelUnreachable(f"cannot reach {self._where}: {self._start_hint}")
        if isinstance(exc, httpx.ReadTimeout):
            return ModelTimeout(
                f"{self._where} sent nothing for {self.read_timeout_s:g} s "
                f"({p}READ_TIMEOUT_S): raise it for slow models or long prompts"
            )
        if isinstance(exc, httpx.TimeoutException):
            return ModelTimeout(f"{self._where} timed out ({type(exc).__name__}): {exc}")
        if isinstance(exc, httpx.TransportError):
            return ModelUnreachable(f"talking to {self._where} failed: {type(exc).__name__}: {exc}")
        return ModelError(f"talking to {self._where} failed: {type(exc).__name__}: {exc}")

    def _http_error(self, resp: httpx.Response) -> ModelError:
        msg = _message_of(resp.text)
        code = resp.status_code
        where = f"{self._where} answered HTTP {code}: {msg}"
        if code == 401 or code == 403:
            return ModelError(f"{where} (check the API key: set {self._prefix}API_KEY)")
        if code == 404:
            return ModelError(
                f"{where} (is the model name right? set {self._prefix}MODEL to one the server lists, or leave it "
                f"empty; and does {self._prefix}BASE_URL end in /v1?)"
            )
        return ModelError(where)


def _message_of(text: str) -> str:
    """The human part of an error body: OpenAI {"error": {"message"}}, vLLM {"message"}, FastAPI {"detail"}."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:500] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            for key in ("message", "detail", "msg"):
                if isinstance(err.get(key), str):
                    return err[key][:500]
        elif isinstance(err, str):
            return err[:500]
        if isinstance(data.get("detail"), str):
            return data["detail"][:500]
    return text.strip()[:500]


def redact_url(url: str) -> str:
    """``url`` without ``user:password@`` (the rest unchanged): URLs are shown, credentials never."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))
