"""``studio render`` with STUDIO_DIFFUSION_SERVERS / STUDIO_EDIT_SERVERS on two scripted
vLLM-Omni-shaped servers (one killed mid-run) and STUDIO_SEARCH_PROVIDER=openverse on a scripted
Openverse: the pictures are made there with failover and provenance naming the server, and the
search image's licence reaches the card and every export (HTML, PDF, DOCX, Markdown + SOURCES.md)."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path
from types import SimpleNamespace

import docx
import pytest
import torch

from studio.app.cli import main
from studio.app.ui_model import block_view_of_image
from studio.app.ui_page import card_fields, image_card
from studio.export.load import load_article_dir
from tests.httpserver import LocalServer
from tests.images_server import serve_images
from tests.search_providers_server import serve_providers
from tests.tools.test_search_providers import png

RESPONSE = (
    "# Foxes\n\nFoxes live near people.\n\n"
    "<imgen>{'source': 'search', 'description': 'a red fox', 'params': {'query': 'red fox'}}</imgen>\n\n"
    "A painted one.\n\n"
    "<imgen>{'source': 'diffusion', 'description': 'a fox painting', 'params': {'prompt': 'a fox'}}</imgen>\n\n"
    "Another.\n\n"
    "<imgen>{'source': 'diffusion', 'description': 'a den', 'params': {'prompt': 'a fox den'}}</imgen>\n\n"
    "At night.\n\n"
    "<imgen>{'source': 'edit', 'description': 'the den at night', 'params': {'img_index': 2, 'prompt': 'night'}}"
    "</imgen>\n\nThe end."
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_render_on_image_servers_and_openverse_credits_every_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalServer() as images, serve_images("Qwen/Qwen-Image") as a, serve_images("Qwen/Qwen-Image") as b:
        images.route("/fox.png", headers={"Content-Type": "image/png"}, body=png())
        images.route("/unlicensed.png", headers={"Content-Type": "image/png"}, body=png())
        with serve_providers(f"http://localhost:{images.port}") as openverse:
            env = {
                "STUDIO_DATA_DIR": str(tmp_path / "data"),
                "STUDIO_TOOLS_ENABLED": '["search", "diffusion", "edit"]',
                "STUDIO_MAX_CONCURRENT_TOOLS": "1",  # one picture at a time: the kill lands between two
                "STUDIO_DIFFUSION_SERVERS": f"{a.url},{b.url}",
                "STUDIO_EDIT_SERVERS": f"{a.url},{b.url}",
                "STUDIO_DIFFUSION_SIZE": "64",
                "STUDIO_DIFFUSION_STEPS": "1",
                "STUDIO_EDIT_STEPS": "1",
                "STUDIO_SEARCH_PROVIDER": "openverse",
                "STUDIO_OPENVERSE_URL": openverse.base + "/v1",
                "STUDIO_DOWNLOAD_ALLOWED_HOSTS": "localhost",
                "STUDIO_DOWNLOAD_MIN_SIDE": "100",
            }
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            response = tmp_path / "response.txt"
            response.write_text(RESPONSE, encoding="utf-8")
            a_url = a.url
            a.server.die_after = 1  # A dies right after its first picture (mid-run)
            out = tmp_path / "out"
            assert main(["render", str(response), "--out", str(out)]) == 0
            assert len(a.requests) == 1  # A answered once, then died
            b_paths = [r["path"] for r in b.requests]
    article = json.loads((out / "article.json").read_text())
    pictures = [blk for blk in article["blocks"] if blk["kind"] == "image"]
    assert [p["status"] for p in pictures] == ["ok"] * 4, [p.get("error") for p in pictures]
    search, first, second, edit = (p["provenance"] for p in pictures)
    assert first["server"] == a_url and second["server"] == b.url and edit["server"] == b.url
    assert first["model"] == second["model"] == "Qwen/Qwen-Image"
    assert [f["server"] for f in edit["failed_over"]] == [a_url]  # the edit pool's turn was A: dead
    assert b_paths == ["images/generations", "images/edits"]
    assert search["licence"] == "CC BY-SA 4.0" and search["creator"] == "Jane Doe"

    # the card
    loaded = load_article_dir(out)
    fields = dict(card_fields(block_view_of_image(loaded.image_blocks()[0])))
    assert fields["licence"] == "CC BY-SA 4.0" and fields["creator"] == "Jane Doe"
    card = str(image_card(block_view_of_image(loaded.image_blocks()[0]), editable=True))
    assert "CC BY-SA 4.0" in card and "Jane Doe" in card
    assert dict(card_fields(block_view_of_image(loaded.image_blocks()[1])))["server"] == a_url

    # every export
    texts: dict[str, str] = {}
    for fmt in ("html", "pdf", "docx", "md"):
        path = tmp_path / f"article.{fmt}"
        assert main(["export", str(out), "--format", fmt, "--out", str(path)]) == 0
        if fmt == "html":
            texts[fmt] = path.read_text(encoding="utf-8")
        elif fmt == "pdf":
            texts[fmt] = " ".join(
                subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split()
            )
        elif fmt == "docx":
            texts[fmt] = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        else:
            with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as bundle:
                texts["md"] = bundle.read("article.md").decode()
                texts["SOURCES.md"] = bundle.read("SOURCES.md").decode()
    for name, text in texts.items():
        assert "CC BY-SA 4.0" in text, name
        assert "Jane Doe" in text, name
    assert "https://creativecommons.org/licenses/by-sa/4.0/" in texts["SOURCES.md"]
    # the server is an operator's URL: provenance and the card name it, no export does (issue 18)
    assert all(a_url not in text and b.url not in text for text in texts.values())


def test_tool_chips_and_describe_tools_name_the_servers_and_their_models(tmp_path: Path) -> None:
    from studio.app.services import build_services
    from studio.app.settings import Settings
    from studio.app.ui_server import chips_html

    dead = "http://127.0.0.1:9/v1"
    with serve_images("Qwen/Qwen-Image-Edit-2511") as edit:
        settings = Settings(
            data_dir=tmp_path,
            tools_enabled=["diffusion", "edit"],
            diffusion_servers=[dead],
            edit_servers=[edit.url, dead],
            images_connect_timeout_s=1.0,
        )
        services = build_services(settings, backend=SimpleNamespace(name="none"))  # type: ignore[arg-type]
        try:
            html = chips_html(SimpleNamespace(services=services))  # type: ignore[arg-type]
            lines = services.describe_tools()
        finally:
            services.close()
    assert f"{edit.url} (Qwen/Qwen-Image-Edit-2511)" in html and "1/2 image servers reachable" in html
    assert "diffusion is off: no image server in STUDIO_DIFFUSION_SERVERS answers" in html
    assert any(line.startswith("edit: on - 1/2 image servers reachable") for line in lines), lines


def test_in_process_defaults_are_not_sent_to_servers_unless_set(tmp_path: Path) -> None:
    from studio.app.services import build_tools
    from studio.app.settings import Settings
    from tools.base import ToolContext
    from tools.params import DiffusionParams

    with serve_images() as server:
        plain = build_tools(Settings(data_dir=tmp_path, tools_enabled=["diffusion"], diffusion_servers=[server.url]))
        chosen = build_tools(
            Settings(
                data_dir=tmp_path,
                tools_enabled=["diffusion"],
                diffusion_servers=[server.url],
                diffusion_steps=3,
                diffusion_size=64,
                diffusion_guidance=4.0,
            )
        )
        assert plain["diffusion"].run(DiffusionParams(prompt="a"), ToolContext(seed=1)).ok
        assert chosen["diffusion"].run(DiffusionParams(prompt="a"), ToolContext(seed=1)).ok
        first, second = (r["fields"] for r in server.requests)
    assert first == {"prompt": "a", "n": 1, "seed": 1}  # the server's own defaults for its model
    assert second == {
        "prompt": "a",
        "n": 1,
        "size": "64x64",
        "seed": 1,
        "num_inference_steps": 3,
        "guidance_scale": 4.0,
    }


def test_regenerate_with_a_new_seed_is_a_new_picture_and_the_same_seed_reproduces(tmp_path: Path) -> None:
    from studio.app.regenerate import regenerate_image
    from studio.app.services import build_services
    from studio.app.settings import Settings
    from studio.core.article import Article, ImageBlock

    with serve_images() as server:
        settings = Settings(data_dir=tmp_path, tools_enabled=["diffusion"], diffusion_servers=[server.url])
        services = build_services(settings, backend=SimpleNamespace(name="none"))  # type: ignore[arg-type]
        try:
            article = Article(brief="b")
            article.blocks = [ImageBlock("b1", 0, "diffusion", "a fox", {"prompt": "a fox"}, "", status="queued")]
            first = regenerate_image(article, "b1", services, seed=11)
            same = regenerate_image(article, "b1", services, seed=11)
            new = regenerate_image(article, "b1", services)  # "new seed"
        finally:
            services.close()
    assert first.status == same.status == new.status == "ok"
    assert first.result.image == same.result.image and new.result.image != first.result.image
    assert new.result.provenance["seed"] != 11 and new.result.provenance["server"] == server.url
    assert [r["fields"]["seed"] for r in server.requests][:2] == [11, 11]
