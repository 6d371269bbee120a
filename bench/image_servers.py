"""Image servers against the in-process pipeline, side by side in one run.

Usage (from the repository root):

    .venv/bin/python bench/image_servers.py --runs 20

1. Time per picture: the in-process diffusion tool on a tiny config-built pipeline
   (tests/tiny_pipelines.py, 64 px, 1 step) against the server diffusion tool talking to a
   scripted vLLM-Omni-shaped server on 127.0.0.1 that runs the same pipeline in the same process,
   so the difference is what the server path adds (openai SDK, HTTP, base64, the PNG check).
   Runs alternate, medians reported, ratio server / in-process.
2. Memory of an app process's tools: a fresh Python builds the studio's tools from Settings
   and makes one picture, once with STUDIO_DIFFUSION_SERVERS set (the scripted server in this
   process) and once in-process; peak resident memory (VmHWM) of each, ratio, and whether torch
   was imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, sys
from studio.app.services import build_tools
from studio.app.settings import Settings
from tools.base import ToolContext
from tools.params import DiffusionParams
tools = build_tools(Settings(tools_enabled=["diffusion"], diffusion_steps=1, diffusion_size=64, device="cpu"))
result = tools["diffusion"].run(DiffusionParams(prompt="a harbour"), ToolContext(seed=1))
peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"ok": result.ok, "error": result.error, "peak_mb": int(peak) / 1024,
                  "torch": "torch" in sys.modules, "diffusers": "diffusers" in sys.modules}))
"""


def child_memory(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    import torch

    from models.image_api import ImageServers
    from tests.images_server import serve_images
    from tests.tiny_pipelines import tiny_instruct_pix2pix_dir, tiny_text2image_dir
    from tools.base import ToolContext
    from tools.diffusion import DiffusionTool
    from tools.image_servers import ServerDiffusionTool
    from tools.params import DiffusionParams

    torch.set_num_threads(1)
    tiny = str(tiny_text2image_dir())
    tiny_instruct_pix2pix_dir()
    local = DiffusionTool(tiny, steps=1, size=64, device="cpu", allow_downloads=False)
    params = DiffusionParams(prompt="a harbour at dusk")
    timings: dict[str, list[float]] = {"in-process": [], "server": []}
    with serve_images("tiny") as server:
        remote = ServerDiffusionTool(ImageServers([server.url]), steps=1, size=64)
        for tool in (local, remote):  # warm both (pipeline load, first connection)
            assert tool.run(params, ToolContext(seed=0)).ok
        for run in range(args.runs):
            for name, tool in (("in-process", local), ("server", remote)):
                start = time.perf_counter()
                result = tool.run(params, ToolContext(seed=run))
                timings[name].append((time.perf_counter() - start) * 1000)
                assert result.ok, result.error
        remote.close()
        served = child_memory({"STUDIO_DIFFUSION_SERVERS": server.url, "STUDIO_DIFFUSION_MODEL": tiny})
    local.close()
    in_process = child_memory({"STUDIO_DIFFUSION_MODEL": tiny})
    medians = {name: statistics.median(values) for name, values in timings.items()}
    report = {
        "runs": args.runs,
        "median_ms": {k: round(v, 1) for k, v in medians.items()},
        "time_ratio_server_vs_in_process": round(medians["server"] / medians["in-process"], 2),
        "peak_mb": {"server": round(served["peak_mb"], 0), "in-process": round(in_process["peak_mb"], 0)},  # type: ignore[arg-type]
        "memory_ratio_server_vs_in_process": round(served["peak_mb"] / in_process["peak_mb"], 2),  # type: ignore[operator]
        "torch_imported": {"server": served["torch"], "in-process": in_process["torch"]},
        "pictures_ok": {"server": served["ok"], "in-process": in_process["ok"]},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
