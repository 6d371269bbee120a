"""The CLI end to end: render a response holding all four tag kinds on this offline machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.app.cli import main

RESPONSE = Path(__file__).resolve().parents[2] / "data" / "response-four-tools.txt"


@pytest.fixture
def offline_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No internet here; make sure no cached diffusers weights are picked up either."""
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STUDIO_ALLOW_DOWNLOADS", "false")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path


def test_render_gives_each_block_its_status_and_reason(offline_settings: Path, capsys) -> None:
    out = offline_settings / "out"
    code = main(["render", str(RESPONSE), "--out", str(out)])
    assert code == 0
    article = json.loads((out / "article.json").read_text())
    images = [b for b in article["blocks"] if b["kind"] == "image"]
    by_source = {b["source"]: b for b in images}
    assert [b["source"] for b in images] == ["search", "code", "diffusion", "edit"]

    chart = by_source["code"]
    assert chart["status"] == "ok" and chart["error"] is None
    assert (out / chart["image"]).read_bytes().startswith(b"\x89PNG")
    assert "staffed" in chart["provenance"]["code"]

    # offline, the other three tools are off: placeholders that keep their call and say why
    search = by_source["search"]
    assert search["status"] == "placeholder" and "search" in search["error"] and "internet" in search["error"]
    diffusion = by_source["diffusion"]
    assert diffusion["status"] == "placeholder" and "STUDIO_DIFFUSION_MODEL" in diffusion["error"]
    edit = by_source["edit"]
    assert edit["status"] == "placeholder" and "STUDIO_EDIT_MODEL" in edit["error"] and edit["params"]["img_index"] == 2

    html = (out / "article.html").read_text()
    assert "data:image/png;base64," in html and "Guardians of the Coast" in html
    assert article["stats"]["code"] == {"total": 1, "success": 1, "success_rate": 1.0, "placeholder": 0}
    assert article["stats"]["search"]["placeholder"] == 1
    captured = capsys.readouterr()
    stdout = captured.out
    assert str(out / "article.html") in stdout
    assert "placeholder" in captured.err and "(diffusion): the diffusion tool is off" in captured.err


def test_render_reports_invalid_tags(offline_settings: Path) -> None:
    response = offline_settings / "bad.txt"
    response.write_text(
        "Intro <imgen>{'source': 'code', 'description': 'x', 'params': {'code': 'plt.plot([1])', 'x': 1}}</imgen>"
        " and <imgen>{'source': 'edit', 'description': 'e', 'params': {'img_index': 4, 'prompt': 'p'}}</imgen>"
        " and the end <imgen>{'source': 'code'"
    )
    out = offline_settings / "out"
    assert main(["render", str(response), "--out", str(out), "--tools", "code"]) == 0
    blocks = [b for b in json.loads((out / "article.json").read_text())["blocks"] if b["kind"] == "image"]
    assert [b["status"] for b in blocks] == ["invalid", "invalid", "invalid"]
    assert "unexpected key 'x'" in blocks[0]["error"]
    assert "img_index 4" in blocks[1]["error"]
    assert "never closed" in blocks[2]["error"]


def test_missing_response_file_is_a_clear_error(offline_settings: Path, capsys) -> None:
    assert main(["render", str(offline_settings / "nope.txt"), "--out", str(offline_settings / "o")]) == 2
    assert "nope.txt" in capsys.readouterr().err


def test_render_keeps_the_brief_typed_and_names_the_pasted_source(offline_settings: Path) -> None:
    response = offline_settings / "pasted.txt"
    response.write_text(
        "# Tides\n\n<imgen>{'source': 'code', 'description': 'Tide', 'params': {'code': 'plt.plot([1, 2])'}}</imgen>"
    )
    out = offline_settings / "out"
    argv = ["render", str(response), "--out", str(out), "--tools", "code"]
    assert main([*argv, "--brief", " Tides for sailors ", "--source", "GPT-4o, chat.example"]) == 0
    article = json.loads((out / "article.json").read_text())
    assert article["brief"] == "Tides for sailors"
    assert article["writer"] == {"written_by": "render", "backend": "pasted response", "model": "GPT-4o, chat.example"}
    assert "Tides for sailors" in (out / "article.html").read_text()  # the appendix's brief
    assert main([*argv]) == 0  # neither given: no brief, no source, still a pasted response
    article = json.loads((out / "article.json").read_text())
    assert article["brief"] == "" and article["writer"]["model"] is None


def test_render_of_a_lone_surrogate_escape_writes_a_whole_article(offline_settings: Path) -> None:
    """The six ASCII characters ``\\ud800`` in a caption decode to a lone surrogate: the article
    is still written whole (the character becomes U+FFFD), text after the tag included."""
    response = offline_settings / "surrogate.txt"
    response.write_text(
        'Before. <imgen>{"source": "search", "description": "bad \\ud800 caption", "params": {"query": "q"}}</imgen>'
        " After the tag.",
        encoding="ascii",
    )
    out = offline_settings / "out"
    assert main(["render", str(response), "--out", str(out), "--tools", "code"]) == 0
    article = json.loads((out / "article.json").read_text(encoding="utf-8"))
    image = next(b for b in article["blocks"] if b["kind"] == "image")
    assert image["description"] == "bad \ufffd caption"
    assert "After the tag." in json.dumps(article)
