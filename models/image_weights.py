"""Where diffusers weights are, which device runs them, and what this machine can do.

Cheap checks only (a few small files, no weights): the tools ask these at start. A model is a
hub id ("stabilityai/sd-turbo") or a local diffusers folder (one holding model_index.json).
Nothing here reads the environment except huggingface_hub's own HF_HUB_OFFLINE switch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from models.errors import ConfigError
from models.weights import hub_reachable

Kind = Literal["text2image", "edit"]
DevicePref = Literal["auto", "cpu", "cuda", "mps"]

DIFFUSION_SETTING = "STUDIO_DIFFUSION_MODEL"
EDIT_SETTING = "STUDIO_EDIT_MODEL"
SETTING_BY_KIND: dict[str, str] = {"text2image": DIFFUSION_SETTING, "edit": EDIT_SETTING}

# Files whose presence means a component folder really holds weights (not just its config).
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".gguf")
# Files an NVIDIA driver creates: a GPU is here even when torch cannot see it.
NVIDIA_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia/version")


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


def folder_problem(folder: Path) -> str:
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


def cached_snapshot(repo_id: str) -> Path | None:
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
        problem = folder_problem(folder)
        return (not problem), problem
    snapshot = cached_snapshot(model)
    if snapshot is not None:
        problem = folder_problem(snapshot)
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


def cpu_torch_on_gpu_machine(device_files: Sequence[str] | None = None) -> str:
    """A loud warning when an NVIDIA GPU is present but the installed torch is a CPU-only build
    (diffusion would quietly run on the CPU, minutes per picture); "" otherwise."""
    files = NVIDIA_DEVICE_FILES if device_files is None else device_files
    present = [f for f in files if Path(f).exists()]
    if not present:
        return ""
    import torch

    if torch.version.cuda is not None:
        return ""
    return (
        f"an NVIDIA GPU is present ({present[0]}) but torch {torch.__version__} is a CPU-only build: "
        "diffusion and edit will run on the CPU. Install a CUDA torch, e.g. "
        "`pip install torch=="
        + torch.__version__.split("+")[0]
        + " --index-url https://download.pytorch.org/whl/cu128`"
    )


def library_versions() -> dict[str, str]:
    """Versions that decide what a picture looks like (for provenance)."""
    import diffusers
    import torch

    versions = {"torch": torch.__version__, "diffusers": diffusers.__version__}
    if torch.version.cuda:
        versions["cuda"] = torch.version.cuda
    try:
        import transformers

        versions["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover - a dependency of every pipeline we load
        pass
    return versions


def gpu_name(device: str) -> str:
    """The CUDA device's name ("" elsewhere)."""
    if device != "cuda":
        return ""
    import torch

    return str(torch.cuda.get_device_name(torch.cuda.current_device()))
