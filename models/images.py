"""diffusers pipelines for the diffusion and edit tools: locate, load once, share, serialise.

A model is a hub id ("stabilityai/sd-turbo") or a local diffusers folder (one holding
model_index.json). Loading is expensive (seconds to minutes, gigabytes), so each pipeline is
loaded once per (kind, model, device) and cached for the life of the process; the orchestrator
runs tools from a thread pool, so loading sits behind a lock and every inference on one
pipeline holds that pipeline's own lock (diffusers pipelines are not thread-safe: the
scheduler keeps per-call state).

Weights that are not on this machine become ``ModelUnavailable`` with a message naming the
setting to change; nothing here reads the environment except huggingface_hub's own
HF_HUB_OFFLINE switch.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from models.errors import ConfigError, ModelUnavailable
from models.weights import hub_reachable

log = logging.getLogger(__name__)

Kind = Literal["text2image", "edit"]
DevicePref = Literal["auto", "cpu", "cuda", "mps"]

DIFFUSION_SETTING = "STUDIO_DIFFUSION_MODEL"
EDIT_SETTING = "STUDIO_EDIT_MODEL"
_SETTING_BY_KIND: dict[str, str] = {"text2image": DIFFUSION_SETTING, "edit": EDIT_SETTING}

# Files whose presence means a component folder really holds weights (not just its config).
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".gguf")
# A failed load (no weights, no network) is remembered this long, so an article with four
# diffusion tags does not wait four times for the same network timeout.
FAILURE_TTL_S = 60.0


@dataclass
class LoadedPipeline:
    """A cached pipeline plus the lock every caller must hold while running it."""

    pipe: Any
    model: str
    kind: Kind
    device: str
    dtype_name: str
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_instruct(self) -> bool:
        """True for InstructPix2Pix-style pipelines (they take ``image_guidance_scale``)."""
        return "image_guidance_scale" in inspect.signature(self.pipe.__call__).parameters


_cache: dict[tuple[str, str, str], LoadedPipeline] = {}
_failures: dict[tuple[str, str, str], tuple[float, ModelUnavailable]] = {}
_cache_lock = threading.Lock()
_key_locks: dict[tuple[str, str, str], threading.Lock] = {}


# --- where the weights are ------------------------------------------------------------------


def hub_offline() -> bool:
    """huggingface_hub reads HF_HUB_OFFLINE once at import; also honour a later change."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "on", "yes", "true"}
    return bool(constants.HF_HUB_OFFLINE) or flag


def looks_like_path(model: str) -> bool:
    """A hub id is "owner/name"; anything that exists, is absolute or starts with . or ~ is a path."""
    if not model:
        return False
    if model.startswith(("/", ".", "~", "\\")) or (len(model) > 1 and model[1] == ":"):
        return True
    return Path(model).exists() or model.count("/") > 1


def _folder_problem(folder: Path) -> str:
    """Why ``folder`` is not a complete diffusers pipeline ("" when it looks complete)."""
    index = folder / "model_index.json"
    if not index.is_file():
        return f"{folder} has no model_index.json (not a diffusers pipeline folder)"
    try:
        components = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{index} cannot be read: {exc}"
    for name, spec in components.items():
        if name.startswith("_") or not isinstance(spec, list) or None in spec:
            continue  # metadata, or an absent component such as a missing safety checker
        sub = folder / name
        if not sub.is_dir():
            return f"{folder} lacks the {name}/ component"
        files = [p.name for p in sub.iterdir()]
        if "config.json" in files and not any(f.endswith(_WEIGHT_SUFFIXES) for f in files):
            return f"{sub} has no weight file (incomplete download?)"
    return ""


def _cached_snapshot(repo_id: str) -> Path | None:
    """The HF cache snapshot folder of ``repo_id`` if its model_index.json is cached."""
    from huggingface_hub import try_to_load_from_cache

    try:
        hit = try_to_load_from_cache(repo_id, "model_index.json")
    except Exception:  # noqa: BLE001 - a malformed id is simply "not cached"
        return None
    return Path(hit).parent if isinstance(hit, str) else None


def is_available(model: str, *, allow_downloads: bool = False) -> tuple[bool, str]:
    """Cheap start-up check (reads a few small files, loads no weights).

    True when ``model`` is a complete local diffusers folder or a hub id whose files are in the
    HF cache; with ``allow_downloads`` and not offline, an uncached hub id also counts (it will
    be downloaded on first use). The string says why not, or notes the pending download.
    """
    if not model.strip():
        return False, "no model is set"
    if looks_like_path(model):
        folder = Path(model).expanduser()
        if not folder.is_dir():
            return False, f"the folder {folder} does not exist"
        problem = _folder_problem(folder)
        return (not problem), problem
    snapshot = _cached_snapshot(model)
    if snapshot is not None:
        problem = _folder_problem(snapshot)
        if not problem:
            return True, ""
        if not allow_downloads or hub_offline():
            return False, f"{model} is only partly in the Hugging Face cache: {problem}"
    if not allow_downloads:
        return False, f"{model} is not in the Hugging Face cache and downloads are off"
    if hub_offline():
        return False, f"{model} is not in the Hugging Face cache and HF_HUB_OFFLINE is set"
    if not hub_reachable():
        return False, f"{model} is not in the Hugging Face cache and huggingface.co is unreachable (offline?)"
    return True, f"{model} will be downloaded on first use"


# --- device and dtype -----------------------------------------------------------------------


