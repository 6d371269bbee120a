"""The ``diffusion`` tool: a text-to-image diffusers pipeline turns the tag's prompt into a PNG.

Every picture is reproducible: the seed (given, or drawn and then recorded) goes into the
provenance with the exact prompt, model, steps, size and device. Missing weights, an absent
device or a failed inference come back as ``ToolResult.failure`` with a sentence that says
what to set; the tool never raises from ``run``.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Callable
from typing import Any

from models.errors import StudioError
from models.images import DIFFUSION_SETTING, LoadedPipeline, is_available, load_text2image, release
from models.vocab import Source
from tools.base import Availability, Tool, ToolContext, ToolResult, stopwatch
from tools.params import DiffusionParams

log = logging.getLogger(__name__)

MAX_SEED = 2**31 - 1


def random_seed() -> int:
    """A fresh seed that fits every generator (and JSON, and SQLite INTEGER)."""
    return secrets.randbelow(MAX_SEED) + 1


def styled_prompt(prompt: str, style: str) -> str:
    """The article-wide style phrase goes after the tag's own prompt ("a fox, watercolor")."""
    prompt, style = prompt.strip(), style.strip()
    if not style:
        return prompt
    return f"{prompt.rstrip(' ,.')}, {style}" if prompt else style


def default_guidance(model: str) -> float:
    """Distilled one-to-four-step models (sd-turbo, sdxl-turbo, lightning) are trained without
    classifier-free guidance and need 0.0; classic Stable Diffusion wants about 7.5. Only a guess
    from the name: a local folder of a turbo model needs STUDIO_DIFFUSION_GUIDANCE=0."""
    name = model.lower()
    return 0.0 if any(tag in name for tag in ("turbo", "lightning", "lcm")) else 7.5


def png_bytes(image: Any) -> bytes:
    """Encode a PIL image as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def snap8(value: int) -> int:
    """Latent diffusion works on sides that are multiples of 8."""
    return max(8, int(value) // 8 * 8)


def failure_text(what: str, exc: BaseException) -> str:
    """A readable sentence for an unexpected inference error (out of memory gets a hint)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "out of memory" in text.lower():
        return (
            f"{what} ran out of memory ({text}); lower STUDIO_DIFFUSION_SIZE, set STUDIO_DIFFUSION_OFFLOAD=model, "
            "lower vLLM's --gpu-memory-utilization when it shares the GPU, or use STUDIO_DEVICE=cpu"
        )
    return f"{what} failed: {type(exc).__name__}: {text}"


STOPPED = "stopped before the image was finished"


