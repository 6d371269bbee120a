"""A writer process for the kill -9 test: records one endless article, block by block.

Usage: python crash_writer.py DATA_DIR [DATABASE_URL] (no URL: SQLite in DATA_DIR). Prints
``article <id>`` once, then each block id right after the commit that made it durable. Runs
until killed.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from storage import ArticleRecorder, open_store, repo  # noqa: E402


def expected_text(i: int) -> str:
    return f"Paragraph {i} says something. " * 3 + "\n"


def expected_image(i: int) -> bytes:
    return f"image {i} ".encode() * 500


def main(data_dir: Path, url: str | None) -> None:
    store = open_store(url, data_dir)
    project = repo.create_project(store, "crash me")
    # Only the explicit flush() commits text here, so the test sees exactly what flush() makes durable.
    rec = ArticleRecorder(store, project.id, brief="an endless article", flush_interval_s=60, flush_every=1000)
    print(f"article {rec.article_id}", flush=True)
    i = 0
    while True:
        key = f"b{i}"
        if i % 2 == 0:
            for word in re.findall(r"\S+\s*", expected_text(i)):
                rec.text_delta(key, word)
            rec.flush()
        else:
            rec.image_queued(key, i, "diffusion", f"picture {i}", {"prompt": f"picture {i}"})
            rec.image_started(key)
            rec.image_finished(key, "ok", image_bytes=expected_image(i), seconds=0.01)
        print(key, flush=True)
        if i % 2 == 0:
            # Linger after a text block, so the kill often lands where only flush() made it durable
            # (any later event would flush pending text too and hide a flush() that does nothing).
            time.sleep(0.003)
        i += 1


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
