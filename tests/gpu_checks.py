"""The GPU smoke's checks, shared by bench/gpu_smoke.py and the GPU-marked pytest
(tests/models/test_gpu.py). No network, no weights: tiny config-built pipelines.

Each check takes the device ("cuda", or "cpu" for the allow-CPU run), raises AssertionError
with a readable message when something is wrong, and returns its figures as a dict.
"""

from __future__ import annotations

import gc
import io
import statistics
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from models import images
from tests.tiny_pipelines import tiny_instruct_pix2pix_dir, tiny_text2image_dir
from tools.base import ToolContext
from tools.diffusion import DiffusionTool
from tools.edit import EditTool
from tools.params import DiffusionParams, EditParams

PROMPT = DiffusionParams(prompt="a lighthouse at dawn")
SIZE = 64


def _dtype_for(device: str) -> str:
    return "float16" if device == "cuda" else "float32"


def detect() -> dict[str, Any]:
    """What torch sees: CUDA or not, the device, versions, and the CPU-torch-on-GPU warning."""
    import torch

    from models.image_weights import cpu_torch_on_gpu_machine

    facts: dict[str, Any] = {
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "warning": cpu_torch_on_gpu_machine(),
    }
    if facts["cuda_available"]:
        index = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)
        facts.update(
            device_name=torch.cuda.get_device_name(index),
            capability=".".join(map(str, torch.cuda.get_device_capability(index))),
            memory_total_gib=round(total / 2**30, 1),
            memory_free_gib=round(free / 2**30, 1),
        )
    return facts


def check_load_and_placement(device: str) -> dict[str, Any]:
    """The tiny pipelines load in the studio's dtype, every module on the device; a folder with
    only fp16 files loads them (on CUDA as they are, elsewhere upcast)."""
    images.release()
    loaded = images.load_text2image(str(tiny_text2image_dir()), device=device)
    assert loaded.dtype_name == _dtype_for(device), loaded.dtype_name
    for name in ("unet", "vae", "text_encoder"):
        module = getattr(loaded.pipe, name)
        param = next(module.parameters())
        assert param.device.type == device, f"{name} is on {param.device}, not {device}"
        assert str(param.dtype).endswith(_dtype_for(device)), f"{name} is {param.dtype}"
    with tempfile.TemporaryDirectory(prefix="fp16-variant-") as folder:
        loaded.pipe.save_pretrained(folder, variant="fp16")
        variant = images.load_text2image(folder, device=device)
        assert variant.variant == "fp16", f"variant {variant.variant!r}, expected 'fp16'"
        assert variant.dtype_name == _dtype_for(device), variant.dtype_name
        images.release(model=folder)
    return {"dtype": loaded.dtype_name, "variant_folder": variant.variant, "load_s": round(loaded.load_s, 3)}


def check_finite_output(device: str) -> dict[str, Any]:
    """A real denoising run gives finite, non-constant pixels (fp16 overflow shows as NaN/black)."""
    import numpy as np
    import torch

    loaded = images.load_text2image(str(tiny_text2image_dir()), device=device)
    with loaded.lock:
        out = loaded.pipe(
            prompt="a lighthouse",
            num_inference_steps=2,
            guidance_scale=7.5,
            height=SIZE,
            width=SIZE,
            output_type="np",
            generator=torch.Generator("cpu").manual_seed(0),
        )
    pixels = np.asarray(out.images)
    assert np.isfinite(pixels).all(), "the picture has NaN or inf pixels"
    assert float(pixels.std()) > 1e-4, "the picture is one flat colour"
    return {"shape": list(pixels.shape), "std": round(float(pixels.std()), 4)}


def check_same_seed(device: str) -> dict[str, Any]:
    """Same seed, same PNG bytes; another seed, another picture."""
    tool = DiffusionTool(str(tiny_text2image_dir()), steps=2, size=SIZE, guidance=7.5, device=device)
    first, again, other = (tool.run(PROMPT, ToolContext(seed=s)) for s in (7, 7, 8))
    assert first.ok and again.ok and other.ok, (first.error, again.error, other.error)
    assert first.image == again.image, "the same seed gave a different picture"
    assert first.image != other.image, "another seed gave the same picture"
    return {"png_bytes": len(first.image or b"")}


