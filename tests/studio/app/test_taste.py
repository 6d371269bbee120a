"""The taste model through the Session path: a scripted user's choices (real chart renders, the
real store's preference log) train a model that is saved, reloads, ranks the preferred version
higher and ranks quality-mode candidates; with 10 pairs the studio declines it; two users' models
never mix; the preference export carries the model."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.app.regenerate import Regenerated
from studio.app.session import Session, Studio
from studio.app.taste_jobs import TrainResult
from studio.core.agent import Brief
from studio.core.article import Article, ImageBlock
from studio.quality.scaling import CandidateScore, select_candidate
from studio.quality.taste_features import view_of_block
from studio.quality.taste_rank import article_terms
from studio.quality.taste_store import load_model
from tests.render_studio import render_studio
from tests.taste_user import ChartSpec, ScriptedUser, alternative, random_spec, response, utility
from tools.base import ToolResult


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    studio = render_studio(tmp_path)
    yield studio
    studio.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, TrainResult]]:
    """A consistent user's 60 choices and the model trained on them (shared: it takes a while)."""
    studio = render_studio(tmp_path_factory.mktemp("taste"))
    session = Session(studio)
    assert make_choices(session, ScriptedUser(consistent=True), articles=15) == 60
    yield session, session.train_taste()
    studio.close()


def make_choices(session: Session, user: ScriptedUser, articles: int, seed: int = 0, per_article: int = 4) -> int:
    """The user renders articles of charts, regenerates each chart as another chart and keeps
    the version they like (accept the new one, or revert to the old one). Returns the pairs made."""
    rng = random.Random(seed)
    pairs = 0
    for n in range(articles):
        specs = [random_spec(rng, n) for _ in range(per_article)]
        for _ in session.generate(Brief(f"charts {n}"), response=response(rng, specs, n)):
            pass
        assert session.article is not None
        blocks = [b for b in session.article.blocks if isinstance(b, ImageBlock)]
        for block, old in zip(blocks, specs, strict=True):
            new = alternative(rng, old, n)
            session.regenerate(block.id, "params", params={"code": new.code()})
            if user.keeps_new(old, new):
                session.accept(block.id)
            else:
                session.revert(block.id, 1)
            pairs += 1
    return pairs


def chart_article(session: Session, spec: ChartSpec) -> Article:
    """A one-chart article rendered for real (a quality-mode candidate)."""
    for _ in session.generate(Brief("a fresh brief"), response=response(random.Random(9), [spec], 99)):
        pass
    assert session.article is not None
    return session.article


def test_a_trained_model_reloads_and_ranks_the_preferred_version_higher(trained: tuple[Session, TrainResult]) -> None:
    session, result = trained
    report = result.report
    assert report.pairs == 60 and report.heldout_pairs == 12 and report.train_pairs == 48
    assert report.accuracy is not None and report.accuracy >= 0.9, report.sentence()
    assert report.usable and report.interval[0] > 0.5
    for name in ("model.safetensors", "config.json", "report.json", "README.md"):
        assert (result.folder / name).is_file()
    assert "Trained on: 48 pairs of 60" in (result.folder / "README.md").read_text()
    assert json.loads((result.folder / "config.json").read_text())["embedder"].endswith("all-MiniLM-L6-v2")

    model = load_model(result.folder)  # reloads from the standard folder
    liked = ChartSpec("barh", "teal", ("a", "b", "c", "d"), (40, 30, 20, 10), "Fresh data")
    disliked = ChartSpec("pie", "gray", liked.labels, liked.values, liked.title)
    assert utility(liked) > utility(disliked)
    pie, bars = chart_article(session, disliked), chart_article(session, liked)
    (pie_block,), (bar_block,) = pie.image_blocks(), bars.image_blocks()
    assert model.prefer(view_of_block(bars, bar_block), view_of_block(pie, pie_block)) > 0.5

    # quality mode: both candidates pass the rules with equal rule reward; the taste term decides
    used, _ = session.taste_model()
    assert used is not None
    terms = article_terms(used, [pie, bars])
    tie = CandidateScore(1.0, 1.0, 1.0, 1.0)
    assert select_candidate([tie, tie]).index == 0  # without the model: the first candidate
    chosen = select_candidate([tie, tie], terms)
    assert chosen.index == 1 and f"your taste model prefers this ({terms[1]:.2f})" in chosen.reason


def test_with_ten_pairs_the_studio_declines_the_model(studio: Studio) -> None:
    session = Session(studio)
    assert make_choices(session, ScriptedUser(consistent=True), articles=5, per_article=2) == 10
    result = session.train_taste()
    assert result.report.pairs == 10 and not result.report.usable
    assert "10 pairs are too few (it needs at least 30)" in result.report.reason
    model, why = session.taste_model()
    assert model is None and "not used" in why and "too few" in why
    assert "Not used" in session.taste_status()
    assert "Used by the studio: no" in (result.folder / "README.md").read_text()


