"""diffusers pipelines for the diffusion and edit tools: load once, share, serialise, fail well.

Loading is expensive (seconds to minutes, gigabytes), so each model's weights are loaded once
per (model, device, offload) and kept for the life of the process; the two tools get *views*
of it (``from_pipe``: same modules, no second copy), so an edit model equal to the diffusion
model costs nothing more, and a plain text-to-image model serves edits as image-to-image. Views
of one model share its components (the scheduler keeps per-call state), so they share one lock,
and every inference holds it; loading sits behind a per-model lock too.

On CUDA the weights load in float16 from the repository's ``fp16`` variant where it has one
(half the download), falling back to the main files. ``offload`` ("model" / "sequential")
keeps weights in CPU memory and moves them to the GPU as they run, for a GPU shared with vLLM.

Failing well: weights that are absent become ``ModelUnavailable`` naming the setting to change,
remembered for FAILURE_TTL_S (so four tags do not wait four times for a network timeout). Any
other exception while loading or placing (CUDA out of memory, a damaged safetensors file, an
unknown pipeline class) becomes ``ModelUnavailable`` with the reason and a hint, remembered
until ``release()``: every later tag fails at once with the same reason instead of reloading
gigabytes. The half-built pipeline is dropped and the CUDA cache emptied. One load, its
placement and its failure reasons are models.image_loading; where the weights are
(availability, devices) is models.image_weights; names are re-exported here.
"""

from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from cachetools import TLRUCache

from models.errors import ConfigError, ModelUnavailable
from models.image_loading import LoadedPipeline, LoadFailed, free_memory, load_base, reason, unavailable, variant_for
from models.image_weights import (
    DIFFUSION_SETTING,
    EDIT_SETTING,
    DevicePref,
    Kind,
    cpu_torch_on_gpu_machine,
    dtype_for,
    hub_offline,
    is_available,
    looks_like_path,
    resolve_device,
)

__all__ = [
    "DIFFUSION_SETTING",
    "EDIT_SETTING",
    "FAILURE_TTL_S",
    "DevicePref",
    "Kind",
    "LoadedPipeline",
    "ModelUnavailable",
    "Offload",
    "cached_keys",
    "cpu_torch_on_gpu_machine",
    "dtype_for",
    "get_pipeline",
    "hub_offline",
    "is_available",
    "load_edit",
    "load_text2image",
    "looks_like_path",
    "release",
    "resolve_device",
    "variant_for",
]

Offload = Literal["none", "model", "sequential"]
OFFLOADS: tuple[str, ...] = ("none", "model", "sequential")

# An absent model (no weights, no network) is remembered this long, so an article with four
# diffusion tags does not wait four times for the same network timeout. A model that was there
# but failed to load or place is remembered until release().
FAILURE_TTL_S = 60.0
FOREVER = float("inf")


@dataclass
class _Failure:
    expires: float
    why: str
    hint: str  # "" -> the setting hint for an absent model


BaseKey = tuple[str, str, str]  # (model, device, offload)
ViewKey = tuple[str, str, str]  # (kind, model, device)

_bases: dict[BaseKey, LoadedPipeline] = {}
_cache: dict[ViewKey, LoadedPipeline] = {}
# Each failure expires at its own time (an absent model after FAILURE_TTL_S, a broken one never):
# cachetools' time-aware LRU drops it then, so a look-up is a plain get.
_failures: TLRUCache[tuple[str, ...], _Failure] = TLRUCache(
    maxsize=256, ttu=lambda _key, failure, _now: failure.expires, timer=time.monotonic
)
_cache_lock = threading.Lock()
_key_locks: dict[BaseKey, threading.Lock] = {}


def _view(kind: Kind, base: LoadedPipeline) -> Any:
    """The pipeline a tool runs: the base itself, or its text-to-image / image-to-image sibling
    sharing the same modules (an instruct model is used for edits as it is)."""
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image

    takes_image = "image" in inspect.signature(base.pipe.__call__).parameters
    if kind == "edit":
        return base.pipe if takes_image else AutoPipelineForImage2Image.from_pipe(base.pipe)
    return AutoPipelineForText2Image.from_pipe(base.pipe) if takes_image else base.pipe


def _remembered(key: tuple[str, ...]) -> _Failure | None:
    return _failures.get(key)


