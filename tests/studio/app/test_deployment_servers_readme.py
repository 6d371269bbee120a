"""The README's "Deployment with image servers" layouts, run as written: each layout's `export
STUDIO_...` lines become the environment and its `python -m studio ...` lines run through the CLI,
against scripted vLLM-Omni-shaped image servers (real PNGs from tiny diffusers pipelines), a
scripted vLLM-shaped chat server and scripted SearXNG/Openverse endpoints on 127.0.0.1. Swapped
for the test: the host names (for the scripted servers' addresses), the picture size and steps,
the data dir, and the downloader's allow-list (the scripted image host is loopback)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import torch

from studio.app.cli import main
from tests.chat_server import ChatServer, Stream
from tests.httpserver import LocalServer
from tests.images_server import serve_images
from tests.search_providers_server import serve_providers
from tests.tools.test_search_providers import png

README = Path(__file__).resolve().parents[3] / "README.md"
ARTICLE = (
    "# Harbour\n\nMorning light.\n\n"
    "<imgen>{'source': 'diffusion', 'description': 'a harbour', 'params': {'prompt': 'a harbour'}}</imgen>"
    "\n\nThe same at night.\n\n"
    "<imgen>{'source': 'edit', 'description': 'at night', 'params': {'img_index': 0, 'prompt': 'at night'}}"
    "</imgen>\n\nThe end."
)
SEARCH = "<imgen>{'source': 'search', 'description': 'the harbour', 'params': {'query': 'harbour'}}</imgen>\n\n"


def layout(title: str) -> tuple[dict[str, str], list[list[str]], str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Deployment with image servers", 1)[1].split("\n## ", 1)[0]
    block = section.split(f"### {title}", 1)[1].split("\n### ", 1)[0]
    exports = dict(re.findall(r"^    export (STUDIO_[A-Z_]+)=(\S+)$", block, re.MULTILINE))
    commands = [shlex.split(line)[3:] for line in re.findall(r"^    (\.venv/bin/python -m studio .+)$", block, re.M)]
    return exports, commands, block


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STUDIO_DIFFUSION_SIZE", "64")
    monkeypatch.setenv("STUDIO_EDIT_STEPS", "1")


def test_one_gpu_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exports, commands, block = layout("One GPU")
    assert [c[0] for c in commands] == ["tools", "write"]
    assert len(re.findall(r"^    vllm serve .* --gpu-memory-utilization 0\.\d+$", block, re.M)) == 3
    assert block.count("--omni") == 2
    with (
        serve_images("Tongyi-MAI/Z-Image-Turbo") as paint,
        serve_images("Qwen/Qwen-Image-Edit-2511") as edit,
        ChatServer([Stream([ARTICLE[:80], ARTICLE[80:]])]) as chat,
    ):
        swap = {"127.0.0.1:8000": chat.url, "127.0.0.1:8091": paint.url, "127.0.0.1:8092": edit.url}
        for name, value in exports.items():
            for host, url in swap.items():
                value = re.sub(rf"^http://{re.escape(host)}/v1$", url, value)
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("STUDIO_DIFFUSION_SIZE", "64")
        monkeypatch.setenv("STUDIO_DIFFUSION_STEPS", "1")
        monkeypatch.setenv("STUDIO_TOOLS_ENABLED", '["diffusion", "edit"]')
        assert main(commands[0]) == 0
        tools = capsys.readouterr().out
        assert re.search(rf"^diffusion\s+on .*{re.escape(paint.url)} \(Tongyi-MAI/Z-Image-Turbo\)", tools, re.M), tools
        assert re.search(rf"^edit\s+on .*{re.escape(edit.url)} \(Qwen/Qwen-Image-Edit-2511\)", tools, re.M), tools
        out = tmp_path / "out"
        assert main([str(out) if arg == "out/" else arg for arg in commands[1]]) == 0
        made = [r["path"] for r in paint.requests], [r["path"] for r in edit.requests]
    assert made == (["images/generations"], ["images/edits"])
    article = json.loads((out / "article.json").read_text())
    pictures = [b for b in article["blocks"] if b["kind"] == "image"]
    assert [b["status"] for b in pictures] == ["ok", "ok"], [b.get("error") for b in pictures]
    assert pictures[0]["provenance"]["server"] == paint.url
    assert pictures[0]["provenance"]["model"] == "Tongyi-MAI/Z-Image-Turbo"
    assert pictures[1]["provenance"]["server"] == edit.url


def test_team_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exports, commands, _block = layout("A team")
    assert [c[0] for c in commands] == ["tools", "render"]
    with (
        LocalServer() as images,
        serve_images("Qwen/Qwen-Image") as gpu1,
        serve_images("Qwen/Qwen-Image") as gpu2,
    ):
        for name in ("harbour.png", "unlicensed.png", "fox.png"):
            images.route(f"/{name}", headers={"Content-Type": "image/png"}, body=png())
        with serve_providers(f"http://localhost:{images.port}") as providers:
            host = {"gpu1": gpu1.url.rsplit("/v1", 1)[0], "gpu2": gpu2.url.rsplit("/v1", 1)[0]}
            for name, value in exports.items():
                value = re.sub(r"http://(gpu[12]):\d+", lambda m: host[m.group(1)], value)
                value = value.replace("http://searxng:8080", providers.base)
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("STUDIO_OPENVERSE_URL", providers.base + "/v1")
            monkeypatch.setenv("STUDIO_DOWNLOAD_ALLOWED_HOSTS", "localhost")
            monkeypatch.setenv("STUDIO_DOWNLOAD_MIN_SIDE", "100")
            monkeypatch.setenv("STUDIO_DIFFUSION_STEPS", "1")
            monkeypatch.setenv("STUDIO_TOOLS_ENABLED", '["search", "diffusion", "edit"]')
            monkeypatch.setenv("STUDIO_MAX_CONCURRENT_TOOLS", "1")
            assert main(commands[0]) == 0
            tools = capsys.readouterr().out
            assert re.search(r"^diffusion\s+on\s+2/2 image servers reachable", tools, re.M), tools
            assert re.search(r"^search\s+on", tools, re.M), tools
            response = tmp_path / "response.txt"
            response.write_text(SEARCH + ARTICLE.replace("'img_index': 0", "'img_index': 1"), encoding="utf-8")
            out = tmp_path / "out"
            args = [str(response) if a == "response.txt" else str(out) if a == "out/" else a for a in commands[1]]
            assert main(args) == 0
            asked = [path for path, _ in providers.queries]
            keys = {r["authorization"] for r in gpu1.requests + gpu2.requests}
    article = json.loads((out / "article.json").read_text())
    pictures = [b for b in article["blocks"] if b["kind"] == "image"]
    assert [b["status"] for b in pictures] == ["ok", "ok", "ok"], [b.get("error") for b in pictures]
    search, painted, edited = (b["provenance"] for b in pictures)
    assert search["provider"] == "searxng" and search["licence"] == "CC0 1.0"
    assert asked == ["/search", "/v1/images/"]  # SearXNG first, then Openverse
    assert painted["server"] == gpu1.url and edited["server"] == gpu2.url  # each list's first turn
    assert keys == {"Bearer change-me"}
