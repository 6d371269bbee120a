"""Image servers behind the OpenAI Images API: vLLM-Omni, a LiteLLM router, a hosted provider.

``ImageServers`` is the second image backend beside the in-process diffusers pipelines
(models.images): a list of base URLs (``http://gpu1:8000/v1``) used round-robin. It talks through
the maintained ``openai`` SDK (``images.generate`` / ``images.edit``), with the server-specific
fields in ``extra_body``; no hand-written HTTP client.

Which optional fields are sent depends on the server kind (``FIELDS_BY_KIND``), because a strict
server refuses a field it does not know:

- ``vllm-omni`` (``vllm serve Qwen/Qwen-Image --omni``, also a LiteLLM route to it): ``size``,
  ``seed``, ``num_inference_steps`` and ``guidance_scale``, on generations (JSON) and on edits
  (multipart form fields beside ``image`` and ``prompt``), as vLLM-Omni's Image Generation and
  Image Edit API pages document. The seed makes a picture reproducible.
- ``openai`` (hosted gpt-image models): ``size`` only, and only one of the sizes it lists; no
  seed, so a picture cannot be reproduced and the provenance says so.

Failover: a server that fails (no connection, a timeout, a 5xx answer) is skipped for
``cooldown_s``; the request is retried once on the next server. A 4xx answer is the request's
fault, not the server's: it is neither retried nor held against the server, and its message
becomes the failure. ``statuses()`` asks each server's ``GET /models`` (cached for
``health_ttl_s``) for the tool chips and ``studio tools``.

The API key goes only to these URLs: each client is built for one of them.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from models.errors import ModelError

ServerKind = Literal["vllm-omni", "openai"]
SERVER_KINDS: tuple[str, ...] = ("vllm-omni", "openai")

# What each known server kind accepts besides prompt (and image for edits); see the docstring.
FIELDS_BY_KIND: dict[str, frozenset[str]] = {
    "vllm-omni": frozenset({"size", "seed", "num_inference_steps", "guidance_scale"}),
    "openai": frozenset({"size"}),
}
# The sizes OpenAI's hosted image models list; any other size is left to the server's default.
OPENAI_SIZES = frozenset({"256x256", "512x512", "1024x1024", "1536x1024", "1024x1536"})
_MESSAGE_LIMIT = 300


class ImageServerError(ModelError):
    """Every server tried failed; the message names each server and what it said."""


@dataclass(frozen=True)
class ImageRequest:
    """One picture to make (``image`` set: an edit of those PNG bytes)."""

    prompt: str
    width: int | None = None  # None (both): the server's default size
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    image: bytes | None = None


@dataclass(frozen=True)
class ImageAnswer:
    """The picture and who made it: ``server`` (its base URL) and ``model``; ``sent`` is the
    optional fields the request carried; ``failed_over`` the servers that failed first, with why."""

    data: bytes
    server: str
    model: str
    sent: dict[str, Any]
    failed_over: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ServerStatus:
    """One server as the chips show it: reachable, and the models it serves (or why not)."""

    url: str
    ok: bool
    models: tuple[str, ...] = ()
    error: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"{self.url} ({', '.join(self.models) or 'no model listed'})"
        return f"{self.url} unreachable: {self.error}"


class _Failed(Exception):
    """Internal: one server's failure; ``server_fault`` says whether it counts against the server."""

    def __init__(self, message: str, *, server_fault: bool) -> None:
        super().__init__(message)
        self.message, self.server_fault = message, server_fault


