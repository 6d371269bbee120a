"""EditTool end to end on a tiny random-weight InstructPix2Pix pipeline loaded by path."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.tiny_pipelines import TEST_DEVICE, tiny_instruct_pix2pix_dir, tiny_text2image_dir
from tools.base import ToolContext
from tools.edit import EditTool, working_size
from tools.params import EditParams


def png(size: tuple[int, int], colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def tiny_p2p() -> Path:
    torch.set_num_threads(1)
    return tiny_instruct_pix2pix_dir()


@pytest.fixture(scope="module")
def tool(tiny_p2p: Path) -> Iterator[EditTool]:
    tool = EditTool(str(tiny_p2p), steps=1, size=64, device=TEST_DEVICE, allow_downloads=False)
    yield tool
    tool.close()


def test_edit_gives_image_at_working_size_with_parent_hash(tool: EditTool, tiny_p2p: Path) -> None:
    parent = png((128, 96))
    result = tool.run(EditParams(img_index=2, prompt="make it blue"), ToolContext(parent_image=parent, seed=7))
    assert result.ok, result.error
    image = Image.open(io.BytesIO(result.image))
    assert image.format == "PNG" and image.size == (64, 48)  # longer side -> 64, aspect kept
    prov = result.provenance
    assert prov["parent_sha256"] == hashlib.sha256(parent).hexdigest()
    assert prov["instruction"] == "make it blue" and prov["img_index"] == 2
    assert prov["seed"] == 7 and prov["model"] == str(tiny_p2p) and prov["steps"] == 1
    assert prov["device"] == TEST_DEVICE


def test_same_seed_same_edit_and_other_seed_differs(tool: EditTool) -> None:
    parent = png((64, 64), (10, 120, 30))
    params = EditParams(img_index=0, prompt="add snow")
    first = tool.run(params, ToolContext(parent_image=parent, seed=3))
    again = tool.run(params, ToolContext(parent_image=parent, seed=3))
    other = tool.run(params, ToolContext(parent_image=parent, seed=4))
    drawn = tool.run(params, ToolContext(parent_image=parent))
    assert first.image == again.image and first.image != other.image
    assert isinstance(drawn.provenance["seed"], int)


def test_missing_parent_fails_clearly(tool: EditTool) -> None:
    result = tool.run(EditParams(img_index=3, prompt="make it blue"), ToolContext())
    assert not result.ok and result.image is None
    assert result.error == "the image to edit (index 3) is not available"
    assert result.provenance["img_index"] == 3


def test_unreadable_parent_fails_clearly(tool: EditTool) -> None:
    result = tool.run(EditParams(img_index=1, prompt="x"), ToolContext(parent_image=b"not an image"))
    assert not result.ok and "the image to edit (index 1) cannot be used" in result.error


def test_text2image_model_falls_back_to_img2img() -> None:
    tool = EditTool(str(tiny_text2image_dir()), steps=1, size=64, strength=0.5, device=TEST_DEVICE)
    result = tool.run(EditParams(img_index=0, prompt="night"), ToolContext(parent_image=png((64, 64)), seed=1))
    assert result.ok, result.error
    assert Image.open(io.BytesIO(result.image)).size == (64, 64)


def test_absent_model_offline_fails_fast_naming_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    for model in (str(tmp_path / "absent"), "llmi-studio-tests/absent-edit"):
        tool = EditTool(model, device=TEST_DEVICE, allow_downloads=False)
        result = tool.run(EditParams(img_index=0, prompt="x"), ToolContext(parent_image=png((32, 32))))
        assert not result.ok and "STUDIO_EDIT_MODEL" in result.error
        assert "local diffusers folder or a hub id on a machine with internet" in result.error
        assert "STUDIO_EDIT_MODEL" in tool.availability().reason
    assert time.perf_counter() - started < 2.0


def test_working_size() -> None:
    assert working_size(1024, 768, 512) == (512, 384)
    assert working_size(100, 1000, 512) == (48, 512)
    assert working_size(10, 10, 64) == (64, 64)
