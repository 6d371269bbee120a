from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import open_store, processes, repo

from .crash_writer import expected_image, expected_text

WRITER = Path(__file__).with_name("crash_writer.py")


@pytest.mark.parametrize("kill_after", ["text", "image"])
def test_kill_9_mid_article_keeps_every_committed_block(tmp_path: Path, kill_after: str, db_url: str | None) -> None:
    """Killed right after a text block was reported (the writer lingers there: only flush() made
    that text durable) or right after an image block (the kill lands while the next block is
    being written)."""
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(data_dir), *([db_url] if db_url else [])], stdout=subprocess.PIPE, text=True
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("article "), first
        article_id = int(first.split()[1])
        reported = []
        wanted_parity = 0 if kill_after == "text" else 1  # even blocks are text, odd ones images
        while len(reported) < 30 or int(reported[-1][1:]) % 2 != wanted_parity:
            line = proc.stdout.readline()
            assert line, f"the writer died early (rc={proc.poll()})"
            reported.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        reported += proc.stdout.read().split()  # printed (so committed) before the kill, not yet read
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = open_store(db_url, data_dir)
    if store.engine.dialect.name == "sqlite":
        with store.read() as s:
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert s.execute(text("PRAGMA foreign_key_check")).all() == []
    else:  # the server rolled back the dead client's open transaction: no lock or session is left
        with store.read() as s:
            assert s.execute(text("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in%'")).scalar() == 0
    article = repo.open_article(store, article_id)
    assert article.status == "running"  # the writer never finished
    blocks = {b.key: b for b in article.blocks}
    for key in reported:
        i = int(key[1:])
        current = blocks[key].current
        if i % 2 == 0:
            assert current.text == expected_text(i)
        else:
            assert current.status == "ok"
            assert store.assets.read(current.asset.sha256) == expected_image(i)
    assert len(blocks) >= len(reported)

    # Another process sees that the writer is dead (its pid is gone) and interrupts the article;
    # the project reopens and takes new writes.
    assert processes.reap(store) == 1
    assert repo.open_article(store, article_id).status == "interrupted"
    project = repo.list_projects(store)[0]
    assert repo.rename_project(store, project.id, "survived").name == "survived"
    store.close()
