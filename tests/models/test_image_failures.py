"""Diffusers that fail well: failure injection on load and placement with the tiny pipelines,
one load per model shared by both tools, the fp16 variant with its fallback, no download attempt
when the hub is unreachable, provenance, guidance overrides and warming."""

from __future__ import annotations

import gc
import io
import shutil
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import DiffusionPipeline
from PIL import Image

from models import image_loading, image_weights, images
from models.errors import ModelUnavailable
from tests.tiny_pipelines import TEST_DEVICE, TEST_DTYPE, tiny_text2image_dir
from tools.base import ToolContext
from tools.diffusion import DiffusionTool
from tools.edit import EditTool
from tools.params import DiffusionParams, EditParams

PROMPT = DiffusionParams(prompt="a lighthouse")


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def t2i_dir() -> Path:
    torch.set_num_threads(1)
    return tiny_text2image_dir()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    images.release()
    yield
    images.release()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every from_pretrained the studio makes: (source, variant)."""
    calls: list[tuple[str, Any]] = []
    real = image_loading._from_pretrained

    def counting(source: str, dtype: Any, local_only: bool, variant: str | None) -> Any:
        calls.append((source, variant))
        return real(source, dtype, local_only, variant)

    monkeypatch.setattr(image_loading, "_from_pretrained", counting)
    return calls


def test_out_of_memory_on_placement_fails_once_with_a_hint_and_drops_the_pipeline(
    t2i_dir: Path, loads: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    placed: list[weakref.ref[Any]] = []

    def oom(self: Any, *args: Any, **kwargs: Any) -> Any:
        placed.append(weakref.ref(self))
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB (GPU 0; 4.00 GiB free)")

    monkeypatch.setattr(DiffusionPipeline, "to", oom)
    tool = DiffusionTool(str(t2i_dir), steps=1, size=32, device=TEST_DEVICE)
    results = [tool.run(PROMPT, ToolContext(seed=i)) for i in range(3)]  # three tags of one article
    assert [r.ok for r in results] == [False, False, False]
    assert len(loads) == 1 and len(placed) == 1  # one load, then the remembered reason
    assert results[0].error == results[1].error == results[2].error
    error = results[0].error or ""
    assert "is unavailable" in error and "OutOfMemoryError" in error and "out of memory" in error.lower()
    assert "STUDIO_DIFFUSION_MODEL" in error and "smaller model" in error
    gc.collect()
    assert placed[0]() is None  # the half-placed pipeline is gone, not kept by a cached traceback
    assert images.cached_keys() == []
    # The edit tool on the same model gets the same remembered failure, without a load.
    edit = EditTool(str(t2i_dir), steps=1, size=32, device=TEST_DEVICE)
    failed = edit.run(EditParams(img_index=0, prompt="at night"), ToolContext(parent_image=png((32, 32)), seed=1))
    assert not failed.ok and "OutOfMemoryError" in (failed.error or "") and "STUDIO_EDIT_MODEL" in (failed.error or "")
    assert len(loads) == 1
    # release() (a new settings apply, or a test) forgets it; a good load then works.
    monkeypatch.undo()
    images.release()
    assert tool.run(PROMPT, ToolContext(seed=1)).ok


def test_the_gpu_hint_names_vllm_offload_and_a_smaller_model() -> None:
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
    hint = image_loading.load_hint(oom, "cuda", "none").format(setting="STUDIO_DIFFUSION_MODEL")
    assert "--gpu-memory-utilization" in hint and "STUDIO_DIFFUSION_OFFLOAD=model" in hint
    assert "STUDIO_DIFFUSION_MODEL to a smaller model" in hint
    assert "STUDIO_DIFFUSION_OFFLOAD=sequential" in image_loading.load_hint(oom, "cuda", "model")


def test_an_exception_inside_the_load_is_remembered_not_retried_per_tag(
    t2i_dir: Path, loads: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(cls: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(DiffusionPipeline, "from_pretrained", classmethod(broken))
    tool = DiffusionTool(str(t2i_dir), steps=1, size=32, device=TEST_DEVICE)
    errors = [tool.run(PROMPT, ToolContext(seed=i)).error for i in range(4)]
    assert len(loads) == 1
    assert len(set(errors)) == 1 and "RuntimeError: CUDA error: an illegal memory access" in (errors[0] or "")


def test_a_damaged_weights_file_is_a_cached_reason(t2i_dir: Path, tmp_path: Path, loads: list) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(t2i_dir, damaged)
    weights = next((damaged / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:64])  # a download cut short
    assert images.is_available(str(damaged)) == (True, "")  # the cheap check cannot tell
    tool = DiffusionTool(str(damaged), steps=1, size=32, device=TEST_DEVICE)
    first, second = (tool.run(PROMPT, ToolContext(seed=1)) for _ in range(2))
    assert not first.ok and first.error == second.error and len(loads) == 1
    assert "damaged or incomplete" in (first.error or "") and str(damaged) in (first.error or "")


def test_edit_and_diffusion_on_one_model_load_it_once(t2i_dir: Path, loads: list) -> None:
    diffusion = DiffusionTool(str(t2i_dir), steps=1, size=32, device=TEST_DEVICE)
    edit = EditTool(str(t2i_dir), steps=1, size=32, strength=0.5, device=TEST_DEVICE)
    picture = diffusion.run(PROMPT, ToolContext(seed=3))
    edited = edit.run(EditParams(img_index=0, prompt="at dusk"), ToolContext(parent_image=picture.image, seed=3))
    assert picture.ok and edited.ok, (picture.error, edited.error)
    assert len(loads) == 1
    t2i = images.load_text2image(str(t2i_dir), device=TEST_DEVICE)
    i2i = images.load_edit(str(t2i_dir), device=TEST_DEVICE)
    assert t2i.pipe.unet is i2i.pipe.unet and t2i.lock is i2i.lock  # shared modules, one lock
    assert type(i2i.pipe).__name__ == "StableDiffusionImg2ImgPipeline"
    # Closing one tool keeps the weights the other still uses.
    diffusion.close()
    assert images.cached_keys() == [("edit", str(t2i_dir), TEST_DEVICE)]
    assert edit.run(EditParams(img_index=0, prompt="x"), ToolContext(parent_image=picture.image, seed=1)).ok
    assert len(loads) == 1


def test_fp16_variant_is_asked_for_and_falls_back_to_the_main_files(
    t2i_dir: Path, tmp_path: Path, loads: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only CUDA asks for the variant; pretend this device is one that does.
    monkeypatch.setattr(image_loading, "variant_for", lambda device: "fp16")
    plain = images.load_text2image(str(t2i_dir), device=TEST_DEVICE)
    assert loads == [(str(t2i_dir), "fp16"), (str(t2i_dir), None)] and plain.variant is None
    only_fp16 = tmp_path / "fp16"
    plain.pipe.save_pretrained(only_fp16, variant="fp16")
    loaded = images.load_text2image(str(only_fp16), device=TEST_DEVICE)
    assert loads[-1] == (str(only_fp16), "fp16") and loaded.variant == "fp16"
    assert loaded.provenance()["variant"] == "fp16"
    # Off CUDA the main files come first; a folder with only fp16 files still loads (upcast).
    monkeypatch.setattr(image_loading, "variant_for", lambda device: None)
    images.release()
    upcast = images.load_text2image(str(only_fp16), device=TEST_DEVICE)
    assert loads[-2:] == [(str(only_fp16), None), (str(only_fp16), "fp16")] and upcast.variant == "fp16"
    assert upcast.dtype_name == TEST_DTYPE


def test_no_download_attempt_when_the_hub_is_unreachable(
    tmp_path: Path, loads: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(image_loading, "hub_reachable", lambda: False)
    tool = DiffusionTool("llmi-studio-tests/not-cached", device=TEST_DEVICE, allow_downloads=True)
    result = tool.run(PROMPT, ToolContext(seed=1))
    assert not result.ok and "huggingface.co is unreachable" in (result.error or "")
    assert loads == []  # diffusers (and its retries) never ran


def test_provenance_records_device_dtype_and_versions(t2i_dir: Path) -> None:
    import diffusers

    result = DiffusionTool(str(t2i_dir), steps=1, size=32, device=TEST_DEVICE, offload="model").run(
        PROMPT, ToolContext(seed=1)
    )
    assert result.ok, result.error
    prov = result.provenance
    assert prov["device"] == TEST_DEVICE and prov["dtype"] == TEST_DTYPE
    assert prov["pipeline"] == "StableDiffusionPipeline"
    assert prov["versions"]["diffusers"] == diffusers.__version__ and prov["versions"]["torch"] == torch.__version__
    assert prov.get("offload") == ("model" if TEST_DEVICE == "cuda" else None)  # offload only applies on CUDA


def test_guidance_overrides_beat_the_name_heuristic(t2i_dir: Path, tmp_path: Path) -> None:
    turbo = tmp_path / "my-sd-turbo"  # a local folder whose name says turbo
    shutil.copytree(t2i_dir, turbo)
    parent = ToolContext(parent_image=png((32, 32)), seed=2)
    by_name = EditTool(str(turbo), steps=1, size=32, strength=0.5, device=TEST_DEVICE)
    result = by_name.run(EditParams(img_index=0, prompt="snow"), parent)
    assert result.ok and result.provenance["guidance"] == 0.0  # img2img fallback of a turbo model
    plain = EditTool(str(t2i_dir), steps=1, size=32, strength=0.5, device=TEST_DEVICE)
    assert plain.run(EditParams(img_index=0, prompt="snow"), parent).provenance["guidance"] == 7.5
    forced = EditTool(str(turbo), steps=1, size=32, strength=0.5, guidance=1.0, device=TEST_DEVICE)
    assert forced.run(EditParams(img_index=0, prompt="snow"), parent).provenance["guidance"] == 1.0
    assert DiffusionTool(str(t2i_dir), guidance=0.0).guidance == 0.0


def test_warm_loads_only_when_configured(t2i_dir: Path, tmp_path: Path) -> None:
    DiffusionTool(str(t2i_dir), device=TEST_DEVICE).warm()
    assert images.cached_keys() == []
    DiffusionTool(str(t2i_dir), device=TEST_DEVICE, warm_on_start=True).warm()
    EditTool(str(t2i_dir), device=TEST_DEVICE, warm_on_start=True).warm()
    keys = [("edit", str(t2i_dir), TEST_DEVICE), ("text2image", str(t2i_dir), TEST_DEVICE)]
    assert sorted(images.cached_keys()) == keys
    EditTool(str(tmp_path / "absent"), device=TEST_DEVICE, warm_on_start=True).warm()  # logs, never raises


def test_cpu_torch_on_a_gpu_machine_is_a_loud_warning(tmp_path: Path) -> None:
    driver = tmp_path / "nvidia0"  # stands in for /dev/nvidia0: no GPU here
    driver.write_text("")
    warning = image_weights.cpu_torch_on_gpu_machine([str(driver)])
    if torch.version.cuda is None:
        assert "CPU-only build" in warning and "download.pytorch.org/whl/cu" in warning
    else:
        assert warning == ""
    assert image_weights.cpu_torch_on_gpu_machine([str(tmp_path / "none")]) == ""


def test_unknown_offload_is_a_config_error(t2i_dir: Path) -> None:
    from models.errors import ConfigError

    with pytest.raises(ConfigError, match="STUDIO_DIFFUSION_OFFLOAD"):
        images.load_text2image(str(t2i_dir), device=TEST_DEVICE, offload="disk")
    with pytest.raises(ModelUnavailable):
        images.load_text2image(str(t2i_dir / "nope"), device=TEST_DEVICE)
