"""The preference export as a dataset directory, on data made through the studio's own Session
path (render mode with the real chart sandbox, a real SQLite store): ``load_dataset(out_dir)``
per config, conversational rows holding the whole article, honest pairs, block-boundary cuts,
portable images, file modes, and two exports that concatenate."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from datasets import concatenate_datasets, load_dataset

from storage import repo
from storage.pref_export import CONFIGS, _features
from studio.app.session import Session, Studio
from studio.core.agent import Brief, build_messages
from tests.render_studio import png, render_studio

CHART = "plt.bar(['a', 'b'], [1, 2])"
RESPONSE = (
    "# Lighthouses\n\nThey guide ships.\n\n"
    "<imgen>{'source': 'code', 'description': 'Lights by decade', 'params': {'code': \"" + CHART + '"}}</imgen>'
    "\n\nMore text.\n\nEnd."
)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    studio = render_studio(tmp_path_factory.mktemp("studio"))
    yield studio
    studio.close()


def write(session: Session, brief: Brief, response: str = RESPONSE) -> None:
    for _ in session.generate(brief, response=response):
        pass


@pytest.fixture(scope="module")
def sessions(studio: Studio) -> tuple[Session, Session]:
    """Project A: an article with a user image, a real pair, an identical pair, a revert, two
    ratings. Project B: an article without images, one pair, one rating."""
    a = Session(studio)
    a.new_project("with image")
    write(a, Brief("lighthouses", user_images=(png("blue"),)))
    a.regenerate("b2", "params", params={"code": "plt.plot([3, 1, 2])"})
    a.accept("b2")  # v2 over v1
    a.regenerate("b2", "params", params={"code": "plt.plot([3, 1, 2])"})
    a.accept("b2")  # v3 over v2: the same call, the same chart: an identical pair
    a.revert("b2", 1)  # v1 over v3
    a.rate(thumbs=1)
    a.rate(stars=2, comment="too short")
    b = Session(studio)
    b.new_project("no image")
    write(b, Brief("tides"), RESPONSE.replace("Lighthouses", "Tides"))
    b.regenerate("b2", "params", params={"code": "plt.bar(['x'], [4])"})
    b.accept("b2")
    b.rate(thumbs=-1)
    return a, b


@pytest.fixture(scope="module")
def export_a(sessions: tuple[Session, Session], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "a"
    result = sessions[0].export_preferences(out, "project")
    assert (result.counts.preferences, result.counts.identical_dropped) == (2, 1)
    assert (result.counts.ratings, result.counts.vision) == (2, 2)
    return out


def test_each_config_loads_with_its_fixed_features(export_a: Path) -> None:
    from trl import is_conversational

    features = _features()
    for name in CONFIGS:
        ds = load_dataset(str(export_a), None if name == "preferences" else name, split="train")
        assert ds.features == features[name], name
        assert is_conversational(ds[0]), name
    assert load_dataset(str(export_a), split="train").num_rows == 2  # the default config is preferences


def test_rows_hold_the_writer_prompt_and_the_whole_article(sessions: tuple[Session, Session], export_a: Path) -> None:
    a, _ = sessions
    rows = list(load_dataset(str(export_a), split="train"))
    assert [(r["event"], r["origin"], r["chosen_origin"], r["rejected_origin"]) for r in rows] == [
        ("accept", "accept", "regenerate", "generated"),
        ("revert", "revert", "generated", "regenerate"),
    ]
    brief = Brief("lighthouses", user_images=(png("blue"),))
    system, user = build_messages(brief, a.services())
    for row in rows:
        assert row["prompt"] == [system, user]  # the writer's messages as sent, with the image note
        assert "I attached 1 image" in row["prompt"][1]["content"] and row["brief"] == "lighthouses"
        for side in ("chosen", "rejected"):
            (message,) = row[side]
            assert message["role"] == "assistant"
            assert message["content"] == row["text_before"] + row[f"{side}_text"] + row["text_after"]
            assert message["content"].startswith("# Lighthouses") and message["content"].endswith("End.")
        assert row["chosen"] != row["rejected"] and not row["identical"] and not row["same_text"]
        assert (row["block_id"], row["block_kind"], row["source"]) == ("b2", "image", "code")
        assert (row["cut_before"], row["cut_after"]) == (0, 0)
        assert (row["writer_backend"], row["written_by"], row["user"]) == ("pasted response", "render", "local")
        assert row["writer_model"] is None  # rendered, and the user named no source
        assert row["generation"]["tools"] == ["code"] and row["generation"]["max_tokens"] is None  # no sampling
        for side in ("chosen", "rejected"):
            image = row[f"{side}_image"]
            assert image.format == "PNG" and image.size[0] > 32  # a real chart, decoded from the Parquet bytes
    stored = repo.list_versions(a.store, a.article_id, "b2")  # type: ignore[arg-type]
    assert rows[1]["chosen_image_sha256"] == stored[0].asset.sha256  # type: ignore[union-attr]
    assert "plt.plot([3, 1, 2])" in rows[0]["chosen_text"] and CHART in rows[0]["rejected_text"]


def test_images_are_embedded_bytes(export_a: Path) -> None:
    import pyarrow.parquet as pq

    (parquet,) = export_a.glob("preferences-*.parquet")
    table = pq.read_table(parquet).to_pylist()
    for row in table:
        data = row["chosen_image"]["bytes"]
        assert data.startswith(b"\x89PNG") and hashlib.sha256(data).hexdigest() == row["chosen_image_sha256"]
    vision = load_dataset(str(export_a), "vision", split="train")
    assert [len(r["images"]) for r in vision] == [1, 1] and vision[0]["images"][0].size == (32, 24)
    ratings = load_dataset(str(export_a), "ratings", split="train")
    assert [(r["label"], r["thumbs"], r["stars"]) for r in ratings] == [(True, 1, None), (False, None, 2)]
    assert ratings[0]["completion"][0]["content"].endswith("End.") and len(ratings[0]["completion_images"]) == 1


def test_identical_pairs_are_dropped_unless_kept(sessions: tuple[Session, Session], tmp_path: Path) -> None:
    a, _ = sessions
    kept = a.export_preferences(tmp_path / "kept", "project", keep_identical=True)
    assert (kept.counts.preferences, kept.counts.identical_dropped) == (3, 0)
    rows = list(load_dataset(str(tmp_path / "kept"), split="train"))
    (same,) = [r for r in rows if r["identical"]]
    assert same["chosen"] == same["rejected"] and same["chosen_image_sha256"] == same["rejected_image_sha256"]
    assert a.preference_counts("project").identical_dropped == 1


def test_files_are_0644_and_two_exports_concatenate(
    sessions: tuple[Session, Session], export_a: Path, tmp_path: Path
) -> None:
    _, b = sessions
    result = b.export_preferences(tmp_path / "b", "article")
    assert (result.counts.preferences, result.counts.ratings, result.counts.vision) == (1, 1, 0)
    for path in [*export_a.rglob("*"), *(tmp_path / "b").rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path
    for name in ("preferences", "ratings"):
        one = load_dataset(str(export_a), name, split="train")
        two = load_dataset(str(tmp_path / "b"), name, split="train")  # B has no input image at all
        both = concatenate_datasets([one, two])
        assert both.num_rows == one.num_rows + two.num_rows
    card = (export_a / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "custom multimodal reward model" in card
    # B's vision config has no rows: datasets cannot load an empty split, so the card leaves it out
    assert "config_name: vision" not in (tmp_path / "b" / "README.md").read_text()
    assert not list((tmp_path / "b").glob("vision*.parquet")) and (tmp_path / "b" / "vision.jsonl").read_text() == ""


def test_a_new_export_under_an_old_name_loads_the_new_rows(sessions: tuple[Session, Session], tmp_path: Path) -> None:
    """datasets caches a local directory by its name and card, not its content: the Parquet
    files are named by content hash so a re-export (here: another directory of the same name,
    and the same directory again) never loads stale rows."""
    a, b = sessions
    a.export_preferences(tmp_path / "one" / "prefs", "article")
    b.export_preferences(tmp_path / "two" / "prefs", "article")
    assert load_dataset(str(tmp_path / "one" / "prefs"), split="train")["brief"] == ["lighthouses"] * 2
    assert load_dataset(str(tmp_path / "two" / "prefs"), split="train")["brief"] == ["tides"]
    b.export_preferences(tmp_path / "one" / "prefs", "article")  # overwrite in place
    assert load_dataset(str(tmp_path / "one" / "prefs"), split="train")["brief"] == ["tides"]
    assert len(list((tmp_path / "one" / "prefs").glob("preferences*.parquet"))) == 1


def test_scopes_and_counts(sessions: tuple[Session, Session]) -> None:
    a, b = sessions
    assert a.preference_counts("article").preferences == 2
    assert b.preference_counts("project").preferences == 1
    everything = a.preference_counts("all")
    assert (everything.preferences, everything.ratings, everything.identical_dropped) >= (3, 3, 1)
    with pytest.raises(ValueError, match="scope"):
        a.preference_counts("everything")  # type: ignore[arg-type]


def long_response(sections: int) -> str:
    parts = ["# A long history of lighthouses\n\nIntro paragraph. " + "Words " * 40 + "\n\n"]
    for i in range(sections):
        parts.append(f"## Part {i}\n\n" + f"Paragraph {i}. " + "More words " * 30 + "\n\n")
        parts.append(
            f"<imgen>{{'source': 'code', 'description': 'Chart {i}', 'params': {{'code': 'plt.plot([{i}, 1])'}}}}"
            "</imgen>\n\n"
        )
    return "".join(parts) + "The end."


def test_a_long_article_is_cut_at_block_boundaries(studio: Studio, tmp_path: Path) -> None:
    session = Session(studio)
    write(session, Brief("a long one"), long_response(12))
    blocks = repo.open_article(studio.store, session.article_id).blocks  # type: ignore[arg-type]
    last_image = [b.key for b in blocks if b.kind == "image"][-2]
    session.regenerate(last_image, "params", params={"code": "plt.bar(['z'], [9])"})
    session.accept(last_image)
    full = repo.open_article(studio.store, session.article_id).llmi_text()  # type: ignore[arg-type]
    assert len(full) > 3000

    from storage.pref_export import export_preferences
    from storage.pref_rows import Scope

    export_preferences(studio.store, tmp_path / "cut", Scope(article_id=session.article_id), max_chars=2000)
    (row,) = load_dataset(str(tmp_path / "cut"), split="train")
    content = row["chosen"][0]["content"]
    assert len(content) <= 2000 and row["cut_before"] > 0
    assert content.startswith("# A long history of lighthouses\n\n")  # the title is kept
    assert content.count("<imgen>") == content.count("</imgen>")
    assert content.find("</imgen>") > content.find("<imgen>")  # no tag cut in half
    before_kept = row["text_before"].removeprefix("# A long history of lighthouses\n\n")
    tags = [b.current.tag for b in repo.open_article(studio.store, session.article_id).blocks]  # type: ignore[arg-type]
    index = [b.key for b in blocks].index(last_image)
    assert before_kept in {"".join(tags[k:index]) for k in range(index + 1)}  # whole blocks only
    assert row["text_after"] in {"".join(tags[index + 1 : k]) for k in range(index + 1, len(tags) + 1)}
