"""bench/ui_sessions.py runs against today's endpoints (tiny: one render session), so it
cannot go stale unnoticed again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ui_sessions_bench_runs_one_session_without_errors(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STUDIO_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "bench/ui_sessions.py", "--sessions", "1", "--mode", "render"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sessions: 1 (render)" in done.stdout and "errors: 0" in done.stdout
    assert "events:" in done.stdout and "per session:" in done.stdout
    assert "event-to-client latency p50" in done.stdout  # the updates carry the server's sent_at