def test_per_user_models_never_mix_users(studio: Studio, tmp_path: Path) -> None:
    alice, bob = Session(studio, "alice"), Session(studio, "bob")
    made_a = make_choices(alice, ScriptedUser(consistent=True), articles=3, seed=1)
    made_b = make_choices(bob, ScriptedUser(consistent=False, seed=2), articles=2, seed=2)
    a, b = alice.train_taste(), bob.train_taste()
    assert (a.report.pairs, b.report.pairs) == (made_a, made_b) == (12, 8)
    assert (a.report.user, b.report.user) == ("alice", "bob") and a.folder.parent != b.folder.parent
    assert alice.taste_store().latest() == a.folder and bob.taste_store().latest() == b.folder
    # each user's export carries that user's model only
    out = alice.export_preferences(tmp_path / "alice-prefs", "all").out_dir
    assert json.loads((out / "taste-model" / "report.json").read_text())["user"] == "alice"
    from datasets import load_dataset

    assert len(load_dataset(str(out), split="train")) == 12  # the extra folder does not disturb loading


def test_regenerate_candidates_show_the_best_ranked_last(trained: tuple[Session, TrainResult]) -> None:
    session, _ = trained
    studio = session.studio
    article = chart_article(session, ChartSpec("line", "purple", ("a", "b"), (1, 2), "t"))
    (block,) = article.image_blocks()
    specs = {
        0: ChartSpec("pie", "gray", ("a", "b"), (1, 2), "t"),
        1: ChartSpec("barh", "teal", ("a", "b"), (1, 2), "t"),
        2: ChartSpec("line", "tomato", ("a", "b"), (1, 2), "t"),
    }
    rendered = {}
    for step, spec in specs.items():  # the charts drawn for real, as the code tool would
        (b,) = chart_article(session, spec).image_blocks()
        rendered[step] = b

    def run(seed: int) -> Regenerated:
        b = rendered[seed - 100]
        result = ToolResult(True, b.image, b.mime, {"seed": seed})
        return Regenerated(block.id, "code", block.description, dict(b.params), result, "new seed")

    studio.settings.taste_candidates = 3
    try:
        attempts, note = session.ranked_regenerations(article, block.id, run, 100)
    finally:
        studio.settings.taste_candidates = 1
    assert [a.params["code"].split("(")[0] for a in attempts][-1] == "plt.barh"
    assert attempts[-1].result.provenance["taste"]["candidates"] == 3
    assert note.startswith("your taste model prefers this (") and "2 other candidates are in the history" in note


def test_the_cli_trains_the_users_model_and_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from studio.app.cli import main

    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    assert main(["taste", "train"]) == 2  # nothing chosen yet: a clear error, no model
    assert "0 preference pair(s) is not enough to train" in capsys.readouterr().err
    studio = render_studio(tmp_path)
    make_choices(Session(studio), ScriptedUser(consistent=True), articles=2, per_article=3)
    studio.close()
    assert main(["taste", "train"]) == 0
    out = capsys.readouterr()
    assert "Trained on 5 of your 6 choices; held-out pairwise accuracy" in out.out and "saved: " in out.out
    assert "about" in out.err and "s left" in out.err  # the progress line with its ETA
    assert main(["taste", "status"]) == 0
    assert "in use: none" in capsys.readouterr().out


def test_regenerate_draws_k_charts_anew_and_shows_the_models_best(trained: tuple[Session, TrainResult]) -> None:
    """In render mode "again" on a chart draws its data anew by seed, so K=3 gives three charts:
    the shown one is the one the taste model scores highest, the others are in the history."""
    from studio.app.actions import perform

    session, _ = trained
    article = chart_article(session, ChartSpec("pie", "gray", ("a", "b", "c"), (30, 20, 10), "Shares"))
    (block,) = article.image_blocks()
    session.studio.settings.taste_candidates = 3
    try:
        view = perform(session, {"act": "regenerate", "block": block.id})
    finally:
        session.studio.settings.taste_candidates = 1
    shown = view.block(block.id)
    versions = session.versions(block.id)
    assert [v.number for v in versions] == [1, 2, 3, 4] and shown.version == 4, shown.notice
    assert [v.parent_number for v in versions[1:]] == [1, 1, 1] and {v.status for v in versions} == {"ok"}
    # drawings of the same data (a redraw picks from a few palettes and two orientations by seed,
    # so two of the three may coincide)
    codes = [str((v.params or {}).get("code")) for v in versions[1:]]
    assert len(set(codes)) >= 2 and all("values = [30.0, 20.0, 10.0]" in c for c in codes), codes
    assert session.article is not None
    model, _ = session.taste_model()
    assert model is not None
    views = [
        view_of_block(
            session.article,
            dataclasses.replace(
                block,
                params=dict(v.params or {}),
                image=session.store.assets.read(v.asset.sha256) if v.asset else None,
            ),
        )
        for v in versions[1:]
    ]
    scores = [float(s) for s in model.score(views)]
    assert scores.index(max(scores)) == 2, scores
    assert (
        "Your taste model prefers this (" in shown.notice and (versions[3].provenance or {})["taste"]["candidates"] == 3
    )