def check_threads(device: str, workers: int = 4) -> dict[str, Any]:
    """``workers`` threads at once against the load lock and the pipeline lock: one load, every
    run succeeds, and each seed gives what it gives alone."""
    images.release()
    tool = DiffusionTool(str(tiny_text2image_dir()), steps=2, size=SIZE, guidance=7.5, device=device)
    seeds = [1, 2] * (workers // 2) + [1] * (workers % 2)
    results: dict[int, Any] = {}
    start = threading.Barrier(workers)

    def work(i: int) -> None:
        start.wait()
        results[i] = tool.run(PROMPT, ToolContext(seed=seeds[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok for r in results.values()), [r.error for r in results.values() if not r.ok]
    assert len(images.cached_keys()) == 1, images.cached_keys()
    alone = {s: tool.run(PROMPT, ToolContext(seed=s)).image for s in set(seeds)}
    for i, seed in enumerate(seeds):
        assert results[i].image == alone[seed], f"thread {i} (seed {seed}) differs from the same seed alone"
    return {"threads": workers}


def check_edit_and_fallback(device: str) -> dict[str, Any]:
    """InstructPix2Pix edits; a plain text-to-image model edits as image-to-image, sharing the
    diffusion pipeline's modules (one load)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (SIZE, SIZE), (200, 60, 30)).save(buffer, format="PNG")
    parent = ToolContext(parent_image=buffer.getvalue(), seed=3)
    params = EditParams(img_index=0, prompt="make it night")
    instruct = EditTool(str(tiny_instruct_pix2pix_dir()), steps=2, size=SIZE, device=device).run(params, parent)
    assert instruct.ok, instruct.error
    t2i = str(tiny_text2image_dir())
    fallback = EditTool(t2i, steps=2, size=SIZE, strength=0.5, device=device).run(params, parent)
    assert fallback.ok, fallback.error
    assert fallback.provenance["pipeline"] == "StableDiffusionImg2ImgPipeline", fallback.provenance
    shared = images.load_text2image(t2i, device=device).pipe.unet is images.load_edit(t2i, device=device).pipe.unet
    assert shared, "the edit fallback loaded a second copy of the weights"
    return {"instruct_device": instruct.provenance["device"], "fallback_shares_weights": shared}


def check_offload(device: str) -> dict[str, Any]:
    """STUDIO_DIFFUSION_OFFLOAD=model on CUDA: weights stay in CPU memory between runs."""
    if device != "cuda":
        return {"skipped": "offload applies on CUDA only"}
    images.release()
    tool = DiffusionTool(str(tiny_text2image_dir()), steps=2, size=SIZE, device=device, offload="model")
    result = tool.run(PROMPT, ToolContext(seed=1))
    assert result.ok and result.provenance.get("offload") == "model", (result.error, result.provenance)
    unet = images.load_text2image(str(tiny_text2image_dir()), device=device, offload="model").pipe.unet
    where = next(unet.parameters()).device.type
    images.release()
    return {"unet_between_runs": where}


def check_memory_released(device: str) -> dict[str, Any]:
    """release() gives the memory back: the pipeline object dies; on CUDA allocated memory
    returns to where it was before the load."""
    import torch

    images.release()
    gc.collect()
    before = torch.cuda.memory_allocated() if device == "cuda" else 0
    loaded = images.load_text2image(str(tiny_text2image_dir()), device=device)
    during = torch.cuda.memory_allocated() if device == "cuda" else 0
    ref = weakref.ref(loaded.pipe)
    del loaded
    images.release()
    gc.collect()
    after = torch.cuda.memory_allocated() if device == "cuda" else 0
    assert ref() is None, "the released pipeline is still alive"
    if device == "cuda":
        assert during > before, "loading allocated no CUDA memory: is the pipeline on the GPU?"
        assert after <= before + 2**20, f"{after - before} bytes still allocated after release()"
    return {"allocated_before": before, "allocated_loaded": during, "allocated_after": after}


def measure_overhead(device: str, runs: int = 20) -> dict[str, Any]:
    """ms per image of the tiny pipeline alone and through the diffusion tool (PNG, seed,
    provenance, locks): with tiny weights this is the overhead a real model adds its compute to."""
    import torch

    tool = DiffusionTool(str(tiny_text2image_dir()), steps=1, size=SIZE, guidance=0.0, device=device)
    loaded = tool.load()
    tool.run(PROMPT, ToolContext(seed=0))  # warm-up (CUDA kernels, allocator)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def pipeline_alone(seed: int) -> None:
        with loaded.lock:
            loaded.pipe(
                prompt=PROMPT.prompt,
                num_inference_steps=1,
                guidance_scale=0.0,
                height=SIZE,
                width=SIZE,
                generator=torch.Generator("cpu").manual_seed(seed),
            )

    def through_tool(seed: int) -> None:
        assert tool.run(PROMPT, ToolContext(seed=seed)).ok

    raw: list[float] = []
    full: list[float] = []
    for i in range(runs):  # side by side, alternating which goes first
        order = [(pipeline_alone, raw), (through_tool, full)]
        for call, times in order if i % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            call(i)
            sync()
            times.append((time.perf_counter() - started) * 1000)
    return {
        "runs": runs,
        "pipeline_ms_median": round(statistics.median(raw), 2),
        "tool_ms_median": round(statistics.median(full), 2),
        "tool_over_pipeline": round(statistics.median(full) / statistics.median(raw), 3),
    }


CHECKS = {
    "load_and_placement": check_load_and_placement,
    "finite_output": check_finite_output,
    "same_seed": check_same_seed,
    "threads": check_threads,
    "edit_and_fallback": check_edit_and_fallback,
    "offload": check_offload,
    "memory_released": check_memory_released,
}


def run_checks(device: str) -> dict[str, dict[str, Any]]:
    """Every check in order: {name: {"ok": bool, ...figures or "error"}} (never raises)."""
    out: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            out[name] = {"ok": True, **check(device)}
        except Exception as exc:  # noqa: BLE001 - a smoke reports every failure, then fails
            out[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out[name]["seconds"] = round(time.perf_counter() - started, 2)
    images.release()
    return out


def diffusion_test_paths() -> list[str]:
    """The project's diffusion tests (run with STUDIO_TEST_DEVICE set by the smoke)."""
    root = Path(__file__).resolve().parent
    return [
        str(root / "models" / "test_images.py"),
        str(root / "models" / "test_image_failures.py"),
        str(root / "models" / "test_gpu.py"),
        str(root / "tools" / "test_diffusion.py"),
        str(root / "tools" / "test_edit.py"),
    ]
