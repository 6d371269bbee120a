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
gigabytes. The half-built pipeline is dropped and the CUDA cache emptied. Where the weights are
(availability, devices) lives in models.image_weights; names are re-exported here.
"""

from __future__ import annotations

import gc
import inspect
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from models.errors import ModelUnavailable
from models.image_weights import (
    DIFFUSION_SETTING,
    EDIT_SETTING,
    SETTING_BY_KIND,
    DevicePref,
    Kind,
    cpu_torch_on_gpu_machine,
    dtype_for,
    folder_problem,
    hub_offline,
    is_available,
    library_versions,
    looks_like_path,
    resolve_device,
)
from models.weights import hub_reachable

__all__ = [
    "DIFFUSION_SETTING",
    "EDIT_SETTING",
    "FAILURE_TTL_S",
    "DevicePref",
    "Kind",
    "LoadedPipeline",
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

log = logging.getLogger(__name__)

Offload = Literal["none", "model", "sequential"]
OFFLOADS: tuple[str, ...] = ("none", "model", "sequential")

# An absent model (no weights, no network) is remembered this long, so an article with four
# diffusion tags does not wait four times for the same network timeout. A model that was there
# but failed to load or place is remembered until release().
FAILURE_TTL_S = 60.0
FOREVER = float("inf")


@dataclass
class LoadedPipeline:
    """A cached pipeline plus the lock every caller must hold while running it."""

    pipe: Any
    model: str
    kind: Kind
    device: str
    dtype_name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    offload: str = "none"
    variant: str | None = None  # "fp16" when the half-precision files were loaded
    load_s: float = 0.0

    @property
    def is_instruct(self) -> bool:
        """True for InstructPix2Pix-style pipelines (they take ``image_guidance_scale``)."""
        return "image_guidance_scale" in inspect.signature(self.pipe.__call__).parameters

    def provenance(self) -> dict[str, Any]:
        """Where and how this pipeline runs, for a picture's provenance: device, dtype, offload,
        weights variant, class and library versions."""
        facts: dict[str, Any] = {
            "device": self.device,
            "dtype": self.dtype_name,
            "pipeline": type(self.pipe).__name__,
            "versions": library_versions(),
        }
        if self.offload != "none":
            facts["offload"] = self.offload
        if self.variant:
            facts["variant"] = self.variant
        return facts


@dataclass
class _Failure:
    expires: float
    why: str
    hint: str  # "" -> the setting hint for an absent model


class _LoadFailed(ModelUnavailable):
    """Internal: carries the facts to remember about a failed load."""

    def __init__(self, message: str, why: str, hint: str, *, absent: bool) -> None:
        super().__init__(message)
        self.why, self.hint, self.absent = why, hint, absent


BaseKey = tuple[str, str, str]  # (model, device, offload)
ViewKey = tuple[str, str, str]  # (kind, model, device)

_bases: dict[BaseKey, LoadedPipeline] = {}
_cache: dict[ViewKey, LoadedPipeline] = {}
_failures: dict[tuple[str, ...], _Failure] = {}
_cache_lock = threading.Lock()
_key_locks: dict[BaseKey, threading.Lock] = {}


# --- errors -------------------------------------------------------------------------------------


def _what(kind: Kind) -> str:
    return "image generation" if kind == "text2image" else "image editing"


def _unavailable(kind: Kind, model: str, why: str, hint: str = "") -> ModelUnavailable:
    setting = SETTING_BY_KIND[kind]
    if not hint:
        return ModelUnavailable(
            f"{_what(kind)} model {model!r} is not available: {why}. Set {setting} to a local diffusers folder "
            "or a hub id on a machine with internet"
        )
    why = why.rstrip(". ")
    return ModelUnavailable(f"{_what(kind)} model {model!r} is unavailable: {why}. {hint.format(setting=setting)}")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError | MemoryError) or "out of memory" in str(exc).lower()


def _hint(exc: BaseException, device: str, offload: str) -> str:
    """What to change after a load or placement failure (``{setting}`` is filled in per tool)."""
    if _is_oom(exc) and device == "cuda":
        steps = ["lower vLLM's --gpu-memory-utilization (e.g. 0.6) so the pictures get GPU memory"]
        if offload != "sequential":
            steps.append(f"set STUDIO_DIFFUSION_OFFLOAD={'model' if offload == 'none' else 'sequential'}")
        steps.append("or set {setting} to a smaller model")
        return "Out of GPU memory: " + ", ".join(steps)
    if _is_oom(exc):
        return "Out of memory: close other programs or set {setting} to a smaller model"
    return (
        "If its files are damaged or incomplete, fetch them again (a hub id: `hf cache rm model/ID`, then let "
        "the studio download it), or set {setting} to another model"
    )


def _free_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()


# --- loading ----------------------------------------------------------------------------------


def variant_for(device: str) -> str | None:
    """The weights variant to ask for: "fp16" on CUDA (half the download of sd-turbo), else the main files."""
    return "fp16" if device == "cuda" else None


def _from_pretrained(source: str, dtype: Any, local_only: bool, variant: str | None) -> Any:
    """One diffusers load of the whole repository; the class comes from its model_index.json."""
    from diffusers import DiffusionPipeline

    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": local_only}
    if variant:
        kwargs["variant"] = variant
    return DiffusionPipeline.from_pretrained(source, **kwargs)


def _absent(kind: Kind, model: str, why: str) -> _LoadFailed:
    return _LoadFailed(str(_unavailable(kind, model, why)), why, "", absent=True)


def _source(kind: Kind, model: str, allow_downloads: bool) -> tuple[str, bool]:
    """(what to pass to from_pretrained, local files only?); _LoadFailed when absent."""
    if looks_like_path(model):
        folder = Path(model).expanduser()
        problem = f"the folder {folder} does not exist" if not folder.is_dir() else folder_problem(folder)
        if problem:
            raise _absent(kind, model, problem)
        return str(folder), True
    ok, why = is_available(model, allow_downloads=False)
    if ok:
        return model, True  # fully cached: no network round trips (and no retries when offline)
    if not allow_downloads or hub_offline():
        raise _absent(kind, model, why)
    # Before any download attempt: offline, huggingface_hub would retry for ~20 s per call.
    if not hub_reachable():
        raise _absent(kind, model, f"{model} is not in the Hugging Face cache and huggingface.co is unreachable")
    log.warning("downloading %s (first use); this can take minutes and several GB", model)
    return model, False


def _place(pipe: Any, device: str, offload: str) -> str:
    """Move the pipeline to its device, or set up CPU offload on CUDA; returns the offload used."""
    if offload != "none" and device == "cuda":
        if offload == "model":
            pipe.enable_model_cpu_offload()
        else:
            pipe.enable_sequential_cpu_offload()
        return offload
    if offload != "none":
        log.info("STUDIO_DIFFUSION_OFFLOAD=%s has no effect on %s", offload, device)
    pipe.to(device)
    return "none"


def _load_base(kind: Kind, model: str, device: str, offload: str, allow_downloads: bool) -> LoadedPipeline:
    """Load and place the weights once. ModelUnavailable on any failure, with nothing kept."""
    source, local_only = _source(kind, model, allow_downloads)
    dtype = dtype_for(device)
    started = time.perf_counter()
    pipe: Any = None
    variant = variant_for(device)
    try:
        try:
            pipe = _from_pretrained(source, dtype, local_only, variant)
        except (ValueError, OSError) as exc:
            # CUDA: no fp16 files, load the main ones. Elsewhere: only fp16 files (fetched on a GPU
            # machine), load them upcast to float32.
            other = None if variant else "fp16"
            if not _missing_files(exc, variant):
                raise
            log.info("%s has no %s files; loading its %s files", model, variant or "main", other or "main")
            variant = other
            pipe = _from_pretrained(source, dtype, local_only, other)
        used = _place(pipe, device, offload)
        pipe.set_progress_bar_config(disable=True)
    except Exception as exc:  # noqa: BLE001 - any failure here is "model unavailable", never a crash
        absent = not local_only and _is_absent(exc)  # a failed download: worth another try later
        why, hint = _reason(exc), "" if absent else _hint(exc, device, offload)
        # Drop every reference to the half-built pipeline (the traceback's frames hold it too).
        pipe = None
        traceback.clear_frames(exc.__traceback__)
        del exc
        _free_memory(device)
        raise _unavailable_failure(kind, model, device, offload, why, hint, absent) from None
    elapsed = time.perf_counter() - started
    log.info("loaded %s on %s (%s, offload %s) in %.1f s", model, device, dtype, used, elapsed)
    return LoadedPipeline(
        pipe=pipe,
        model=model,
        kind=kind,
        device=device,
        dtype_name=str(dtype).split(".")[-1],
        offload=used,
        variant=variant,
        load_s=elapsed,
    )


def _missing_files(exc: BaseException, variant: str | None) -> bool:
    """diffusers' words for "these weight files are not there" (a variant, or the main files)."""
    text = str(exc)
    return ("variant" in text and variant is not None) or (variant is None and "no file named" in text)


