"""The diffusion and edit tools on image servers (OpenAI Images API; models.image_api).

Same tags, params and provenance keys as the in-process tools (tools.diffusion, tools.edit), plus
``server`` (the base URL that made the picture), ``backend`` ("images-api") and, after a
failover, ``failed_over``. The studio picks these when STUDIO_DIFFUSION_SERVERS /
STUDIO_EDIT_SERVERS are set; this module never imports torch or diffusers, so an app process
that uses servers loads no image model.
"""

from __future__ import annotations

import hashlib
import io
import time
from abc import abstractmethod
from typing import Any

from models.image_api import FIELDS_BY_KIND, ImageAnswer, ImageRequest, ImageServerError, ImageServers
from models.vocab import Source
from tools.base import Availability, P, Tool, ToolContext, ToolResult, stopwatch
from tools.diffusion import STOPPED, random_seed, snap8, styled_prompt
from tools.download import DownloadError, decode_image
from tools.edit import decode_parent
from tools.params import DiffusionParams, EditParams

BACKEND = "images-api"
PARENT_SIDE = 1024  # the parent's longer side when no size is set (vLLM-Omni's default size)
MAX_PIXELS = 40_000_000  # a server is trusted to make pictures, not to send a decompression bomb


def describe_servers(servers: ImageServers, tool: str, setting: str) -> Availability:
    """On with the reachable servers and their models, or off with why and what to start."""
    statuses = servers.statuses()
    up = [s for s in statuses if s.ok]
    listed = "; ".join(s.describe() for s in statuses)
    if up:
        return Availability(True, f"{len(up)}/{len(statuses)} image servers reachable: {listed}")
    return Availability.off(
        f"{tool} is off: no image server in {setting} answers ({listed}). Start one "
        "(vllm serve Qwen/Qwen-Image --omni) or fix the URL list"
    )


def _time_left(context: ToolContext) -> float | None:
    return None if context.deadline is None else max(1.0, context.deadline - time.monotonic())


def _answer_facts(servers: ImageServers, answer: ImageAnswer) -> dict[str, Any]:
    facts: dict[str, Any] = {"model": answer.model, "server": answer.server, "backend": BACKEND}
    facts["server_kind"] = servers.kind
    if answer.failed_over:
        facts["failed_over"] = answer.failed_over
    return facts


# Steps, size and guidance left as None are not sent: the server's defaults for its model apply
# (Qwen-Image wants ~50 steps at 1024 px, Z-Image-Turbo ~8; the in-process defaults fit sd-turbo).
class _ServerImageTool(Tool[P]):
    """What both server tools share: the server list, the knobs, availability, timing, the seed."""

    def __init__(
        self, servers: ImageServers, *, steps: int | None = None, size: int | None = None, guidance: float | None = None
    ) -> None:
        self.servers = servers
        self.steps = None if steps is None else max(1, int(steps))
        self.size = None if size is None else snap8(size)
        self.guidance = guidance

    def availability(self) -> Availability:
        return describe_servers(self.servers, self.name, self.servers.setting)

    def close(self) -> None:
        self.servers.close()

    def run(self, params: P, context: ToolContext) -> ToolResult:
        with stopwatch() as elapsed:
            result = self._run(params, context)
        return result.with_seconds(elapsed[0])

    @abstractmethod
    def _run(self, params: P, context: ToolContext) -> ToolResult:
        """Build the request and provenance for this kind of picture, then ``_finish``."""

    def _seed(self, context: ToolContext) -> int | None:
        """The seed to send, or None where this kind of server takes none (it would be refused)."""
        if "seed" not in FIELDS_BY_KIND[self.servers.kind]:
            return None
        return context.seed if context.seed is not None else random_seed()

    def _finish(self, request: ImageRequest, context: ToolContext, provenance: dict[str, Any]) -> ToolResult:
        try:
            if self.name == Source.EDIT:
                answer = self.servers.edit(request, _time_left(context))
            else:
                answer = self.servers.generate(request, _time_left(context))
        except ImageServerError as exc:
            return ToolResult.failure(str(exc), provenance)
        if context.cancelled():
            return ToolResult.failure(STOPPED, provenance)
        provenance.update(_answer_facts(self.servers, answer))
        provenance["guidance"] = self.guidance
        return _checked(answer, provenance)


class ServerDiffusionTool(_ServerImageTool[DiffusionParams]):
    """Text-to-image on image servers (round-robin, failover; see models.image_api)."""

    name = Source.DIFFUSION
    Params = DiffusionParams

    def _run(self, params: DiffusionParams, context: ToolContext) -> ToolResult:
        seed = self._seed(context)
        prompt = styled_prompt(params.prompt, context.style)
        provenance: dict[str, Any] = {
            "prompt": prompt,
            "style": context.style,
            "seed": seed,
            "model": self.servers.model or None,
            "steps": self.steps,
            "size": self.size,
            "guidance": self.guidance,
            "backend": BACKEND,
        }
        if not prompt:
            return ToolResult.failure("the diffusion prompt is empty", provenance)
        request = ImageRequest(prompt, self.size, self.size, self.steps, self.guidance, seed)
        return self._finish(request, context, provenance)


class ServerEditTool(_ServerImageTool[EditParams]):
    """Instruction edits on image servers: the parent goes as the multipart ``image`` (scaled so
    its longer side is ``size``, or at most PARENT_SIDE when the size is the server's choice)."""

    name = Source.EDIT
    Params = EditParams

    def _run(self, params: EditParams, context: ToolContext) -> ToolResult:
        seed = self._seed(context)
        instruction = params.prompt.strip()
        prompt = styled_prompt(instruction, context.style) if instruction else ""
        provenance: dict[str, Any] = {
            "parent_sha256": None,
            "instruction": instruction,
            "prompt": prompt,
            "style": context.style,
            "seed": seed,
            "model": self.servers.model or None,
            "steps": self.steps,
            "img_index": params.img_index,
            "backend": BACKEND,
        }
        if not context.parent_image:
            return ToolResult.failure(f"the image to edit (index {params.img_index}) is not available", provenance)
        provenance["parent_sha256"] = hashlib.sha256(context.parent_image).hexdigest()
        if not instruction:
            return ToolResult.failure("the edit instruction is empty", provenance)
        try:
            parent = decode_parent(context.parent_image, self.size or PARENT_SIDE)
        except ValueError as exc:
            return ToolResult.failure(f"the image to edit (index {params.img_index}) cannot be used: {exc}", provenance)
        provenance["size"] = list(parent.size)
        buffer = io.BytesIO()
        parent.save(buffer, format="PNG")
        width, height = (parent.width, parent.height) if self.size else (None, None)
        request = ImageRequest(prompt, width, height, self.steps, self.guidance, seed, image=buffer.getvalue())
        return self._finish(request, context, provenance)


def _checked(answer: ImageAnswer, provenance: dict[str, Any]) -> ToolResult:
    """The server's bytes as a result once Pillow agrees they are a sane raster image (PNG from
    vLLM-Omni by default; JPEG or WebP from a hosted API), else a failure naming the server."""
    try:
        mime, width, height = decode_image(answer.data, MAX_PIXELS, 1)
    except DownloadError as exc:
        return ToolResult.failure(f"the image server {answer.server} sent no usable image: {exc.reason}", provenance)
    provenance["result_size"] = [width, height]
    return ToolResult.success(answer.data, provenance, mime=mime)
