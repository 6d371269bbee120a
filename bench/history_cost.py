"""What the article's undo history costs a change: manual text edits on a long stored article,
with the history (``storage.history.record_step``: lock, two pointer snapshots, one step row)
against the same edits with ``record_step`` replaced by a no-op, side by side in one run.

    python bench/history_cost.py [--blocks 200] [--edits 200] [--runs 3]

Prints median milliseconds per edit for each and the ratio (SQLite in a temp folder).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import ArticleRecorder, open_store, repo, versions  # noqa: E402
from storage.history import Step  # noqa: E402


@contextlib.contextmanager
def no_history(s: Any, article_id: int, kind: str, label: str, merge_key: str | None = None) -> Iterator[Step]:
    yield Step(kind, label, merge_key)


def edits_ms(blocks: int, edits: int, history: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(None, Path(tmp))
        project = repo.create_project(store, "bench")
        rec = ArticleRecorder(store, project.id, brief="a long article")
        for i in range(blocks):
            rec.text_delta(f"b{i + 1}", f"Paragraph {i} of the article.\n\n")
        rec.done(seconds=1.0)
        real = versions.record_step
        if not history:
            versions.record_step = no_history
        try:
            start = time.perf_counter()
            for n in range(edits):
                key = f"b{n % blocks + 1}"
                repo.add_text_version(store, rec.article_id, key, f"Edit {n} of {key}.\n\n", manual=True)
            elapsed = time.perf_counter() - start
        finally:
            versions.record_step = real
        store.close()
        return elapsed * 1000 / edits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with_h, without = [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        without.append(edits_ms(args.blocks, args.edits, history=False))
        with_h.append(edits_ms(args.blocks, args.edits, history=True))
    a, b = statistics.median(without), statistics.median(with_h)
    print(f"{args.blocks} blocks, {args.edits} manual edits, median of {args.runs} runs (SQLite):")
    print(f"  without history: {a:.2f} ms per edit")
    print(f"  with history:    {b:.2f} ms per edit  (ratio {b / a:.2f})")


if __name__ == "__main__":
    main()
