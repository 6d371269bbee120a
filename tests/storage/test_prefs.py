from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models.errors import StorageError
from storage import Store, export_preferences, list_preference_events, repo


def test_preference_log_refuses_update_and_delete(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    repo.add_text_version(store, aid, "b1", "Other text.\n")
    repo.accept_version(store, aid, "b1")
    before = list_preference_events(store)
    assert len(before) == 2
    for sql in ("UPDATE preference_events SET kind = 'accept'", "DELETE FROM preference_events"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    with pytest.raises(StorageError, match="append-only"), store.write() as s:
        s.execute(text("DELETE FROM preference_events WHERE id = 1"))
    assert list_preference_events(store) == before
    repo.delete_project(store, article[0])  # the log outlives the project
    assert list_preference_events(store) == before


def test_events_carry_full_context(store: Store, article: tuple[int, int]) -> None:
    _, aid = article
    v2 = repo.add_image_version(
        store, aid, "b2", source="diffusion", description="Tide art", params={"prompt": "waves"}, image=b"PNG-art"
    )
    repo.revert_version(store, aid, "b2", 1)
    event = list_preference_events(store, kind="revert")[0]
    c = event.context
    assert c["brief"] == "Write about tides" and c["block_id"] == "b2" and c["kept"] == 1
    assert c["text_before"] == "Tides rise and fall.\n"
    assert c["text_after"].startswith("The moon pulls the sea.<imgen>")
    assert c["chosen"]["params"] == {"code": "plt.plot([1, 2])"} and c["chosen"]["status"] == "ok"
    assert c["rejected"]["id"] == v2.id and c["rejected"]["asset_sha256"] == v2.asset.sha256
    assert (
        c["rejected"]["tag"]
        == "<imgen>{'source': 'diffusion', 'description': 'Tide art', 'params': {'prompt': 'waves'}}</imgen>"
    )
    assert (event.chosen_version_id, event.rejected_version_id) == (c["chosen"]["id"], v2.id)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_for_trl(store: Store, article: tuple[int, int], tmp_path: Path) -> None:
    _, aid = article
    # image block: regenerate, accept the new one, then change one's mind (same pair: one row, the latest)
    v2 = repo.add_image_version(
        store, aid, "b2", source="code", description="Tide chart", params={"code": "plt.bar([1], [3])"}
    )
    repo.finish_image_version(store, v2.id, status="ok", image=b"PNG-chart-v2")
    repo.accept_version(store, aid, "b2")
    # text block: rewrite, keep the rewrite
    repo.add_text_version(store, aid, "b3", "The moon and the sun pull the sea.")
    repo.accept_version(store, aid, "b3")
    repo.revert_version(store, aid, "b2", 1)
    repo.rate_article(store, aid, stars=4, comment="good")
    repo.rate_article(store, aid, thumbs=-1)

    out = export_preferences(store, tmp_path / "export")
    assert out == tmp_path / "export" / "preferences.jsonl"
    rows = _jsonl(out)
    assert [(r["meta"]["event"], r["meta"]["block_id"]) for r in rows] == [("accept", "b3"), ("revert", "b2")]
    text_row, image_row = rows
    for row in rows:
        assert isinstance(row["prompt"], str) and isinstance(row["chosen"], str) and isinstance(row["rejected"], str)
    assert text_row["prompt"].startswith("Write about tides\n\nTides rise and fall.\n<imgen>")
    assert text_row["chosen"] == "The moon and the sun pull the sea."
    assert text_row["rejected"] == "The moon pulls the sea."
    assert image_row["prompt"] == "Write about tides\n\nTides rise and fall.\n"
    assert (
        image_row["chosen"]
        == "<imgen>{'source': 'code', 'description': 'Tide chart', 'params': {'code': 'plt.plot([1, 2])'}}</imgen>"
    )
    assert "plt.bar([1], [3])" in image_row["rejected"]
    root = out.parent
    assert (root / image_row["chosen_image"]).read_bytes() == b"PNG-chart-v1"
    assert (root / image_row["rejected_image"]).read_bytes() == b"PNG-chart-v2"
    assert [(root / p).read_bytes() for p in image_row["prompt_images"]] == [b"user-jpeg"]
    assert image_row["prompt_images"][0].endswith(".jpg")

    ratings = _jsonl(root / "ratings.jsonl")
    assert [(r["label"], r["stars"], r["thumbs"], r["comment"]) for r in ratings] == [
        (True, 4, None, "good"),
        (False, None, -1, ""),
    ]
    assert ratings[0]["prompt"] == "Write about tides"
    assert ratings[0]["completion"] == repo.open_article(store, aid).llmi_text()
    chart, failed_search, invalid = ratings[0]["completion_images"]
    assert (root / chart).read_bytes() == b"PNG-chart-v1" and failed_search is None and invalid is None

    again = export_preferences(store, tmp_path / "export")  # re-export overwrites cleanly
    assert _jsonl(again) == rows
    assert sorted(p.name for p in root.iterdir()) == ["images", "preferences.jsonl", "ratings.jsonl"]