def get_pipeline(
    kind: Kind, model: str, *, device: str = "auto", allow_downloads: bool = True, offload: str = "none"
) -> LoadedPipeline:
    """The cached pipeline for (kind, model, device), loading the weights on first use.

    Raises ModelUnavailable (weights absent, download refused or failed, load or placement
    failed: see the module docstring) or ConfigError (forced device absent, unknown offload).
    Concurrent first calls load once: each model has its own lock, so loading one model does not
    hold up users of another.
    """
    resolved = resolve_device(device)
    if offload not in OFFLOADS:
        raise ConfigError(f"STUDIO_DIFFUSION_OFFLOAD={offload!r} is not one of {', '.join(OFFLOADS)}")
    key: ViewKey = (kind, model, resolved)
    base_key: BaseKey = (model, resolved, offload)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
        key_lock = _key_locks.setdefault(base_key, threading.Lock())
    with key_lock:
        with _cache_lock:
            hit = _cache.get(key)
            base = _bases.get(base_key)
            failed = _remembered(("base", *base_key)) or _remembered(("view", *key))
        if hit is not None:
            return hit
        if failed is not None:
            raise unavailable(kind, model, failed.why, failed.hint)
        if base is None:
            try:
                base = load_base(kind, model, resolved, offload, allow_downloads)
            except LoadFailed as exc:
                expires = time.monotonic() + FAILURE_TTL_S if exc.absent else FOREVER
                with _cache_lock:
                    _failures[("base", *base_key)] = _Failure(expires, exc.why, exc.hint)
                raise
            with _cache_lock:
                _bases[base_key] = base
        try:
            pipe = _view(kind, base)
        except Exception as exc:  # noqa: BLE001 - e.g. an instruct model set as the diffusion model
            why = reason(exc)
            hint = "Set {setting} to a model of the right kind"
            with _cache_lock:
                _failures[("view", *key)] = _Failure(FOREVER, why, hint)
            raise unavailable(kind, model, why, hint) from None
        loaded = LoadedPipeline(
            pipe=pipe,
            model=model,
            kind=kind,
            device=base.device,
            dtype_name=base.dtype_name,
            lock=base.lock,  # views share modules and the scheduler: one lock for all
            offload=base.offload,
            variant=base.variant,
            load_s=base.load_s,
        )
        with _cache_lock:
            _cache[key] = loaded
        return loaded


def load_text2image(
    model: str, *, device: str = "auto", allow_downloads: bool = True, offload: str = "none"
) -> LoadedPipeline:
    """Text-to-image pipeline for STUDIO_DIFFUSION_MODEL (cached)."""
    return get_pipeline("text2image", model, device=device, allow_downloads=allow_downloads, offload=offload)


def load_edit(
    model: str, *, device: str = "auto", allow_downloads: bool = True, offload: str = "none"
) -> LoadedPipeline:
    """Instruction-edit (InstructPix2Pix) or image-to-image pipeline for STUDIO_EDIT_MODEL (cached)."""
    return get_pipeline("edit", model, device=device, allow_downloads=allow_downloads, offload=offload)


def cached_keys() -> list[tuple[str, str, str]]:
    """(kind, model, device) of every pipeline now in memory (diagnostics, tests)."""
    with _cache_lock:
        return list(_cache)


def release(kind: Kind | None = None, model: str | None = None) -> int:
    """Drop cached pipelines (all, or those matching kind/model) and remembered failures;
    returns how many pipelines were dropped. A model's weights go once no tool's view of them is
    left (memory is freed once no caller still holds one)."""

    def matches(k: str | None, m: str) -> bool:
        return (kind is None or k is None or k == kind) and (model is None or m == model)

    with _cache_lock:
        keys = [key for key in _cache if matches(key[0], key[1])]
        for key in keys:
            del _cache[key]
        for fkey in list(_failures):
            if matches(fkey[1] if fkey[0] == "view" else None, fkey[2] if fkey[0] == "view" else fkey[1]):
                del _failures[fkey]
        in_use = {(m, d) for (_, m, d) in _cache}
        gone = [b for b in _bases if (b[0], b[1]) not in in_use and (model is None or b[0] == model)]
        devices = {b[1] for b in gone}
        for base_key in gone:
            del _bases[base_key]
    if gone:
        for device in devices:
            free_memory(device)
    return len(keys)
