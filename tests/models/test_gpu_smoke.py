"""bench/gpu_smoke.py as a command: it refuses to pass without CUDA unless --allow-cpu is given,
and with the flag the whole smoke (checks, overhead, the project's diffusion tests) passes here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "bench" / "gpu_smoke.py"


def smoke(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SMOKE), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the smoke runs for real")
def test_without_cuda_it_exits_non_zero_and_says_how_to_run() -> None:
    proc = smoke()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no CUDA device" in proc.stderr and "--allow-cpu" in proc.stderr
    assert "PASS" not in proc.stdout


@pytest.mark.slow
def test_with_allow_cpu_the_whole_smoke_passes(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    proc = smoke("--allow-cpu", "--runs", "3", "--json", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["ok"] and results["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert all(check["ok"] for check in results["checks"].values()), results["checks"]
    assert results["overhead"]["runs"] == 3 and results["overhead"]["pipeline_ms_median"] > 0
    assert results["tests"]["ok"] and "passed" in results["tests"]["summary"]
    assert "gpu smoke on" in proc.stdout and "all passed" in proc.stdout
