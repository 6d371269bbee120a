"""GPU smoke: the diffusers path on a CUDA machine, with no network and no weights.

Usage (from the repository root, on the GPU machine, after `bash setup.sh` with a CUDA torch):

    .venv/bin/python bench/gpu_smoke.py                 # exits 2 when torch sees no CUDA device
    .venv/bin/python bench/gpu_smoke.py --allow-cpu     # the same checks on the CPU (this machine)
    .venv/bin/python bench/gpu_smoke.py --json out.json --runs 20

It runs, on tiny config-built pipelines (tests/tiny_pipelines.py, random weights, seconds):
CUDA detection; fp16 load and placement (and the fp16 weights variant); finite output;
same-seed identity; 4 threads against the load and pipeline locks; the edit tool and its
image-to-image fallback (sharing the diffusion weights); model CPU offload; memory released;
ms per image of pipeline and tool overhead; then the project's diffusion tests with
STUDIO_TEST_DEVICE set to the device (plus the GPU-marked tests). Exit status 0 when all
passed; the figures are printed and, with --json, written for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_project_tests(device: str) -> dict[str, Any]:
    """The project's diffusion tests in a child process on ``device``."""
    from tests.gpu_checks import diffusion_test_paths

    env = {**os.environ, "STUDIO_TEST_DEVICE": device}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *diffusion_test_paths()]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-12:]
    return {
        "ok": proc.returncode == 0,
        "returncode": proc.returncode,
        "summary": tail[-1] if tail else "",
        "tail": tail,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when there is no CUDA device")
    parser.add_argument("--runs", type=int, default=20, help="pictures timed for the overhead figure")
    parser.add_argument("--no-tests", action="store_true", help="skip the project's diffusion tests")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    from tests.gpu_checks import detect  # the tiny pipelines are built on disk: no network needed

    facts = detect()
    if facts["warning"]:
        print(f"WARNING: {facts['warning']}", file=sys.stderr)
    if facts["cuda_available"]:
        device = "cuda"
        print(
            f"CUDA device: {facts['device_name']} (sm {facts['capability']}, {facts['memory_total_gib']} GiB, "
            f"{facts['memory_free_gib']} GiB free), torch {facts['torch']} CUDA {facts['torch_cuda']}"
        )
    elif args.allow_cpu:
        device = "cpu"
        print(f"no CUDA device (torch {facts['torch']}, CUDA build: {facts['torch_cuda']}); --allow-cpu: CPU run")
    else:
        print(
            f"no CUDA device: torch {facts['torch']} (CUDA build: {facts['torch_cuda']}) sees none. "
            "Run this on the GPU machine with a CUDA torch, or pass --allow-cpu for a CPU run.",
            file=sys.stderr,
        )
        return 2

    import torch

    from tests.gpu_checks import measure_overhead, run_checks

    if device == "cpu":
        torch.set_num_threads(1)  # steadier figures on a shared CPU
    results: dict[str, Any] = {"device": device, "detect": facts, "checks": run_checks(device)}
    for name, outcome in results["checks"].items():
        figures = {k: v for k, v in outcome.items() if k not in {"ok"}}
        print(f"{'PASS' if outcome['ok'] else 'FAIL'} {name}: {figures}")
    try:
        results["overhead"] = {"ok": True, **measure_overhead(device, args.runs)}
    except Exception as exc:  # noqa: BLE001 - report, then fail
        results["overhead"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(f"{'PASS' if results['overhead']['ok'] else 'FAIL'} overhead: {results['overhead']}")
    if not args.no_tests:
        results["tests"] = run_project_tests(device)
        print(
            f"{'PASS' if results['tests']['ok'] else 'FAIL'} project diffusion tests on {device}: "
            f"{results['tests']['summary']} ({results['tests']['seconds']} s)"
        )
        if not results["tests"]["ok"]:
            print("\n".join(results["tests"]["tail"]), file=sys.stderr)
    parts = [*results["checks"].values(), results["overhead"], *([results["tests"]] if "tests" in results else [])]
    ok = all(part["ok"] for part in parts)
    results["ok"] = ok
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(f"gpu smoke on {device}: {'all passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
