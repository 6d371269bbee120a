"""The vLLM path wired from Settings: STUDIO_OPENAI_GRAMMAR puts the article grammar and the
chart-code grammar in structured_outputs.grammar, max_tokens defaults by backend, thinking is
turned off where configured and never reaches the article; against a logging server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.base import capabilities_of
from models.embedded import EmbeddedBackend
from models.openai_compat import OpenAICompatBackend
from studio.app.services import build_services, max_tokens_for
from studio.app.settings import Settings, load_settings
from studio.core.agent import Brief, chat_options, write_article
from studio.core.events import ArticleDone
from studio.core.grammar import code_grammar
from tests.chat_server import ChatServer, Stream, old_style_error

ARTICLE = ["<think>The user wants bees. Plan: one chart.</think>", "\n\n# Bees\n\nBees dance", " to share news."]


def settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "backend": "openai",
        "openai_base_url": url,
        "tools_enabled": ["code"],
        "allow_downloads": False,
    }
    values.update(overrides)
    return load_settings(**values)


def write(services: object, brief: str = "Bees") -> ArticleDone:
    events = list(write_article(Brief(brief), services))  # type: ignore[arg-type]
    done = events[-1]
    assert isinstance(done, ArticleDone)
    return done


def test_openai_grammar_sends_both_grammars_as_structured_outputs(tmp_path: Path) -> None:
    with ChatServer([Stream(ARTICLE), Stream(["```python\nplt.bar([1, 2], [3, 4])\n```"])]) as srv:
        services = build_services(settings(tmp_path, srv.url, openai_grammar=True))
        try:
            done = write(services)
            code = services.chart_coder().write("bar chart of hive weights", "Bees dance.")
        finally:
            services.close()
    article_body, code_body = srv.bodies
    grammar = article_body["structured_outputs"]["grammar"]
    assert grammar.startswith("root ::= title") and "tag-code" in grammar and "grammar" not in article_body
    assert article_body["structured_outputs"]["grammar"] == chat_options(Brief("Bees"), services).grammar
    assert code_body["structured_outputs"] == {"grammar": code_grammar()}
    assert article_body["max_tokens"] == 4096  # the openai default
    assert code == "plt.bar([1, 2], [3, 4])"
    # The <think> block never reached the article.
    assert done.error is None
    assert done.article.to_llmi_text() == "# Bees\n\nBees dance to share news."


def test_no_grammar_by_default_and_thinking_off_where_configured(tmp_path: Path) -> None:
    with ChatServer([Stream(ARTICLE)]) as srv:
        plain = build_services(settings(tmp_path, srv.url))
        quiet = build_services(settings(tmp_path, srv.url, openai_enable_thinking=False, max_tokens=900))
        try:
            assert not plain.uses_grammar and quiet.limits.max_tokens == 900
            write(plain)
            write(quiet)
        finally:
            plain.close()
            quiet.close()
    first, second = srv.bodies
    assert "structured_outputs" not in first and "grammar" not in first and "chat_template_kwargs" not in first
    assert second["chat_template_kwargs"] == {"enable_thinking": False} and second["max_tokens"] == 900


def test_old_style_error_ends_the_article_with_the_reason(tmp_path: Path) -> None:
    error = old_style_error("The decoder prompt is longer than the maximum model length")
    with ChatServer([Stream(["# Bees\n\nBees dance."], error=error)]) as srv:
        services = build_services(settings(tmp_path, srv.url))
        try:
            done = write(services)
        finally:
            services.close()
    assert done.error is not None and "longer than the maximum model length" in done.error and srv.url in done.error
    assert done.article.to_llmi_text().startswith("# Bees\n\nBees dance.")


def test_max_tokens_defaults_follow_the_backend(tmp_path: Path) -> None:
    """Each backend class declares its default (Capabilities), no code compares backend names."""
    s = load_settings(data_dir=tmp_path)
    vllm = OpenAICompatBackend("http://127.0.0.1:9/v1", model="m")
    try:
        assert max_tokens_for(s, vllm) == 4096 and max_tokens_for(s, EmbeddedBackend) == 1200  # type: ignore[arg-type]
        assert max_tokens_for(load_settings(data_dir=tmp_path, max_tokens=2000), EmbeddedBackend) == 2000  # type: ignore[arg-type]
    finally:
        vllm.close()


def test_capabilities_decide_grammar_and_two_phase_charts(tmp_path: Path) -> None:
    """The embedded model needs the grammar and leaves chart code to a second call; a vLLM server
    writes its code and gets a grammar only when STUDIO_OPENAI_GRAMMAR asks for it."""
    assert capabilities_of(EmbeddedBackend).needs_grammar and not capabilities_of(EmbeddedBackend).writes_chart_code
    for grammar in (False, True):
        settings = load_settings(data_dir=tmp_path, tools_enabled=[], openai_grammar=grammar)
        services = build_services(settings, backend=OpenAICompatBackend("http://127.0.0.1:9/v1", model="m"))
        try:
            assert services.uses_grammar is grammar and services.two_phase_code is False
        finally:
            services.close()


def test_gpu_with_cpu_torch_is_a_loud_startup_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    from models import image_weights

    driver = tmp_path / "nvidia0"  # stands in for the driver's device file: there is no GPU here
    driver.write_text("")
    monkeypatch.setattr(image_weights, "NVIDIA_DEVICE_FILES", (str(driver),))
    with ChatServer([Stream(["x"])]) as srv:
        services = build_services(settings(tmp_path, srv.url, tools_enabled=["code", "diffusion"]))
        services.close()
        no_images = build_services(settings(tmp_path, srv.url))
        no_images.close()
    if torch.version.cuda is None:
        assert len(services.warnings) == 1 and "CPU-only build" in services.warnings[0]
        assert any("CPU-only build" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    assert no_images.warnings == []


THINK_THEN_CUT = ["<think>Long plan: a chart, then", " a picture.</think>\n\n", "# Bees\n\nBees dance to", " share"]


def test_a_length_stop_from_vllm_is_continued_without_the_thinking(tmp_path: Path) -> None:
    """vLLM's stream shape: role chunk, content chunks with finish_reason null, a last empty chunk
    with finish_reason "length"; the continuation carries the article so far, never the <think>."""
    script = [Stream(THINK_THEN_CUT, finish_reason="length"), Stream([" news.\n\nThe end."], finish_reason="stop")]
    with ChatServer(script) as srv:
        services = build_services(settings(tmp_path, srv.url, openai_enable_thinking=False))
        try:
            done = write(services)
        finally:
            services.close()
    first, second = srv.bodies
    assert not done.cut_off and done.article.continuations == 1
    assert done.article.to_llmi_text() == "# Bees\n\nBees dance to share news.\n\nThe end."
    assert second["messages"][-1] == {"role": "assistant", "content": "# Bees\n\nBees dance to share"}
    assert second["continue_final_message"] is True and second["add_generation_prompt"] is False
    assert second["chat_template_kwargs"] == {"enable_thinking": False} and second["max_tokens"] == 4096


def test_a_length_stop_still_cut_off_is_marked_in_the_cli_and_article_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from studio.app.cli import main

    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STUDIO_MAX_CONTINUATIONS", "0")
    with ChatServer([Stream(THINK_THEN_CUT, finish_reason="length")]) as srv:
        out = tmp_path / "out"
        argv = ["write", "bees", "--out", str(out), "--backend", "openai", "--base-url", srv.url, "--tools", "code"]
        assert main(argv) == 0
    assert len(srv.bodies) == 1
    assert "CUT OFF" in capsys.readouterr().err
    manifest = json.loads((out / "article.json").read_text())
    assert manifest["cut_off"] is True
    # who wrote it, as a fact: the served model's id (from /models), not the server's address
    assert manifest["writer"] == {"written_by": "model", "backend": "openai", "model": "Qwen/Qwen3-8B"}
    text = " ".join(b.get("text", "") for b in manifest["blocks"])
    assert "Bees dance to share" in text and "plan" not in text


def test_thinking_through_the_whole_limit_ends_the_article_with_the_reason(tmp_path: Path) -> None:
    with ChatServer([Stream(["<think>Hmm, bees.", " Let me plan"], finish_reason="length")]) as srv:
        services = build_services(settings(tmp_path, srv.url))
        try:
            done = write(services)
        finally:
            services.close()
    assert len(srv.bodies) == 1  # no continuation of an empty article
    assert done.error is not None and "spent the whole answer thinking" in done.error
    assert done.article.to_llmi_text() == ""
