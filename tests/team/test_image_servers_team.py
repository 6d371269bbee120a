"""Two real app processes share one scripted vLLM-Omni-shaped image server: both make their
diffusion and edit pictures there, and neither imports torch/diffusers or grows to hold a model
(checked from inside each process by tests/team/module_probe and from /proc)."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client

from tests.images_server import serve_images
from tests.team.apps import AppProcess, add_users
from tests.team.workload import article_json

pytestmark = pytest.mark.slow

USERS = {"ann": "password-ann-long", "bo": "password-bo-long"}
PROBE = Path(__file__).resolve().parent / "module_probe"
RESPONSE = (
    "# Harbour {n}\n\nBoats at rest.\n\n"
    "<imgen>{{'source': 'diffusion', 'description': 'a harbour', 'params': {{'prompt': 'a harbour {n}'}}}}</imgen>"
    "\n\nThen night.\n\n"
    "<imgen>{{'source': 'edit', 'description': 'at night', 'params': {{'img_index': 0, 'prompt': 'at night'}}}}"
    "</imgen>\n\nThe end."
)


def maps_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def test_two_apps_share_one_image_server_and_load_no_image_model(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add_users(data_dir, USERS)
    with serve_images("Qwen/Qwen-Image") as server:
        apps = []
        for n in range(2):
            env = {
                "PYTHONPATH": f"{PROBE}{os.pathsep}{Path(__file__).resolve().parents[2]}",
                "STUDIO_TEST_MODULES_FILE": str(tmp_path / f"modules-{n}.json"),
                "STUDIO_TOOLS_ENABLED": json.dumps(["diffusion", "edit"]),
                "STUDIO_DIFFUSION_SERVERS": server.url,
                "STUDIO_EDIT_SERVERS": server.url,
                "STUDIO_DIFFUSION_SIZE": "64",
                "STUDIO_DIFFUSION_STEPS": "1",
                "STUDIO_EDIT_STEPS": "1",
            }
            apps.append(AppProcess(data_dir, extra_env=env))
        with apps[0], apps[1]:

            def render(n: int) -> dict:
                user = list(USERS)[n]
                client = Client(apps[n].url, auth=(user, USERS[user]), verbose=False)
                return article_json(client.predict(f"brief {n}", RESPONSE.format(n=n), "", api_name="/render"))

            with ThreadPoolExecutor(2) as pool:
                articles = list(pool.map(render, range(2)))
            time.sleep(1.0)  # one more beat of the probes
            probes = [json.loads((tmp_path / f"modules-{n}.json").read_text()) for n in range(2)]
            pids = [app.proc.pid for app in apps if app.proc is not None]
            torch_mapped = [maps_torch(pid) for pid in pids]
    for article in articles:
        pictures = [b for b in article["article"]["blocks"] if b.get("kind") == "image"]
        assert [b["status"] for b in pictures] == ["ok", "ok"], [b.get("error") for b in pictures]
        assert {b["provenance"]["server"] for b in pictures} == {server.url}
        assert {b["provenance"]["model"] for b in pictures} == {"Qwen/Qwen-Image"}
    paths = sorted(r["path"] for r in server.requests)
    assert paths == ["images/edits"] * 2 + ["images/generations"] * 2
    for probe, pid in zip(probes, pids, strict=True):
        assert probe["pid"] == pid
        assert probe["heavy"] == [], probe  # no torch, diffusers or transformers imported
    assert torch_mapped == [False, False]
    print("app RSS MB:", [round(p["rss_mb"]) for p in probes])


def test_the_module_probe_sees_torch_when_a_process_imports_it(tmp_path: Path) -> None:
    """The probe above is able to fail: a process that imports torch is reported."""
    import subprocess
    import sys

    target = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(PROBE), "STUDIO_TEST_MODULES_FILE": str(target)}
    subprocess.run([sys.executable, "-c", "import torch, time; time.sleep(1.5)"], env=env, check=True, timeout=120)
    probe = json.loads(target.read_text())
    assert "torch" in probe["heavy"] and probe["rss_mb"] > 0