def resolve_device(preference: str = "auto") -> str:
    """cuda > mps > cpu for "auto"; a forced device that is absent is a ConfigError."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available())}
    if preference == "auto":
        return "cuda" if has["cuda"] else "mps" if has["mps"] else "cpu"
    if preference not in has:
        raise ConfigError(f"STUDIO_DEVICE={preference!r} is not one of auto, cpu, cuda, mps")
    if not has[preference]:
        raise ConfigError(f"STUDIO_DEVICE={preference} but no {preference} device is present; set it to auto or cpu")
    return preference


def dtype_for(device: str) -> Any:
    """float16 on CUDA (half the memory, full speed); float32 elsewhere (CPU/MPS half is slow or lossy)."""
    import torch

    return torch.float16 if device == "cuda" else torch.float32


# --- loading ----------------------------------------------------------------------------------


def _unavailable(kind: Kind, model: str, why: str) -> ModelUnavailable:
    setting = _SETTING_BY_KIND[kind]
    what = "image generation" if kind == "text2image" else "image editing"
    return ModelUnavailable(
        f"{what} model {model!r} is not available: {why}. Set {setting} to a local diffusers folder "
        "or a hub id on a machine with internet"
    )


def _from_pretrained(kind: Kind, source: str, dtype: Any, local_only: bool) -> Any:
    """One diffusers load. The text-to-image auto pipeline picks the class from model_index.json;
    for edit, an instruct pipeline is used as it is and a plain text-to-image model is turned
    into its image-to-image sibling (same weights, no second load)."""
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image, DiffusionPipeline

    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": local_only}
    if kind == "text2image":
        return AutoPipelineForText2Image.from_pretrained(source, **kwargs)
    pipe = DiffusionPipeline.from_pretrained(source, **kwargs)
    if "image" not in inspect.signature(pipe.__call__).parameters:
        pipe = AutoPipelineForImage2Image.from_pipe(pipe)
    return pipe


def _load(kind: Kind, model: str, device: str, allow_downloads: bool) -> LoadedPipeline:
    local_only = not allow_downloads or hub_offline()
    if looks_like_path(model):
        folder = Path(model).expanduser()
        problem = f"the folder {folder} does not exist" if not folder.is_dir() else _folder_problem(folder)
        if problem:
            raise _unavailable(kind, model, problem)
        source, local_only = str(folder), True
    else:
        source = model
        ok, why = is_available(model, allow_downloads=False)
        if ok:
            local_only = True  # fully cached: no network round trips (and no retries when offline)
        elif local_only:
            raise _unavailable(kind, model, why)
        else:
            log.warning("downloading %s (first use); this can take minutes and several GB", model)
    from huggingface_hub.errors import EntryNotFoundError

    dtype = dtype_for(device)
    started = time.perf_counter()
    try:
        pipe = _from_pretrained(kind, source, dtype, local_only)
    except (OSError, ValueError, EntryNotFoundError) as exc:
        # diffusers/huggingface_hub report absent files, refused downloads and network
        # failures as OSError subclasses (EntryNotFoundError aside); a folder of the wrong
        # kind as ValueError.
        raise _unavailable(kind, model, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    log.info("loaded %s pipeline %s on %s in %.1f s", kind, model, device, time.perf_counter() - started)
    return LoadedPipeline(pipe=pipe, model=model, kind=kind, device=device, dtype_name=str(dtype).split(".")[-1])


def get_pipeline(kind: Kind, model: str, *, device: str = "auto", allow_downloads: bool = True) -> LoadedPipeline:
    """The cached pipeline for (kind, model, device), loading it on first use.

    Raises ModelUnavailable (weights absent, download refused or failed) or ConfigError
    (forced device absent). Concurrent first calls load once: each key has its own lock, so
    loading one model does not hold up users of another.
    """
    resolved = resolve_device(device)
    key = (kind, model, resolved)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _cache_lock:
            hit = _cache.get(key)
            failed = _failures.get(key)
        if hit is not None:
            return hit
        if failed is not None and time.monotonic() - failed[0] < FAILURE_TTL_S:
            raise failed[1]
        try:
            loaded = _load(kind, model, resolved, allow_downloads)
        except ModelUnavailable as exc:
            with _cache_lock:
                _failures[key] = (time.monotonic(), exc)
            raise
        with _cache_lock:
            _cache[key] = loaded
            _failures.pop(key, None)
        return loaded


def load_text2image(model: str, *, device: str = "auto", allow_downloads: bool = True) -> LoadedPipeline:
    """Text-to-image pipeline for STUDIO_DIFFUSION_MODEL (cached)."""
    return get_pipeline("text2image", model, device=device, allow_downloads=allow_downloads)


def load_edit(model: str, *, device: str = "auto", allow_downloads: bool = True) -> LoadedPipeline:
    """Instruction-edit (InstructPix2Pix) or image-to-image pipeline for STUDIO_EDIT_MODEL (cached)."""
    return get_pipeline("edit", model, device=device, allow_downloads=allow_downloads)


def cached_keys() -> list[tuple[str, str, str]]:
    """(kind, model, device) of every pipeline now in memory (diagnostics, tests)."""
    with _cache_lock:
        return list(_cache)


def release(kind: Kind | None = None, model: str | None = None) -> int:
    """Drop cached pipelines (all, or those matching kind/model) and remembered failures;
    returns how many pipelines were dropped. Memory is freed once no caller still holds one."""
    with _cache_lock:
        keys = [k for k in _cache if (kind is None or k[0] == kind) and (model is None or k[1] == model)]
        for key in keys:
            del _cache[key]
        for key in [k for k in _failures if (kind is None or k[0] == kind) and (model is None or k[1] == model)]:
            del _failures[key]
    if keys:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return len(keys)
