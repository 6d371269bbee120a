"""bench/editor_updates.py bytes runs against today's events and page value (it broke once when a
new event, TagOpened, reached the baseline's page model), so it cannot go stale unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_bytes_bench_streams_an_article_and_reports_both_sides(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STUDIO_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "bench/editor_updates.py", "bytes"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout[done.stdout.index("{") :])
    assert report["images_ok_at_end"] == 6 and report["text_updates"] > 10
    assert report["ratio_median"] >= 20  # the target for the dict page value over whole HTML