def normalise_url(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both become ``http://host:8000/v1``."""
    url = url.strip().rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def request_fields(kind: str, request: ImageRequest) -> dict[str, Any]:
    """The optional fields to send to a server of ``kind`` (only those it accepts)."""
    accepted = FIELDS_BY_KIND[kind]
    size = f"{request.width}x{request.height}" if request.width and request.height else None
    candidates: dict[str, Any] = {
        "size": size if kind != "openai" or size in OPENAI_SIZES else None,  # None: not sent
        "seed": request.seed,
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
    }
    return {k: v for k, v in candidates.items() if k in accepted and v is not None}


def _server_message(exc: BaseException) -> str:
    """The server's own words from an SDK error (vLLM's flat or OpenAI's nested error body)."""
    body = getattr(exc, "body", None)
    message: Any = None
    if isinstance(body, dict):
        nested = body.get("error")
        message = nested.get("message") if isinstance(nested, dict) else body.get("message") or nested
    text = " ".join(str(message or getattr(exc, "message", "") or exc).split())
    return text[:_MESSAGE_LIMIT] or type(exc).__name__


class ImageServers:
    """Round-robin over image servers with cool-down and one retry (see the module docstring)."""

    def __init__(
        self,
        urls: list[str],
        *,
        api_key: str = "",
        model: str = "",
        kind: str = "vllm-omni",
        timeout_s: float = 300.0,
        connect_timeout_s: float = 5.0,
        cooldown_s: float = 30.0,
        health_ttl_s: float = 30.0,
        setting: str = "STUDIO_DIFFUSION_SERVERS",
    ) -> None:
        if kind not in FIELDS_BY_KIND:
            raise ValueError(f"unknown image server kind {kind!r}; known: {', '.join(SERVER_KINDS)}")
        self.urls = [normalise_url(u) for u in urls if u.strip()]
        if not self.urls:
            raise ValueError(f"{setting} names no server")
        self.model, self.kind, self.setting = model, kind, setting
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        self.cooldown_s, self.health_ttl_s = cooldown_s, health_ttl_s
        self._api_key = api_key or "EMPTY"  # the SDK wants some key; vLLM without --api-key ignores it
        self._lock = threading.Lock()
        self._next = 0
        self._cool_until: dict[str, float] = {}
        self._clients: dict[str, Any] = {}
        self._statuses: tuple[float, list[ServerStatus]] | None = None
        self._served: dict[str, str] = {}  # url -> the model its /models lists first

    # --- clients and choosing a server ----------------------------------------------------

    def _client(self, url: str) -> Any:
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                from openai import OpenAI, Timeout

                timeout = Timeout(self.timeout_s, connect=self.connect_timeout_s)
                client = OpenAI(base_url=url, api_key=self._api_key, timeout=timeout, max_retries=0)
                self._clients[url] = client
            return client

    def order(self) -> list[str]:
        """The servers to try for the next request: the round-robin turn first, servers in
        cool-down last (when every server is cooling down, one is still tried)."""
        with self._lock:
            start = self._next % len(self.urls)
            self._next += 1
            turn = self.urls[start:] + self.urls[:start]
            now = time.monotonic()
            ready = [u for u in turn if self._cool_until.get(u, 0.0) <= now]
            cooling = sorted((u for u in turn if u not in ready), key=lambda u: self._cool_until[u])
        return ready + cooling

    def _cool(self, url: str) -> None:
        with self._lock:
            self._cool_until[url] = time.monotonic() + self.cooldown_s
            self._statuses = None

    # --- requests ----------------------------------------------------------------------------

    def generate(self, request: ImageRequest, timeout_s: float | None = None) -> ImageAnswer:
        """A picture from ``request.prompt``. Raises ImageServerError naming each server tried."""
        return self._make(request, timeout_s)

    def edit(self, request: ImageRequest, timeout_s: float | None = None) -> ImageAnswer:
        """``request.image`` changed by ``request.prompt`` (multipart ``image`` + ``prompt``)."""
        if not request.image:
            raise ImageServerError("an edit needs the image to change")
        return self._make(request, timeout_s)

    def _make(self, request: ImageRequest, timeout_s: float | None) -> ImageAnswer:
        failures: list[dict[str, str]] = []
        for url in self.order()[:2]:  # one try, and one retry on the next server
            try:
                data, sent = self._call(url, request, timeout_s)
            except _Failed as exc:
                failures.append({"server": url, "error": exc.message})
                if not exc.server_fault:
                    break
                self._cool(url)
                continue
            model = self.model or self._served.get(url) or self._listed_model(url)
            return ImageAnswer(data, url, model, sent, failures)
        what = "image editing" if request.image else "image generation"
        said = "; ".join(f"{f['server']}: {f['error']}" for f in failures)
        raise ImageServerError(f"{what} failed on the image server{'s' if len(failures) > 1 else ''}: {said}")

    def _call(self, url: str, request: ImageRequest, timeout_s: float | None) -> tuple[bytes, dict[str, Any]]:
        import openai

        sent = request_fields(self.kind, request)
        size = sent.pop("size", None)
        common: dict[str, Any] = {"prompt": request.prompt, "n": 1}
        if self.model:
            common["model"] = self.model
        if size:
            common["size"] = size
        if sent:
            common["extra_body"] = sent
        if timeout_s is not None:
            common["timeout"] = openai.Timeout(max(1.0, timeout_s), connect=self.connect_timeout_s)
        client = self._client(url)
        try:
            if request.image:
                answer = client.images.edit(image=("image.png", request.image, "image/png"), **common)
            else:
                answer = client.images.generate(**common)
        except openai.APIStatusError as exc:
            message = f"HTTP {exc.status_code}: {_server_message(exc)}"
            raise _Failed(message, server_fault=exc.status_code >= 500 or exc.status_code in (404, 408, 429)) from None
        except openai.APITimeoutError:
            raise _Failed("no answer in time", server_fault=True) from None
        except openai.APIConnectionError as exc:
            raise _Failed(f"cannot connect ({_server_message(exc.__cause__ or exc)})", server_fault=True) from None
        except openai.OpenAIError as exc:  # e.g. an answer that is not the Images API's shape
            raise _Failed(f"unexpected answer ({_server_message(exc)})", server_fault=True) from None
        data = getattr(answer, "data", None) or []
        b64 = getattr(data[0], "b64_json", None) if data else None
        if not b64:
            raise _Failed("the answer carried no b64_json image", server_fault=True)
        try:
            image = base64.b64decode(b64, validate=True)
        except ValueError:
            raise _Failed("the answer's b64_json is not base64", server_fault=True) from None
        if size:
            sent["size"] = size
        return image, sent

    # --- health ------------------------------------------------------------------------------

    def _listed_model(self, url: str) -> str:
        status = self._probe(url)
        return status.models[0] if status.models else "unknown"

    def _probe(self, url: str) -> ServerStatus:
        import openai

        try:
            listed = self._client(url).models.list(timeout=openai.Timeout(self.connect_timeout_s * 2))
            models = tuple(str(m.id) for m in listed.data)
        except openai.OpenAIError as exc:
            status_code = getattr(exc, "status_code", None)
            prefix = f"HTTP {status_code}: " if status_code else ""
            return ServerStatus(url, False, error=prefix + _server_message(exc.__cause__ or exc))
        if models:
            with self._lock:
                self._served[url] = models[0]
        return ServerStatus(url, True, models)

    def statuses(self, *, refresh: bool = False) -> list[ServerStatus]:
        """Each server's reachability and models (``GET /models``), cached for ``health_ttl_s``.
        An unreachable server is put in cool-down, so requests go elsewhere first."""
        with self._lock:
            cached = self._statuses
        if not refresh and cached is not None and time.monotonic() - cached[0] < self.health_ttl_s:
            return cached[1]
        found = [self._probe(url) for url in self.urls]
        for status in found:
            if not status.ok:
                self._cool(status.url)
        with self._lock:
            self._statuses = (time.monotonic(), found)
        return found

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
