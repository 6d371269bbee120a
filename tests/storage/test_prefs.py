from __future__ import annotations

import json
import re
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


def test_export_rows_hold_the_whole_article(store: Store, article: tuple[int, int], tmp_path: Path) -> None:
    """Storage alone (no studio): the recorder's sample article, versions, judgements, ratings."""
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

    result = export_preferences(store, tmp_path / "export")
    root = result.out_dir
    assert (result.counts.preferences, result.counts.ratings, result.counts.vision) == (2, 2, 2)
    rows = _jsonl(root / "preferences.jsonl")
    assert [(r["event"], r["origin"], r["block_id"]) for r in rows] == [
        ("accept", "rewrite", "b3"),
        ("revert", "revert", "b2"),
    ]
    text_row, image_row = rows
    for row in rows:
        # no writer prompt was recorded for this article (the recorder alone): the brief is the user turn
        assert row["prompt"] == [{"role": "user", "content": "Write about tides"}]
        for side in ("chosen", "rejected"):
            assert row[side] == [
                {"role": "assistant", "content": row["text_before"] + row[f"{side}_text"] + row["text_after"]}
            ]
            assert row[side][0]["content"].startswith("Tides rise and fall.\n")
            assert row[side][0]["content"].endswith("<imgen>{'source': 'paint'}</imgen>")  # the article's real end
    assert (text_row["chosen_text"], text_row["rejected_text"]) == (
        "The moon and the sun pull the sea.",
        "The moon pulls the sea.",
    )
    assert text_row["chosen_image"] is None and text_row["source"] is None
    assert (
        image_row["chosen_text"]
        == "<imgen>{'source': 'code', 'description': 'Tide chart', 'params': {'code': 'plt.plot([1, 2])'}}</imgen>"
    )
    assert "plt.bar([1], [3])" in image_row["rejected_text"] and image_row["text_before"] == "Tides rise and fall.\n"
    assert (root / image_row["chosen_image"]).read_bytes() == b"PNG-chart-v1"
    assert (root / image_row["rejected_image"]).read_bytes() == b"PNG-chart-v2"
    assert image_row["prompt_image_sha256"] == [repo.open_article(store, aid).input_images[0].sha256]
    assert image_row["user"] == "local" and image_row["writer_model"] is None

    ratings = _jsonl(root / "ratings.jsonl")
    assert [(r["label"], r["stars"], r["thumbs"], r["comment"]) for r in ratings] == [
        (True, 4, None, "good"),
        (False, None, -1, ""),
    ]
    assert ratings[0]["completion"] == [{"role": "assistant", "content": repo.open_article(store, aid).llmi_text()}]
    assert [(root / p).read_bytes() for p in ratings[0]["completion_images"]] == [b"PNG-chart-v1"]
    assert ratings[0]["completion_image_sha256"][1:] == [None, None]  # the failed search, the invalid tag
    vision = _jsonl(root / "vision.jsonl")
    assert [(root / p[0]).read_bytes() for p in (r["images"] for r in vision)] == [b"user-jpeg"] * 2
    assert vision[0]["images"][0].endswith(".jpg")

    again = export_preferences(store, tmp_path / "export")  # re-export overwrites cleanly
    assert _jsonl(again.out_dir / "preferences.jsonl") == rows
    names = sorted(re.sub(r"-[0-9a-f]{16}\.parquet$", "-SHA.parquet", p.name) for p in root.iterdir())
    assert names == [
        "README.md", "images", "preferences-SHA.parquet", "preferences.jsonl",
        "ratings-SHA.parquet", "ratings.jsonl", "vision-SHA.parquet", "vision.jsonl",
    ]  # fmt: skip


def test_legacy_events_are_cut_at_a_tag_boundary() -> None:
    """Events logged before block lists kept a character-cut text_before; half a tag is dropped."""
    from datetime import UTC, datetime

    from storage.pref_rows import preference_row
    from storage.views import PreferenceEventInfo

    version = {"id": 1, "number": 1, "tag": "B", "origin": "generated"}
    context = {
        "brief": "b",
        "text_before": "lin'], [49, 38])\"}}</imgen>\n\nKept text.\n",
        "text_after": "After.<imgen>{'source': 'co",
        "chosen": version,
        "rejected": {**version, "id": 2, "number": 2, "tag": "A"},
    }
    event = PreferenceEventInfo(1, "accept", datetime.now(UTC), 1, 1, "b3", 1, 2, context)
    row = preference_row(event)
    assert row is not None
    assert row["chosen"][0]["content"] == "\n\nKept text.\nBAfter."
    assert row["rejected"][0]["content"] == "\n\nKept text.\nAAfter."


def test_cut_keeps_the_title_and_whole_blocks() -> None:
    from storage.pref_rows import cut_around

    before = ["# Title\n\nIntro " + "x" * 50, "<imgen>{'a': 1}</imgen>", "Middle text.\n"]
    after = ["Later.", "<imgen>{'b': 2}</imgen>", "End."]
    whole = cut_around(before, after, 10, 10_000)
    assert (whole.before, whole.after, whole.cut_before, whole.cut_after) == ("".join(before), "".join(after), 0, 0)
    cut = cut_around(before, after, 10, 90)
    assert cut.before == "# Title\n\n<imgen>{'a': 1}</imgen>Middle text.\n" and cut.cut_before == 1
    tight = cut_around(before, after, 10, 30)
    assert tight.before == "# Title\n\n" and tight.after == "Later." and (tight.cut_before, tight.cut_after) == (3, 2)