def stop_between_steps(pipe: Any, context: ToolContext) -> dict[str, Any]:
    """Pipeline kwargs that end the denoising loop at the next step once the caller stops or the
    run's deadline passes (diffusers' ``callback_on_step_end`` + the pipeline's ``_interrupt``).
    A pipeline without the hook runs to its end. After the call, ``context.should_stop()`` says
    whether the image is unfinished (then it is not a result)."""
    import inspect

    try:
        accepted = inspect.signature(pipe.__call__).parameters
    except (TypeError, ValueError):
        return {}
    if "callback_on_step_end" not in accepted:
        return {}

    def on_step_end(p: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        if context.should_stop():
            p._interrupt = True
        return callback_kwargs

    return {"callback_on_step_end": on_step_end}


def free_cuda_cache(device: str) -> None:
    """After a failed inference on CUDA, give the cached blocks back (vLLM may need them)."""
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()


def warm_pipeline(tool_name: str, ready: Availability, load: Callable[[], LoadedPipeline]) -> None:
    """Load a tool's pipeline now (STUDIO_WARM_IMAGE_MODELS): at start, not on the first tag. A
    failure is logged and remembered by models.images, so the tags then fail at once with it."""
    if not ready.ok:
        log.info("not warming %s: %s", tool_name, ready.reason)
        return
    try:
        loaded = load()
    except StudioError as exc:
        log.warning("warming %s failed: %s", tool_name, exc)
        return
    log.info("%s ready: %s on %s (%s)", tool_name, loaded.model, loaded.device, loaded.dtype_name)


class DiffusionTool(Tool[DiffusionParams]):
    """Text-to-image with a diffusers pipeline loaded (once, shared) from a hub id or folder."""

    name = Source.DIFFUSION
    Params = DiffusionParams

    def __init__(
        self,
        model: str = "stabilityai/sd-turbo",
        *,
        steps: int = 2,
        size: int = 512,
        guidance: float | None = None,
        device: str = "auto",
        offload: str = "none",
        allow_downloads: bool = True,
        warm_on_start: bool = False,
    ) -> None:
        """``guidance`` None picks 0.0 for turbo-style models and 7.5 otherwise; ``size`` is the
        square side in pixels (rounded down to a multiple of 8); ``offload`` see models.images;
        ``warm_on_start``: ``warm()`` loads the pipeline (the studio calls it at start)."""
        self.model = model
        self.steps = max(1, int(steps))
        self.size = snap8(size)
        self.guidance = default_guidance(model) if guidance is None else float(guidance)
        self.device = device
        self.offload = offload
        self.allow_downloads = allow_downloads
        self.warm_on_start = warm_on_start

    def load(self) -> LoadedPipeline:
        """The shared pipeline (loaded on first use). Raises ModelUnavailable / ConfigError."""
        return load_text2image(
            self.model, device=self.device, allow_downloads=self.allow_downloads, offload=self.offload
        )

    def warm(self) -> None:
        """Load the pipeline now when STUDIO_WARM_IMAGE_MODELS is set; never raises."""
        if self.warm_on_start:
            warm_pipeline(self.name, self.availability(), self.load)

    def availability(self) -> Availability:
        ok, why = is_available(self.model, allow_downloads=self.allow_downloads)
        if ok:
            return Availability(True, why)
        return Availability.off(
            f"diffusion is off: {why}. Set {DIFFUSION_SETTING} to a local diffusers folder "
            "or a hub id on a machine with internet"
        )

    def close(self) -> None:
        """Drop this model's cached pipeline (memory is freed once no other run holds it)."""
        release("text2image", self.model)

    def run(self, params: DiffusionParams, context: ToolContext) -> ToolResult:
        with stopwatch() as elapsed:
            result = self._run(params, context)
        return result.with_seconds(elapsed[0])

    def _run(self, params: DiffusionParams, context: ToolContext) -> ToolResult:
        seed = context.seed if context.seed is not None else random_seed()
        prompt = styled_prompt(params.prompt, context.style)
        provenance: dict[str, Any] = {
            "prompt": prompt,
            "style": context.style,
            "seed": seed,
            "model": self.model,
            "steps": self.steps,
            "size": self.size,
            "guidance": self.guidance,
        }
        if not prompt:
            return ToolResult.failure("the diffusion prompt is empty", provenance)
        try:
            loaded = self.load()
        except StudioError as exc:
            return ToolResult.failure(str(exc), provenance)
        provenance.update(loaded.provenance())
        try:
            import torch

            # A CPU generator gives the same noise for a seed on every device.
            generator = torch.Generator(device="cpu").manual_seed(seed)
            with loaded.lock:
                output = loaded.pipe(
                    prompt=prompt,
                    num_inference_steps=self.steps,
                    guidance_scale=self.guidance,
                    height=self.size,
                    width=self.size,
                    generator=generator,
                    **stop_between_steps(loaded.pipe, context),
                )
        except Exception as exc:  # noqa: BLE001 - a tool run reports, never raises
            log.exception("diffusion failed for %s", self.model)
            text = failure_text("image generation", exc)
            del exc
            free_cuda_cache(loaded.device)
            return ToolResult.failure(text, provenance)
        if context.should_stop():  # interrupted between steps: a half-denoised image is no result
            return ToolResult.failure(STOPPED, provenance)
        if any(getattr(output, "nsfw_content_detected", None) or []):
            return ToolResult.failure("the model's safety checker withheld this image", provenance)
        return ToolResult.success(png_bytes(output.images[0]), provenance)
