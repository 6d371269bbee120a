from __future__ import annotations

import threading

from storage import ArticleRecorder, Store, open_store, repo


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def committed_text(store: Store, article_id: int, key: str) -> str | None:
    """What another process would see: read through a separate engine."""
    other = open_store(store.engine.url.render_as_string(hide_password=False), store.data_dir, run_migrations=False)
    try:
        blocks = {b.key: b for b in repo.open_article(other, article_id).blocks}
        return blocks[key].current.text if key in blocks else None
    finally:
        other.close()


def test_text_deltas_are_coalesced_then_committed_by_time_count_and_events(store: Store) -> None:
    clock = FakeClock()
    pid = repo.create_project(store, "p").id
    rec = ArticleRecorder(store, pid, brief="b", flush_interval_s=0.25, flush_every=5, clock=clock)
    rec.text_delta("b1", "a")  # a new block is committed at once
    assert committed_text(store, rec.article_id, "b1") == "a"
    rec.text_delta("b1", "b")
    rec.text_delta("b1", "c")
    assert committed_text(store, rec.article_id, "b1") == "a"  # pending, in memory
    clock.now = 0.3
    rec.text_delta("b1", "d")  # the interval has passed
    assert committed_text(store, rec.article_id, "b1") == "abcd"
    for ch in "efgh":
        rec.text_delta("b1", ch)
    assert committed_text(store, rec.article_id, "b1") == "abcd"
    rec.text_delta("b1", "i")  # the fifth pending delta
    assert committed_text(store, rec.article_id, "b1") == "abcdefghi"
    rec.text_delta("b1", "j")
    rec.image_queued("b2", 0, "diffusion", "d", {"prompt": "x"})  # any image event commits pending text
    assert committed_text(store, rec.article_id, "b1") == "abcdefghij"
    rec.text_delta("b3", "k")
    rec.text_delta("b3", "l")
    rec.done(error="stream broke")
    a = repo.open_article(store, rec.article_id)
    assert (a.status, a.error) == ("failed", "stream broke")
    assert (
        a.llmi_text()
        == "abcdefghij<imgen>{'source': 'diffusion', 'description': 'd', 'params': {'prompt': 'x'}}</imgen>kl"
    )


def test_image_lifecycle_and_final_params(store: Store) -> None:
    pid = repo.create_project(store, "p").id
    rec = ArticleRecorder(store, pid, brief="b")
    rec.image_queued("b1", 0, "code", "chart", {"code": ""})
    seen = [repo.open_article(store, rec.article_id).blocks[0].current.status]
    rec.image_started("b1", "code")
    seen.append(repo.open_article(store, rec.article_id).blocks[0].current.status)
    rec.image_finished("b1", "ok", image_bytes=b"PNG", mime="image/png", params={"code": "plt.plot([1])"}, seconds=2.0)
    current = repo.open_article(store, rec.article_id).blocks[0].current
    assert seen + [current.status] == ["queued", "running", "ok"]
    assert current.params == {"code": "plt.plot([1])"} and current.seconds == 2.0
    assert store.assets.read(current.asset.sha256) == b"PNG"


def test_tool_results_from_worker_threads(store: Store) -> None:
    pid = repo.create_project(store, "p").id
    rec = ArticleRecorder(store, pid, brief="b")
    for i in range(8):
        rec.image_queued(f"i{i}", i, "diffusion", str(i), {"prompt": str(i)})
    workers = [
        threading.Thread(target=rec.image_finished, args=(f"i{i}", "ok"), kwargs={"image_bytes": bytes([i]) * 10})
        for i in range(8)
    ]
    for i in range(20):
        rec.text_delta("t", f"{i},")
        if i < 8:
            workers[i].start()
    for w in workers:
        w.join()
    rec.done()
    a = repo.open_article(store, rec.article_id)
    assert all(b.current.status == "ok" for b in a.blocks if b.kind == "image")
    assert a.block("t").current.text == "".join(f"{i}," for i in range(20))
