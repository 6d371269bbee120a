"""The embedded chat backend: llama.cpp's own server, run inside this process by xllamacpp.

xllamacpp.Server(CommonParams) loads the GGUF and starts llama.cpp's HTTP server on its own
threads; with ``hostnames=["127.0.0.1"]`` and ``port=0`` it binds a free loopback port, which
``listening_address`` reports. The server stops when the Server object is destroyed (its C++
destructor joins the loop), so ``close()`` drops the only reference.

Chat goes through OpenAICompatBackend pointed at that address: one streaming code path for
both backends, and GBNF grammars work because llama.cpp's server reads the ``grammar`` field.
"""

from __future__ import annotations

import gc
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.base import Capabilities, ChatOptions, FinishStream, Message
from models.errors import ModelError, ModelUnavailable
from models.openai_compat import OpenAICompatBackend


def default_threads() -> int:
    """One thread per physical core this process may use: llama.cpp gains nothing from SMT
    siblings, and a big server should not be held to a laptop's count."""
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = None
    logical = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))  # a container's CPU set, not the host's
    except (AttributeError, OSError):
        usable = logical
    cores = physical or logical
    if usable < logical:  # pinned to fewer CPUs: assume SMT pairs among them where the host has SMT
        cores = max(1, usable * cores // logical)
    return max(1, cores)


_QUANT = re.compile(r"[._-]((?:I?Q\d\w*)|(?:B?F(?:16|32))|FP16)$", re.IGNORECASE)


def gguf_label(file_name: str) -> str:
    """``qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`` -> ``qwen2.5-coder-1.5b-instruct Q4_K_M``: the
    model and its quantization (a file name without a quantization suffix stays as it is)."""
    stem = re.sub(r"\.gguf$", "", file_name, flags=re.IGNORECASE)
    quant = _QUANT.search(stem)
    return f"{stem[: quant.start()]} {quant.group(1).upper()}" if quant else stem


@dataclass(frozen=True)
class DraftModel:
    """Speculative decoding: a small model of the same family (same vocabulary) proposes up to
    ``n_max`` tokens, the big model checks them in one batch and keeps the agreed prefix. The
    output is the big model's own (greedy: the same tokens, up to batch rounding); only the speed
    changes, and only where one batched check costs less than the tokens it accepts."""

    gguf: Path
    n_max: int = 8  # tokens drafted per step
    n_min: int = 0  # fewest drafted tokens worth a check
    p_min: float = 0.6  # the draft stops where its own top token is less likely than this


class LlamaServer:
    """One running llama.cpp HTTP server on 127.0.0.1 (a free port). Use ``close()`` to stop it."""

    def __init__(
        self,
        gguf: Path,
        threads: int = 1,
        ctx: int = 2048,
        parallel: int = 1,
        gpu_layers: int = -1,
        draft: DraftModel | None = None,
    ) -> None:
        """gpu_layers: layers offloaded to the GPU (-1 all, 0 none); only a GPU build of xllamacpp
        (README: "Embedded model on a GPU") has a GPU to offload to, the PyPI wheel ignores it.
        draft: a draft model for speculative decoding (llama.cpp's draft-model support)."""
        try:
            import xllamacpp
        except ImportError as exc:  # the package is in requirements.txt; say so if it went missing
            raise ModelUnavailable("the embedded backend needs xllamacpp: run `pip install xllamacpp`") from exc
        gguf = Path(gguf)
        if not gguf.is_file():
            raise ModelUnavailable(f"the GGUF file {gguf} does not exist")
        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_ctx = ctx * parallel  # llama.cpp splits n_ctx across the slots
        params.n_parallel = parallel
        params.n_gpu_layers = gpu_layers
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.n_threads_http = 2  # the HTTP pool only parses JSON; a default of n_cpu-1 threads is waste
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.warmup = False  # warm-up decodes a dummy batch: seconds at start for nothing
        # llama.cpp's default, pinned: a request whose prompt starts like a slot's last one decodes
        # only the new tail. The chart writer's system prompt and worked example come first and
        # never change, so its second chart skips ~250 of ~290 prompt tokens (bench/speculative.py)
        params.cache_prompt = True
        params.verbosity = 0
        if draft is not None:
            _set_draft(params, xllamacpp, draft, threads, gpu_layers)
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # xllamacpp raises a bare RuntimeError("Failed to init server ...")
            with_draft = (
                f" with the draft model {Path(draft.gguf).name} (a draft is a small GGUF model of the same "
                "family, e.g. Qwen2.5 0.5B for Qwen2.5 1.5B; unset STUDIO_EMBEDDED_DRAFT_WEIGHTS and "
                "STUDIO_EMBEDDED_DRAFT_GGUF to run without one)"
                if draft is not None
                else ""
            )
            raise ModelError(
                f"llama.cpp could not load {gguf}{with_draft} ({exc}); is it a valid GGUF file with enough free "
                f"memory for a {ctx}-token context?"
            ) from exc
        address = self._server.listening_address
        if not address:
            self.close()
            raise ModelError("llama.cpp's server started but reports no listening address")
        self.root_url = address.rstrip("/")
        self.base_url = f"{self.root_url}/v1"
        self.gguf = gguf
        self.threads = threads
        self.ctx = ctx

    def close(self) -> None:
        """Stop the server: the C++ destructor waits for its loop to exit."""
        server = self.__dict__.pop("_server", None)
        if server is not None:
            del server
            gc.collect()


def _set_draft(params: Any, xllamacpp: Any, draft: DraftModel, threads: int, gpu_layers: int) -> None:
    """Fill llama.cpp's speculative fields: the draft model, its threads and its limits."""
    gguf = Path(draft.gguf)
    if not gguf.is_file():
        raise ModelUnavailable(f"the draft GGUF file {gguf} does not exist")
    spec = params.speculative
    spec.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
    spec.draft.mparams.path = str(gguf)
    spec.draft.cpuparams.n_threads = threads
    spec.draft.cpuparams_batch.n_threads = threads
    spec.draft.n_gpu_layers = gpu_layers
    spec.draft.n_max = draft.n_max
    spec.draft.n_min = draft.n_min
    spec.draft.p_min = draft.p_min


class EmbeddedBackend:
    """Chat with a local GGUF model (CPU, or GPU with xllamacpp's CUDA wheel), started lazily on first use."""

    name = "embedded"
    capabilities = Capabilities(
        needs_grammar=True,
        accepts_grammar=True,
        writes_chart_code=False,
        default_max_tokens=1200,  # the chart code comes from a second call
        in_process=True,
        serves_concurrently=False,
    )

    def __init__(
        self,
        gguf: Path,
        threads: int = 0,
        ctx: int = 4096,
        read_timeout_s: float = 600.0,
        parallel: int = 1,
        gpu_layers: int = -1,
        draft: DraftModel | None = None,
    ) -> None:
        """parallel: requests llama.cpp decodes together (slots), e.g. a chart's code call while the
        article still streams; each slot gets ``ctx`` tokens. gpu_layers: see LlamaServer.
        draft: speculative decoding with this draft model (None: off)."""
        self.gpu_layers = gpu_layers
        self.draft = draft
        self.gguf = Path(gguf)
        self.threads = threads if threads > 0 else default_threads()
        self.ctx = ctx
        self.parallel = max(1, parallel)
        self.read_timeout_s = read_timeout_s
        self._lock = threading.Lock()
        self._server: LlamaServer | None = None
        self._client: OpenAICompatBackend | None = None

    def _ensure_started(self) -> OpenAICompatBackend:
        with self._lock:  # two first requests at once must not load the model twice
            if self._client is None:
                self._server = LlamaServer(
                    self.gguf,
                    threads=self.threads,
                    ctx=self.ctx,
                    parallel=self.parallel,
                    gpu_layers=self.gpu_layers,
                    draft=self.draft,
                )
                self._client = OpenAICompatBackend(
                    self._server.base_url,
                    model=self.gguf.name,
                    sampler_fields="llama.cpp",  # DRY and llama.cpp's penalty names
                    read_timeout_s=self.read_timeout_s,
                    start_hint="the embedded llama.cpp server has stopped; restart the studio",
                    settings_prefix="STUDIO_EMBEDDED_",
                    thinking_off="another model",
                    server_label="the embedded llama.cpp server",
                )
            return self._client

    def start(self) -> None:
        """Load the model now (e.g. at app start) instead of on the first request."""
        self._ensure_started()

    def stream(self, messages: list[Message], options: ChatOptions) -> FinishStream:
        """Yield text chunks from the local model (returns the finish reason, like the HTTP
        client it delegates to); ModelError/ModelUnavailable on failure."""
        client = self._ensure_started()
        return (yield from client.stream(messages, options))

    def test_connection(self) -> tuple[bool, str]:
        """For the UI, like OpenAICompatBackend.test_connection: loads the model if needed. Never raises."""
        try:
            self._ensure_started()
        except ModelError as exc:
            return False, str(exc)
        return True, f"embedded model {self.gguf.name} ready ({self.threads} threads)"

    @property
    def base_url(self) -> str | None:
        """Where the running server listens (None before the first use)."""
        return self._server.base_url if self._server else None

    def model_name(self) -> str:
        """The GGUF's model and quantization from its file name, e.g. ``qwen2.5-coder-1.5b-instruct
        Q4_K_M``: datasets carry this, never the file's path on this machine."""
        return gguf_label(self.gguf.name)

    def describe(self) -> str:
        state = f"serving at {self._server.base_url}" if self._server else "not started yet"
        draft = f", draft model {self.draft.gguf.name} (up to {self.draft.n_max} tokens)" if self.draft else ""
        return (
            f"embedded llama.cpp, model file {self.gguf}, {self.threads} threads, ctx {self.ctx}, "
            f"GPU layers {self.gpu_layers}{draft} ({state})"
        )

    def close(self) -> None:
        """Stop the server; a later stream() starts it again."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._server is not None:
                self._server.close()
            self._client = None
            self._server = None