def _is_absent(exc: BaseException) -> bool:
    """diffusers/huggingface_hub report refused downloads and network failures as OSError
    subclasses (EntryNotFoundError aside): worth another try after FAILURE_TTL_S. Files already
    on disk that fail to load are a hard failure instead (damaged, or the wrong kind)."""
    from huggingface_hub.errors import EntryNotFoundError

    return isinstance(exc, OSError | EntryNotFoundError) and not _is_oom(exc)


def _unavailable_failure(
    kind: Kind, model: str, device: str, offload: str, why: str, hint: str, absent: bool
) -> _LoadFailed:
    log.warning("%s model %s failed to load on %s (offload %s): %s", _what(kind), model, device, offload, why)
    return _LoadFailed(str(_unavailable(kind, model, why, hint)), why, hint, absent=absent)


def _view(kind: Kind, base: LoadedPipeline) -> Any:
    """The pipeline a tool runs: the base itself, or its text-to-image / image-to-image sibling
    sharing the same modules (an instruct model is used for edits as it is)."""
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image

    takes_image = "image" in inspect.signature(base.pipe.__call__).parameters
    if kind == "edit":
        return base.pipe if takes_image else AutoPipelineForImage2Image.from_pipe(base.pipe)
    return AutoPipelineForText2Image.from_pipe(base.pipe) if takes_image else base.pipe


def _remembered(key: tuple[str, ...]) -> _Failure | None:
    failed = _failures.get(key)
    if failed is not None and time.monotonic() >= failed.expires:
        del _failures[key]
        return None
    return failed


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
        from models.errors import ConfigError

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
            raise _unavailable(kind, model, failed.why, failed.hint)
        if base is None:
            try:
                base = _load_base(kind, model, resolved, offload, allow_downloads)
            except _LoadFailed as exc:
                expires = time.monotonic() + FAILURE_TTL_S if exc.absent else FOREVER
                with _cache_lock:
                    _failures[("base", *base_key)] = _Failure(expires, exc.why, exc.hint)
                raise
            with _cache_lock:
                _bases[base_key] = base
        try:
            pipe = _view(kind, base)
        except Exception as exc:  # noqa: BLE001 - e.g. an instruct model set as the diffusion model
            why = _reason(exc)
            hint = "Set {setting} to a model of the right kind"
            with _cache_lock:
                _failures[("view", *key)] = _Failure(FOREVER, why, hint)
            raise _unavailable(kind, model, why, hint) from None
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
            _free_memory(device)
    return len(keys)
