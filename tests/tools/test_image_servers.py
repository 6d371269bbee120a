"""The diffusion and edit tools on image servers: a scripted vLLM-Omni-shaped Images API server on
127.0.0.1 makes real PNGs with a tiny diffusers pipeline and logs every request."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import torch
from PIL import Image

from models.image_api import FIELDS_BY_KIND, ImageRequest, ImageServers, request_fields
from tests.images_server import RunningImages, serve_images
from tools.base import ToolContext
from tools.image_servers import ServerDiffusionTool, ServerEditTool
from tools.params import DiffusionParams, EditParams


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def server() -> Iterator[RunningImages]:
    with serve_images("Qwen/Qwen-Image") as running:
        yield running


def png_size(data: bytes | None) -> tuple[int, int]:
    assert data is not None
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


def servers(*urls: str, **kwargs: object) -> ImageServers:
    return ImageServers(list(urls), cooldown_s=60.0, **kwargs)  # type: ignore[arg-type]


def test_generation_sends_the_documented_fields_and_names_server_and_model(server: RunningImages) -> None:
    tool = ServerDiffusionTool(servers(server.url, api_key="sekrit"), steps=2, size=64, guidance=1.5)
    result = tool.run(DiffusionParams(prompt="a red fox"), ToolContext(seed=42, style="watercolor"))
    assert result.ok, result.error
    assert png_size(result.image) == (64, 64)
    (request,) = server.requests
    assert request["path"] == "images/generations" and request["content_type"] == "application/json"
    fields = request["fields"]
    assert fields["prompt"] == "a red fox, watercolor" and fields["size"] == "64x64"
    assert fields["seed"] == 42 and fields["num_inference_steps"] == 2 and fields["guidance_scale"] == 1.5
    assert request["authorization"] == "Bearer sekrit"
    prov = result.provenance
    assert prov["server"] == server.url and prov["model"] == "Qwen/Qwen-Image" and prov["seed"] == 42
    assert prov["backend"] == "images-api" and "failed_over" not in prov


def test_seed_reproduces_and_a_new_seed_makes_a_new_picture(server: RunningImages) -> None:
    tool = ServerDiffusionTool(servers(server.url), steps=1, size=64)
    params = DiffusionParams(prompt="a lighthouse")
    first = tool.run(params, ToolContext(seed=7))
    again = tool.run(params, ToolContext(seed=7))
    other = tool.run(params, ToolContext(seed=8))
    assert first.ok and again.ok and other.ok
    assert first.image == again.image and first.image != other.image
    assert [r["fields"]["seed"] for r in server.requests] == [7, 7, 8]


def test_edit_is_multipart_and_carries_the_parent(server: RunningImages) -> None:
    made = ServerDiffusionTool(servers(server.url), steps=1, size=64).run(
        DiffusionParams(prompt="a cabin"), ToolContext(seed=1)
    )
    assert made.ok
    tool = ServerEditTool(servers(server.url, model="Qwen/Qwen-Image-Edit-2511"), steps=1, size=64, guidance=2.0)
    result = tool.run(EditParams(prompt="make it night", img_index=0), ToolContext(parent_image=made.image, seed=5))
    assert result.ok, result.error
    assert png_size(result.image) == (64, 64) and result.image != made.image
    edit = server.requests[-1]
    assert edit["path"] == "images/edits" and edit["content_type"] == "multipart/form-data"
    # the parent went as the image part (re-encoded as PNG at the working size: same pixels)
    assert edit["image_sha256"] is not None
    assert edit["fields"]["prompt"] == "make it night" and edit["fields"]["model"] == "Qwen/Qwen-Image-Edit-2511"
    assert edit["fields"]["seed"] == "5" and edit["fields"]["size"] == "64x64"
    assert edit["fields"]["num_inference_steps"] == "1" and edit["fields"]["guidance_scale"] == "2.0"
    prov = result.provenance
    assert prov["server"] == server.url and prov["model"] == "Qwen/Qwen-Image-Edit-2511"
    assert len(prov["parent_sha256"]) == 64


def test_parent_image_bytes_reach_the_server_unchanged_when_already_at_working_size(server: RunningImages) -> None:
    parent = Image.new("RGB", (64, 64), (200, 30, 30))
    buffer = io.BytesIO()
    parent.save(buffer, format="PNG")
    tool = ServerEditTool(servers(server.url), steps=1, size=64)
    result = tool.run(EditParams(prompt="add a hat", img_index=0), ToolContext(parent_image=buffer.getvalue(), seed=3))
    assert result.ok, result.error
    import hashlib

    assert server.requests[-1]["image_sha256"] == hashlib.sha256(buffer.getvalue()).hexdigest()


def test_two_servers_take_turns() -> None:
    with serve_images("Qwen/Qwen-Image") as a, serve_images("Tongyi-MAI/Z-Image-Turbo") as b:
        tool = ServerDiffusionTool(servers(a.url, b.url), steps=1, size=64)
        made = [tool.run(DiffusionParams(prompt=f"picture {i}"), ToolContext(seed=i)) for i in range(4)]
        assert all(r.ok for r in made)
        assert len(a.requests) == 2 and len(b.requests) == 2
        assert [r.provenance["server"] for r in made] == [a.url, b.url, a.url, b.url]
        assert [r.provenance["model"] for r in made] == ["Qwen/Qwen-Image", "Tongyi-MAI/Z-Image-Turbo"] * 2


def test_a_server_killed_mid_run_fails_over_and_is_skipped_while_cooling_down() -> None:
    with serve_images("Qwen/Qwen-Image") as a, serve_images("Qwen/Qwen-Image") as b:
        tool = ServerDiffusionTool(servers(a.url, b.url), steps=1, size=64)
        first = tool.run(DiffusionParams(prompt="one"), ToolContext(seed=1))
        assert first.ok and first.provenance["server"] == a.url
        a_url = a.url
        a.kill()
        made = [tool.run(DiffusionParams(prompt=f"after {i}"), ToolContext(seed=i)) for i in range(3)]
        assert all(r.ok for r in made), [r.error for r in made]
        assert all(r.provenance["server"] == b.url for r in made)
        # the first request after the kill was A's turn: it failed over, with A's failure recorded
        assert [f["server"] for f in made[1].provenance["failed_over"]] == [a_url]
        assert "cannot connect" in made[1].provenance["failed_over"][0]["error"]
        # then A cools down: nothing more is tried on it
        assert "failed_over" not in made[0].provenance and "failed_over" not in made[2].provenance
        assert len(b.requests) == 3


def test_error_body_becomes_a_failed_block_with_the_servers_message(server: RunningImages) -> None:
    server.server.fail_with = (400, "prompt rejected: the safety filter flagged it")
    tool = ServerDiffusionTool(servers(server.url), steps=1, size=64)
    result = tool.run(DiffusionParams(prompt="a fox"), ToolContext(seed=1))
    assert not result.ok
    assert "prompt rejected: the safety filter flagged it" in (result.error or "")
    assert server.url in (result.error or "") and "HTTP 400" in (result.error or "")
    assert len(server.requests) == 1  # a request error is not retried elsewhere


def test_server_errors_on_both_servers_name_both() -> None:
    with serve_images() as a, serve_images() as b:
        a.server.fail_with = (500, "CUDA out of memory")
        b.server.fail_with = (503, "model is loading")
        result = ServerDiffusionTool(servers(a.url, b.url), steps=1, size=64).run(
            DiffusionParams(prompt="x"), ToolContext(seed=1)
        )
        assert not result.ok
        assert "CUDA out of memory" in (result.error or "") and "model is loading" in (result.error or "")
        assert len(a.requests) == 1 and len(b.requests) == 1


def test_availability_lists_reachable_servers_and_their_models(server: RunningImages) -> None:
    dead = "http://127.0.0.1:9/v1"
    tool = ServerDiffusionTool(servers(server.url, dead, connect_timeout_s=1.0), size=64)
    on = tool.availability()
    assert on.ok and "1/2 image servers reachable" in on.reason
    assert f"{server.url} (Qwen/Qwen-Image)" in on.reason and f"{dead} unreachable" in on.reason
    off = ServerDiffusionTool(servers(dead, connect_timeout_s=1.0)).availability()
    assert not off.ok and "STUDIO_DIFFUSION_SERVERS" in off.reason and "vllm serve" in off.reason


def test_only_fields_a_server_kind_accepts_are_sent() -> None:
    request = ImageRequest("p", 512, 512, steps=4, guidance=0.0, seed=9)
    assert request_fields("vllm-omni", request) == {
        "size": "512x512",
        "seed": 9,
        "num_inference_steps": 4,
        "guidance_scale": 0.0,
    }
    assert request_fields("openai", request) == {"size": "512x512"}
    assert request_fields("openai", ImageRequest("p", 640, 640)) == {}  # not a size OpenAI lists
    assert FIELDS_BY_KIND["openai"] == {"size"}


def test_openai_kind_sends_no_seed_and_records_none(server: RunningImages) -> None:
    tool = ServerDiffusionTool(servers(server.url, kind="openai"), steps=3, size=512, guidance=2.0)
    # a 512 picture from the tiny pipeline is slow on a CPU: ask for it but check only what was sent
    server.server.fail_with = (400, "stop here")
    result = tool.run(DiffusionParams(prompt="a fox"), ToolContext(seed=11))
    assert not result.ok and result.provenance["seed"] is None
    assert server.requests[0]["fields"] == {"prompt": "a fox", "n": 1, "size": "512x512"}
