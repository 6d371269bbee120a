"""bench/typing_latency.py runs against today's page (tiny: 15 keys in each editor), so it cannot
go stale unnoticed; a slow test (real Chromium, the app, a scripted model server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import require_chromium
from tests.ui.test_type_in_place import ensure_bundle

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_typing_latency_bench_measures_both_editors(tmp_path: Path) -> None:
    require_chromium()
    ensure_bundle()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STUDIO_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "bench/typing_latency.py", "--chars", "15"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "editor (ProseMirror)" in done.stdout and "Markdown box (textarea)" in done.stdout
    assert "n=15" in done.stdout and "typed text kept: yes" in done.stdout
