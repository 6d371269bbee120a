"""models.images: availability checks, loading by local path and from the HF cache, caching,
thread safety and clear errors, against tiny real diffusers pipelines built on disk."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from models import image_weights, images
from models.errors import ConfigError, ModelUnavailable
from tests.tiny_pipelines import TEST_DEVICE, TEST_DTYPE, tiny_instruct_pix2pix_dir, tiny_text2image_dir

ABSENT_REPO = "llmi-studio-tests/no-such-model"


@pytest.fixture(scope="session")
def t2i_dir() -> Path:
    torch.set_num_threads(1)
    return tiny_text2image_dir()


@pytest.fixture(scope="session")
def p2p_dir() -> Path:
    return tiny_instruct_pix2pix_dir()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    images.release()
    yield
    images.release()


def test_complete_local_folder_is_available(t2i_dir: Path) -> None:
    assert images.is_available(str(t2i_dir)) == (True, "")


def test_missing_folder_and_non_pipeline_folder_are_not_available(tmp_path: Path) -> None:
    ok, why = images.is_available(str(tmp_path / "nothing"))
    assert not ok and "does not exist" in why
    ok, why = images.is_available(str(tmp_path))
    assert not ok and "model_index.json" in why


def test_folder_with_a_component_lacking_weights_is_not_available(t2i_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "partial"
    shutil.copytree(t2i_dir, copy)
    (copy / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    ok, why = images.is_available(str(copy))
    assert not ok and "unet" in why and "no weight file" in why


def test_uncached_hub_id_depends_on_downloads_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    ok, why = images.is_available(ABSENT_REPO, allow_downloads=False)
    assert not ok and "downloads are off" in why
    # the live hub cannot be reached from here: its reachability is the one thing replaced
    monkeypatch.setattr(image_weights, "hub_reachable", lambda: True)
    ok, why = images.is_available(ABSENT_REPO, allow_downloads=True)
    assert ok and "downloaded on first use" in why
    monkeypatch.setattr(image_weights, "hub_reachable", lambda: False)
    ok, why = images.is_available(ABSENT_REPO, allow_downloads=True)
    assert not ok and "unreachable" in why
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ok, why = images.is_available(ABSENT_REPO, allow_downloads=True)
    assert not ok and "HF_HUB_OFFLINE" in why


def _fake_hf_cache(cache: Path, repo_id: str, pipeline_dir: Path) -> None:
    """Lay a pipeline out the way huggingface_hub caches a downloaded repo."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    shutil.copytree(pipeline_dir, repo / "snapshots" / ("0" * 40))


def test_hub_id_in_the_hf_cache_loads_without_network(
    t2i_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _fake_hf_cache(tmp_path, "someone/tiny-sd", t2i_dir)
    assert images.is_available("someone/tiny-sd") == (True, "")
    loaded = images.load_text2image("someone/tiny-sd", device=TEST_DEVICE, allow_downloads=False)
    assert type(loaded.pipe).__name__ == "StableDiffusionPipeline"


def test_load_once_and_share_across_threads(t2i_dir: Path) -> None:
    got: list[images.LoadedPipeline] = []
    threads = [
        threading.Thread(target=lambda: got.append(images.load_text2image(str(t2i_dir), device=TEST_DEVICE)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 4 and all(item is got[0] for item in got)
    assert got[0].device == TEST_DEVICE and got[0].dtype_name == TEST_DTYPE
    assert images.release(kind="text2image") == 1
    assert images.load_text2image(str(t2i_dir), device=TEST_DEVICE) is not got[0]


def test_edit_pipeline_kinds(t2i_dir: Path, p2p_dir: Path) -> None:
    instruct = images.load_edit(str(p2p_dir), device=TEST_DEVICE)
    assert instruct.is_instruct and type(instruct.pipe).__name__ == "StableDiffusionInstructPix2PixPipeline"
    # A plain text-to-image model becomes its image-to-image sibling for editing.
    fallback = images.load_edit(str(t2i_dir), device=TEST_DEVICE)
    assert not fallback.is_instruct and type(fallback.pipe).__name__ == "StableDiffusionImg2ImgPipeline"


def test_missing_weights_name_the_setting_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable, match="STUDIO_DIFFUSION_MODEL") as first:
        images.load_text2image(str(tmp_path / "absent"), device=TEST_DEVICE)
    assert "local diffusers folder or a hub id on a machine with internet" in str(first.value)
    with pytest.raises(ModelUnavailable, match="STUDIO_EDIT_MODEL"):
        images.load_edit(ABSENT_REPO, device=TEST_DEVICE, allow_downloads=True)
    assert time.perf_counter() - started < 2.0


def test_a_failure_is_remembered_until_released(t2i_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "later"
    with pytest.raises(ModelUnavailable):
        images.load_text2image(str(folder), device=TEST_DEVICE)
    shutil.copytree(t2i_dir, folder)
    with pytest.raises(ModelUnavailable):  # within FAILURE_TTL_S: no second slow attempt
        images.load_text2image(str(folder), device=TEST_DEVICE)
    images.release()
    assert images.load_text2image(str(folder), device=TEST_DEVICE).pipe is not None


def test_device_resolution() -> None:
    assert images.resolve_device("cpu") == "cpu"
    assert images.resolve_device("auto") in {"cpu", "cuda", "mps"}
    assert images.dtype_for("cuda") == torch.float16 and images.dtype_for("cpu") == torch.float32
    with pytest.raises(ConfigError, match="STUDIO_DEVICE"):
        images.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no cuda device"):
            images.resolve_device("cuda")
