"""DiffusionTool end to end on a tiny random-weight Stable Diffusion pipeline loaded by path."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from models import images
from tests.tiny_pipelines import TEST_DEVICE, tiny_text2image_dir
from tools.base import ToolContext
from tools.diffusion import STOPPED, DiffusionTool, default_guidance, styled_prompt
from tools.params import DiffusionParams


@pytest.fixture(scope="session")
def tiny_sd() -> Path:
    torch.set_num_threads(1)
    return tiny_text2image_dir()


@pytest.fixture(scope="module")
def tool(tiny_sd: Path) -> Iterator[DiffusionTool]:
    tool = DiffusionTool(str(tiny_sd), steps=1, size=64, device=TEST_DEVICE, allow_downloads=False)
    yield tool
    tool.close()


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


def test_generates_png_of_requested_size_with_full_provenance(tool: DiffusionTool, tiny_sd: Path) -> None:
    result = tool.run(DiffusionParams(prompt="a red fox in snow"), ToolContext(style="watercolor"))
    assert result.ok, result.error
    assert result.mime == "image/png" and decode(result.image).size == (64, 64)
    prov = result.provenance
    assert prov["prompt"] == "a red fox in snow, watercolor" and prov["style"] == "watercolor"
    assert prov["model"] == str(tiny_sd) and prov["steps"] == 1 and prov["size"] == 64 and prov["device"] == TEST_DEVICE
    assert isinstance(prov["seed"], int) and prov["seed"] > 0
    assert result.seconds > 0


def test_seed_reproduces_and_differs(tool: DiffusionTool) -> None:
    params = DiffusionParams(prompt="a lighthouse")
    first = tool.run(params, ToolContext(seed=1234))
    again = tool.run(params, ToolContext(seed=1234))
    other = tool.run(params, ToolContext(seed=99))
    assert first.ok and again.ok and other.ok
    assert first.provenance["seed"] == 1234 and other.provenance["seed"] == 99
    assert first.image == again.image
    assert first.image != other.image


def test_recorded_random_seed_reproduces_the_picture(tool: DiffusionTool) -> None:
    params = DiffusionParams(prompt="a lighthouse")
    drawn = tool.run(params, ToolContext())
    replay = tool.run(params, ToolContext(seed=drawn.provenance["seed"]))
    assert drawn.image == replay.image


def test_non_square_size_is_snapped_and_guidance_defaults_follow_the_model(tiny_sd: Path) -> None:
    tool = DiffusionTool(str(tiny_sd), steps=1, size=50, guidance=1.5, device=TEST_DEVICE)
    assert tool.size == 48 and tool.guidance == 1.5
    result = tool.run(DiffusionParams(prompt="x"), ToolContext(seed=1))
    assert result.ok and decode(result.image).size == (48, 48)
    assert default_guidance("stabilityai/sd-turbo") == 0.0
    assert default_guidance("runwayml/stable-diffusion-v1-5") == 7.5


def test_styled_prompt() -> None:
    assert styled_prompt("a fox.", "") == "a fox."
    assert styled_prompt("a fox.", " ink sketch ") == "a fox, ink sketch"
    assert styled_prompt("", "ink") == "ink"


def test_missing_local_folder_fails_naming_the_setting(tmp_path: Path) -> None:
    tool = DiffusionTool(str(tmp_path / "no-model"), device=TEST_DEVICE, allow_downloads=False)
    assert not tool.availability().ok
    assert "STUDIO_DIFFUSION_MODEL" in tool.availability().reason
    result = tool.run(DiffusionParams(prompt="a fox"), ToolContext(seed=5))
    assert not result.ok and result.image is None
    assert "STUDIO_DIFFUSION_MODEL" in result.error and "does not exist" in result.error
    assert result.provenance["seed"] == 5


def test_unknown_hub_id_offline_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tool = DiffusionTool("llmi-studio-tests/absent-diffusion", device=TEST_DEVICE, allow_downloads=False)
    started = time.perf_counter()
    result = tool.run(DiffusionParams(prompt="a fox"), ToolContext())
    assert time.perf_counter() - started < 2.0
    assert not result.ok
    assert "STUDIO_DIFFUSION_MODEL" in result.error and "a hub id on a machine with internet" in result.error
    assert not tool.availability().ok


def test_available_tool_and_wrong_params(tool: DiffusionTool) -> None:
    assert tool.availability().ok
    assert not tool.run(DiffusionParams(prompt="  "), ToolContext()).ok


def test_close_drops_the_cached_pipeline(tiny_sd: Path) -> None:
    tool = DiffusionTool(str(tiny_sd), steps=1, size=32, device=TEST_DEVICE)
    assert tool.run(DiffusionParams(prompt="a"), ToolContext(seed=1)).ok
    assert ("text2image", str(tiny_sd), TEST_DEVICE) in images.cached_keys()
    tool.close()
    assert ("text2image", str(tiny_sd), TEST_DEVICE) not in images.cached_keys()


def test_stop_ends_denoising_at_the_next_step_and_gives_no_image(tiny_sd: Path) -> None:
    many = DiffusionTool(str(tiny_sd), steps=12, size=64, device=TEST_DEVICE, allow_downloads=False)
    try:
        scheduler = many.load().pipe.scheduler
        steps: list[int] = []
        step = scheduler.step
        scheduler.step = lambda *a, **k: (steps.append(1), step(*a, **k))[1]  # count denoising steps
        stop = threading.Event()
        stop.set()  # Stop already pressed
        result = many.run(DiffusionParams(prompt="a lighthouse"), ToolContext(seed=1, cancel=stop))
        assert not result.ok and result.error == STOPPED and result.image is None
        assert len(steps) == 1  # the loop ended after its first step, not after all 12
        steps.clear()
        assert many.run(DiffusionParams(prompt="a lighthouse"), ToolContext(seed=1)).ok  # next run unaffected
        assert len(steps) == 12
    finally:
        many.close()
