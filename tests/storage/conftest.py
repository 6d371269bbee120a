"""Every storage test runs on both backends: SQLite (WAL) and a real PostgreSQL 15 cluster
(``tests.pg``), through the parametrized ``db_url`` fixture (None: SQLite in the data dir)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import ArticleRecorder, Store, open_store, repo
from tests.pg import PostgresCluster, pg_cluster  # noqa: F401 - pg_cluster: the session's cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the test's data dir) or the URL of a new, empty PostgreSQL database."""
    if request.param == "sqlite":
        return None
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database()


@pytest.fixture
def store(tmp_path: Path, db_url: str | None) -> Iterator[Store]:
    s = open_store(db_url, tmp_path / "data")
    yield s
    s.close()


def record_sample(store: Store, project_id: int, *, tag: str = "") -> int:
    """A small finished article: text, a chart (ok), text, a search call (failed), an invalid tag."""
    rec = ArticleRecorder(
        store, project_id, brief=f"Write about tides{tag}", input_images=[(b"user-jpeg", "image/jpeg")]
    )
    rec.text_delta("b1", "Tides ")
    rec.text_delta("b1", "rise and fall.\n")
    rec.image_queued("b2", 1, "code", "Tide chart", {"code": "plt.plot([1, 2])"})
    rec.image_started("b2", "code")
    rec.image_finished("b2", "ok", image_bytes=b"PNG-chart-v1" + tag.encode(), provenance={"code": "plt.plot([1, 2])"})
    rec.text_delta("b3", "The moon pulls the sea.")
    rec.image_queued("b4", 2, "search", "Bay of Fundy", {"query": "Bay of Fundy low tide"})
    rec.image_finished("b4", "failed", error="search is offline", seconds=0.5)
    rec.image_invalid("b5", 3, "<imgen>{'source': 'paint'}</imgen>", "unknown source 'paint'")
    rec.done(seconds=1.5)
    return rec.article_id


@pytest.fixture
def article(store: Store) -> tuple[int, int]:
    project = repo.create_project(store, "Tides")
    return project.id, record_sample(store, project.id)
