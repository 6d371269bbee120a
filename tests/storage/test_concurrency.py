from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from storage import ArticleRecorder, Store, list_preference_events, repo

BLOCKS = 24
REWRITES = 6


def _writer(store: Store, n: int) -> int:
    """One session's work on its own project: record an article, then rewrite and accept blocks."""
    pid = repo.create_project(store, f"session {n}").id
    rec = ArticleRecorder(store, pid, brief=f"brief {n}", flush_every=4)
    for i in range(BLOCKS):
        if i % 2:
            rec.image_queued(f"b{i}", i, "diffusion", f"{n}-{i}", {"prompt": f"{n}-{i}"})
            rec.image_finished(f"b{i}", "ok", image_bytes=f"img {n} {i}".encode())
        else:
            for word in ("one ", "two ", "three "):
                rec.text_delta(f"b{i}", word)
    rec.done()
    for i in range(0, 2 * REWRITES, 2):
        repo.add_text_version(store, rec.article_id, f"b{i}", f"rewrite {n} {i}")
        repo.accept_version(store, rec.article_id, f"b{i}")
    return rec.article_id


def test_four_writer_threads_on_different_projects_lose_nothing(store: Store) -> None:
    stop = threading.Event()
    reads: list[int] = []

    def reader() -> None:  # the UI polling meanwhile
        while not stop.is_set():
            reads.append(len(repo.list_projects(store)))
            time.sleep(0.01)

    poller = threading.Thread(target=reader)
    poller.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            article_ids = list(pool.map(lambda n: _writer(store, n), range(4)))
    finally:
        stop.set()
        poller.join()

    assert reads, "the reader ran alongside the writers"
    assert sorted(p.name for p in repo.list_projects(store)) == [f"session {n}" for n in range(4)]
    for n, aid in enumerate(article_ids):
        a = repo.open_article(store, aid)
        assert a.brief == f"brief {n}" and a.status == "done" and len(a.blocks) == BLOCKS
        for i, b in enumerate(a.blocks):
            if b.kind == "image":
                assert store.assets.read(b.current.asset.sha256) == f"img {n} {i}".encode()
            elif i < 2 * REWRITES:
                assert (b.current.text, b.accepted_version, b.version_count) == (f"rewrite {n} {i}", 2, 2)
            else:
                assert b.current.text == "one two three "
    assert len(list_preference_events(store)) == 4 * REWRITES * 2
