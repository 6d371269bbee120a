"""The README's deployment commands, run as written: its `export STUDIO_...` lines become the
environment and its `python -m studio ...` lines run through the CLI, against a scripted
vLLM-shaped server on 127.0.0.1 and tiny diffusers pipelines. Swapped for the test: the server
URL, the two models (tiny folders), the device when there is no GPU, the picture size and steps,
the data dirs, and search (no internet here)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from models import images
from studio.app.cli import main
from tests.chat_server import ChatServer, Stream
from tests.tiny_pipelines import TEST_DEVICE, tiny_text2image_dir

README = Path(__file__).resolve().parents[3] / "README.md"
ARTICLE = (
    "# Bees\n\nBees find flowers by dancing.\n\n"
    "<imgen>{'source': 'diffusion', 'description': 'a bee on a flower', 'params': {'prompt': 'a bee'}}</imgen>"
    "\n\nAt dusk the hive goes quiet.\n\n"
    "<imgen>{'source': 'edit', 'description': 'the same at dusk', 'params': {'img_index': 0, 'prompt': 'at dusk'}}"
    "</imgen>\n\nThe end."
)


def deployment_block() -> tuple[dict[str, str], list[list[str]]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Deployment on a GPU machine", 1)[1].split("\n## ", 1)[0]
    exports = dict(re.findall(r"^    export (STUDIO_[A-Z_]+)=(\S+)$", section, re.MULTILINE))
    commands = [shlex.split(line)[3:] for line in re.findall(r"^    (\.venv/bin/python -m studio .+)$", section, re.M)]
    return exports, commands


def test_the_readme_deployment_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exports, commands = deployment_block()
    assert exports["STUDIO_BACKEND"] == "openai" and "STUDIO_WARM_IMAGE_MODELS" in exports
    assert [c[0] for c in commands] == ["tools", "write"]
    tiny = str(tiny_text2image_dir())  # one model for both tools: loaded once, edits as image-to-image
    with ChatServer([Stream([ARTICLE[:90], ARTICLE[90:]])]) as srv:
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        overrides = {
            "STUDIO_OPENAI_BASE_URL": srv.url,
            "STUDIO_DEVICE": TEST_DEVICE,
            "STUDIO_DIFFUSION_MODEL": tiny,
            "STUDIO_EDIT_MODEL": tiny,
            "STUDIO_DIFFUSION_SIZE": "64",
            "STUDIO_EDIT_STEPS": "2",
            "STUDIO_TOOLS_ENABLED": '["code", "diffusion", "edit"]',
            "STUDIO_DATA_DIR": str(tmp_path / "data"),
            "STUDIO_ALLOW_DOWNLOADS": "false",
            "HF_HOME": str(tmp_path / "hf"),
        }
        for name, value in overrides.items():
            monkeypatch.setenv(name, value)
        images.release()
        try:
            assert main(commands[0]) == 0
            tools = capsys.readouterr().out
            assert re.search(r"^diffusion\s+on", tools, re.M) and re.search(r"^edit\s+on", tools, re.M), tools
            out = tmp_path / "out"
            write = [str(out) if arg == "out/" else arg for arg in commands[1]]
            assert main(write) == 0
            article = json.loads((out / "article.json").read_text())
        finally:
            images.release()
    body = srv.bodies[0]
    assert body["max_tokens"] == 4096 and "structured_outputs" not in body  # STUDIO_OPENAI_GRAMMAR=0
    pictures = [b for b in article["blocks"] if b["kind"] == "image"]
    assert [b["status"] for b in pictures] == ["ok", "ok"], [b.get("error") for b in pictures]
    diffusion, edit = (b["provenance"] for b in pictures)
    assert diffusion["device"] == TEST_DEVICE and diffusion["pipeline"] == "StableDiffusionPipeline"
    assert edit["pipeline"] == "StableDiffusionImg2ImgPipeline" and "diffusers" in edit["versions"]


def test_warm_image_models_loads_both_pipelines_when_the_studio_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.app.session import Studio
    from studio.app.settings import load_settings

    tiny = str(tiny_text2image_dir())
    images.release()
    settings = load_settings(
        data_dir=tmp_path,
        backend="openai",
        openai_base_url="http://127.0.0.1:9/v1",  # never asked: warming loads pictures, not the writer
        tools_enabled=["diffusion", "edit"],
        diffusion_model=tiny,
        edit_model=tiny,
        device=TEST_DEVICE,
        allow_downloads=False,
        warm_image_models=True,
    )
    studio = Studio(settings)
    try:
        assert sorted(images.cached_keys()) == [("edit", tiny, TEST_DEVICE), ("text2image", tiny, TEST_DEVICE)]
    finally:
        studio.close()
        images.release()


def test_image_settings_reach_the_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.app.services import build_tools
    from studio.app.settings import load_settings

    monkeypatch.setenv("STUDIO_DIFFUSION_GUIDANCE", "0")
    monkeypatch.setenv("STUDIO_EDIT_GUIDANCE", "1.5")
    monkeypatch.setenv("STUDIO_DIFFUSION_OFFLOAD", "sequential")
    monkeypatch.setenv("STUDIO_WARM_IMAGE_MODELS", "1")
    tools = build_tools(load_settings(data_dir=tmp_path, diffusion_model=str(tmp_path / "plain-sd"), edit_model="x/y"))
    diffusion, edit = tools["diffusion"], tools["edit"]
    assert diffusion.guidance == 0.0 and edit.guidance == 1.5  # type: ignore[attr-defined]
    assert diffusion.offload == edit.offload == "sequential"  # type: ignore[attr-defined]
    assert diffusion.warm_on_start and edit.warm_on_start  # type: ignore[attr-defined]
    for name in ("STUDIO_DIFFUSION_GUIDANCE", "STUDIO_EDIT_GUIDANCE"):
        monkeypatch.delenv(name)
    defaults = build_tools(load_settings(data_dir=tmp_path, diffusion_model="a/plain-model"))
    assert defaults["diffusion"].guidance == 7.5 and defaults["edit"].guidance is None  # type: ignore[attr-defined]
    monkeypatch.setenv("STUDIO_DIFFUSION_OFFLOAD", "disk")
    with pytest.raises(ValueError, match="diffusion_offload"):
        load_settings(data_dir=tmp_path)
