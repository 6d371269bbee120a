"""Two real app processes on one store (SQLite WAL, and a real PostgreSQL 15): 8 gradio_client
clients x 50 block actions, then every row and asset counted; then a ``kill -9`` of one app
mid-article while the other keeps serving."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client
from sqlalchemy import func, select, text

from storage import open_store, repo
from storage.schema import Article, AssetOwner, Block, BlockVersion, PreferenceEvent, Project
from tests.team.apps import AppProcess, add_users
from tests.team.stall_model import StallingModel
from tests.team.workload import article_json, expected, run_client

pytestmark = pytest.mark.slow

CLIENTS, ACTIONS = 8, 50
USERS = {f"u{n}": f"password-{n}-long" for n in range(4)}
# the model's article: its first paragraph arrives at once, then the stream stalls
# (four different sentences: a repeated one would be cut by the stream guard, ending the article)
FIRST = (
    "First paragraph, committed before the kill. The lighthouse keeper climbs the stairs. "
    "Ships pass the headland at night. The lamp turns until dawn.\n\n"
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_app_processes_lose_nothing_and_survive_a_kill_9(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_cluster").new_database("team") if backend == "postgresql" else None
    data_dir = tmp_path / "data"  # one data folder: one users file, one asset directory
    add_users(data_dir, USERS)
    model = StallingModel(FIRST)
    with (
        model,
        AppProcess(data_dir, url, model_url=model.url) as one,
        AppProcess(data_dir, url, model_url=model.url) as two,
    ):
        apps = [one, two]
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [
                pool.submit(run_client, apps[n % 2].url, n, f"u{n % 4}", USERS[f"u{n % 4}"], ACTIONS)
                for n in range(CLIENTS)
            ]
            runs = [f.result() for f in futures]

        store = open_store(url, data_dir)
        try:
            _check_counts(store, runs)

            # --- kill -9 of app one mid-article ---------------------------------------------------
            writer = Client(one.url, auth=("u0", USERS["u0"]), verbose=False)
            job = writer.submit("a brief", 0, ["code"], "", "openai", model.url, "scripted", 1, api_name="/generate")
            article_id = _wait_for_running_article(store, known={r.article_id for r in runs})
            one.kill9()
            assert not job.done() or job.exception() is not None  # it never finished on its own
            # the other process interrupts the dead writer's article (its pid is gone) on its next beat
            deadline = time.monotonic() + 60
            while repo.open_article(store, article_id).status == "running" and time.monotonic() < deadline:
                time.sleep(0.5)
            killed = repo.open_article(store, article_id)
            assert killed.status == "interrupted"
            assert killed.blocks and killed.blocks[0].current.text.startswith("First paragraph, committed")
            if backend == "postgresql":  # the server ended the dead client's sessions and transactions
                with store.read() as s:
                    stuck = "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
                    assert s.execute(text(stuck)).scalar() == 0
            # app two keeps serving, the killed article's owner included
            survivor = Client(two.url, auth=("u0", USERS["u0"]), verbose=False)
            out = survivor.predict(killed.project_id, api_name="/open_project")
            assert article_json(out)["article_id"] == article_id
            out = survivor.predict("kept after the kill", api_name="/rename_project")
            assert repo.get_project(store, killed.project_id).name == "kept after the kill"
            other = Client(two.url, auth=("u1", USERS["u1"]), verbose=False)
            assert str(killed.project_id) not in str(other.predict(api_name="/projects"))
        finally:
            store.close()


def _check_counts(store, runs) -> None:  # type: ignore[no-untyped-def]
    want = expected(CLIENTS, ACTIONS)
    with store.read() as s:
        count = lambda model: s.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(Project) == want["projects"] and count(Article) == want["articles"]
        assert count(Block) == want["blocks"]
        assert count(PreferenceEvent) == want["events"]
        ids = list(s.scalars(select(PreferenceEvent.id)))
        assert len(ids) == len(set(ids))
        by_owner = Counter(s.scalars(select(PreferenceEvent.owner)))
        assert by_owner == Counter({f"u{n}": 2 * ACTIONS for n in range(4)})
        assert set(s.scalars(select(Article.status))) == {"done"}
        assert count(AssetOwner) == want["chart_assets"]
        versions = count(BlockVersion)
    assert versions == sum(3 + r.chart_versions + r.search_versions for r in runs)
    for r in runs:
        assert [p.id for p in repo.list_projects(store, r.user)].count(r.project_id) == 1
        for key, n in (("b2", r.chart_versions), ("b4", r.search_versions)):
            assert [v.number for v in repo.list_versions(store, r.article_id, key, r.user)] == list(range(1, n + 1))
        chart = repo.open_article(store, r.article_id).block("b2").current
        assert chart.status == "ok" and store.assets.exists(chart.asset.sha256)
    files = [p for p in store.assets.root.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(".tmp-")]
    assert len(files) == want["chart_assets"]


def _wait_for_running_article(store, known: set[int]) -> int:  # type: ignore[no-untyped-def]
    """The new article, once its first text block is committed."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with store.read() as s:
            rows = s.execute(
                select(Article.id).join(Block, Block.article_id == Article.id).where(Article.status == "running")
            ).all()
        fresh = [row[0] for row in rows if row[0] not in known]
        if fresh:
            return int(fresh[0])
        time.sleep(0.2)
    raise AssertionError("the article never started")
