"""The ``edit`` tool: change an earlier image by an instruction ("make it night", "add a hat").

The orchestrator resolves the tag's ``img_index`` and hands the parent's bytes in
``context.parent_image``; this tool never looks images up itself. With an InstructPix2Pix
model (the default, timbrooks/instruct-pix2pix) the instruction is followed while the image
keeps its composition; a plain text-to-image model falls back to image-to-image (the
instruction becomes a prompt and the parent the starting point). The parent's sha256 goes
into the provenance so the lineage of every edited picture can be traced.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from typing import Any

from models.errors import StudioError
from models.images import EDIT_SETTING, LoadedPipeline, is_available, load_edit, release
from models.vocab import Source
from tools.base import Availability, Tool, ToolContext, ToolResult, stopwatch
from tools.diffusion import (
    STOPPED,
    default_guidance,
    failure_text,
    free_cuda_cache,
    png_bytes,
    random_seed,
    snap8,
    stop_between_steps,
    styled_prompt,
    warm_pipeline,
)
from tools.params import EditParams

log = logging.getLogger(__name__)

# Parents come from our own store, but the bytes may have started as a web download: refuse
# anything absurdly large before decoding it fully.
MAX_PARENT_PIXELS = 40_000_000


def working_size(width: int, height: int, size: int) -> tuple[int, int]:
    """Scale so the longer side is ``size``, keep the aspect ratio, snap both sides to 8."""
    scale = size / max(width, height)
    return snap8(round(width * scale)), snap8(round(height * scale))


def decode_parent(data: bytes, size: int) -> Any:
    """Decode the parent image to RGB at the working size (raises ValueError when unreadable)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PARENT_PIXELS:
                raise ValueError(f"it is too large ({probe.width}x{probe.height})")
            image = probe.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"it is not a readable image ({exc})") from exc
    target = working_size(image.width, image.height, size)
    return image if image.size == target else image.resize(target, Image.Resampling.LANCZOS)


class EditTool(Tool[EditParams]):
    """Instruction-driven image editing with a diffusers pipeline (loaded once, shared)."""

    name = Source.EDIT
    Params = EditParams

    def __init__(
        self,
        model: str = "timbrooks/instruct-pix2pix",
        *,
        steps: int = 10,
        size: int = 512,
        guidance: float | None = None,
        image_guidance: float = 1.5,
        strength: float = 0.6,
        device: str = "auto",
        offload: str = "none",
        allow_downloads: bool = True,
        warm_on_start: bool = False,
    ) -> None:
        """``image_guidance`` is how closely an InstructPix2Pix edit sticks to the parent;
        ``strength`` is how far an image-to-image fallback may move from it. ``guidance`` None:
        7.5 for an instruct model, and for the image-to-image fallback the text-to-image guess
        from the model name (0.0 for turbo-style models); a number overrides both."""
        self.model = model
        self.steps = max(1, int(steps))
        self.size = snap8(size)
        self.guidance = None if guidance is None else float(guidance)
        self.image_guidance = float(image_guidance)
        self.strength = float(strength)
        self.device = device
        self.offload = offload
        self.allow_downloads = allow_downloads
        self.warm_on_start = warm_on_start

    def guidance_for(self, loaded: LoadedPipeline) -> float:
        """The guidance scale for this pipeline (see ``__init__``)."""
        if self.guidance is not None:
            return self.guidance
        return 7.5 if loaded.is_instruct else default_guidance(self.model)

    def load(self) -> LoadedPipeline:
        """The shared pipeline (loaded on first use). Raises ModelUnavailable / ConfigError."""
        return load_edit(self.model, device=self.device, allow_downloads=self.allow_downloads, offload=self.offload)

    def warm(self) -> None:
        """Load the pipeline now when STUDIO_WARM_IMAGE_MODELS is set; never raises."""
        if self.warm_on_start:
            warm_pipeline(self.name, self.availability(), self.load)

    def availability(self) -> Availability:
        ok, why = is_available(self.model, allow_downloads=self.allow_downloads)
        if ok:
            return Availability(True, why)
        return Availability.off(
            f"edit is off: {why}. Set {EDIT_SETTING} to a local diffusers folder or a hub id on a machine with internet"
        )

    def close(self) -> None:
        """Drop this model's cached pipeline (memory is freed once no other run holds it)."""
        release("edit", self.model)

    def run(self, params: EditParams, context: ToolContext) -> ToolResult:
        with stopwatch() as elapsed:
            result = self._run(params, context)
        return result.with_seconds(elapsed[0])

    def _run(self, params: EditParams, context: ToolContext) -> ToolResult:
        seed = context.seed if context.seed is not None else random_seed()
        instruction = params.prompt.strip()
        # The article-wide style goes after the instruction, so the instruction leads the prompt.
        prompt = styled_prompt(instruction, context.style) if instruction else ""
        provenance: dict[str, Any] = {
            "parent_sha256": None,
            "instruction": instruction,
            "prompt": prompt,
            "style": context.style,
            "seed": seed,
            "model": self.model,
            "steps": self.steps,
            "img_index": params.img_index,
        }
        if not context.parent_image:
            return ToolResult.failure(f"the image to edit (index {params.img_index}) is not available", provenance)
        provenance["parent_sha256"] = hashlib.sha256(context.parent_image).hexdigest()
        if not instruction:
            return ToolResult.failure("the edit instruction is empty", provenance)
        try:
            parent = decode_parent(context.parent_image, self.size)
        except ValueError as exc:
            return ToolResult.failure(f"the image to edit (index {params.img_index}) cannot be used: {exc}", provenance)
        provenance["size"] = list(parent.size)
        try:
            loaded = self.load()
        except StudioError as exc:
            return ToolResult.failure(str(exc), provenance)
        provenance.update(loaded.provenance())
        kwargs: dict[str, Any] = {"guidance_scale": self.guidance_for(loaded)}
        provenance["guidance"] = kwargs["guidance_scale"]
        steps = self.steps
        if loaded.is_instruct:
            kwargs["image_guidance_scale"] = self.image_guidance
        else:
            # img2img runs only strength * steps denoising steps: keep at least one.
            kwargs["strength"] = self.strength
            steps = max(steps, math.ceil(1 / max(self.strength, 1e-3)))
        try:
            import torch

            generator = torch.Generator(device="cpu").manual_seed(seed)
            with loaded.lock:
                output = loaded.pipe(
                    prompt=prompt,
                    image=parent,
                    num_inference_steps=steps,
                    generator=generator,
                    **kwargs,
                    **stop_between_steps(loaded.pipe, context),
                )
        except Exception as exc:  # noqa: BLE001 - a tool run reports, never raises
            log.exception("edit failed for %s", self.model)
            text = failure_text("image editing", exc)
            del exc
            free_cuda_cache(loaded.device)
            return ToolResult.failure(text, provenance)
        if context.should_stop():  # interrupted between steps: a half-edited image is no result
            return ToolResult.failure(STOPPED, provenance)
        if any(getattr(output, "nsfw_content_detected", None) or []):
            return ToolResult.failure("the model's safety checker withheld this image", provenance)
        return ToolResult.success(png_bytes(output.images[0]), provenance)
