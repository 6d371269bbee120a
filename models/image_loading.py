"""Loading one diffusers pipeline: find the source, load (fp16 variant on CUDA, with fallback),
place it on its device or set up CPU offload, and turn any failure into ModelUnavailable with the
reason and a hint, leaving nothing half-built behind. models.images caches what this loads.
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
from typing import Any

from models.errors import ModelUnavailable
from models.image_weights import (
    SETTING_BY_KIND,
    Kind,
    dtype_for,
    folder_problem,
    hub_offline,
    is_available,
    library_versions,
    looks_like_path,
)
from models.weights import hub_reachable

log = logging.getLogger("models.images")


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


class LoadFailed(ModelUnavailable):
    """Internal: carries the facts to remember about a failed load."""

    def __init__(self, message: str, why: str, hint: str, *, absent: bool) -> None:
        super().__init__(message)
        self.why, self.hint, self.absent = why, hint, absent


# --- errors -------------------------------------------------------------------------------------


def what(kind: Kind) -> str:
    return "image generation" if kind == "text2image" else "image editing"


def unavailable(kind: Kind, model: str, why: str, hint: str = "") -> ModelUnavailable:
    setting = SETTING_BY_KIND[kind]
    if not hint:
        return ModelUnavailable(
            f"{what(kind)} model {model!r} is not available: {why}. Set {setting} to a local diffusers folder "
            "or a hub id on a machine with internet"
        )
    why = why.rstrip(". ")
    return ModelUnavailable(f"{what(kind)} model {model!r} is unavailable: {why}. {hint.format(setting=setting)}")


def reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError | MemoryError) or "out of memory" in str(exc).lower()


def load_hint(exc: BaseException, device: str, offload: str) -> str:
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


def free_memory(device: str) -> None:
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


def _absent(kind: Kind, model: str, why: str) -> LoadFailed:
    return LoadFailed(str(unavailable(kind, model, why)), why, "", absent=True)


def _source(kind: Kind, model: str, allow_downloads: bool) -> tuple[str, bool]:
    """(what to pass to from_pretrained, local files only?); LoadFailed when absent."""
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


def load_base(kind: Kind, model: str, device: str, offload: str, allow_downloads: bool) -> LoadedPipeline:
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
        why, hint = reason(exc), "" if absent else load_hint(exc, device, offload)
        # Drop every reference to the half-built pipeline (the traceback's frames hold it too).
        pipe = None
        traceback.clear_frames(exc.__traceback__)
        del exc
        free_memory(device)
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
) -> LoadFailed:
    log.warning("%s model %s failed to load on %s (offload %s): %s", what(kind), model, device, offload, why)
    return LoadFailed(str(unavailable(kind, model, why, hint)), why, hint, absent=absent)
