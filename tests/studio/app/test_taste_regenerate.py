"""Regenerate with K candidates (STUDIO_TASTE_CANDIDATES), end to end: a real studio (SQLite store,
render mode) whose diffusion tool draws on a scripted vLLM-Omni-shaped image server (real PNGs from
a tiny diffusers pipeline, seeded), and a taste model trained on this user's own choices made
through the Session: they prefer brighter pictures. Then Regenerate on a diffusion block, through
the card action (studio.app.actions.perform) and through the app's API (gradio_client), makes K
attempts with K seeds; the shown one is the model's best, the others are in the block's history,
the shown one's provenance and the action's message carry "your taste model prefers this (0.xx)",
and accepting it pairs it with the version the user saw before, never with an unseen candidate.
K=1 is one request, as before."""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from storage.prefs import list_preference_events
from studio.app.actions import perform
from studio.app.session import Session, Studio
from studio.app.ui_page import card_fields, image_card
from studio.core.agent import Brief
from studio.core.article import ImageBlock
from studio.quality.taste_features import view_of_block
from tests.images_server import RunningImages, serve_images
from tests.render_studio import render_studio

PROMPTS = ["a fox in snow", "a lighthouse at dusk", "a bowl of lemons", "a tram in the rain", "a heron"]


def article_response(n: int, prompts: list[str]) -> str:
    parts = [f"# Pictures {n}\n\nA few pictures for a short piece.\n\n"]
    for i, prompt in enumerate(prompts):
        tag = {"source": "diffusion", "description": f"{prompt}, painted", "params": {"prompt": prompt}}
        parts.append(f"Part {i + 1} of the piece.\n\n<imgen>{tag!r}</imgen>\n\n")
    return "".join(parts) + "The end.\n"


def brightness(png: bytes) -> float:
    """The scripted user's hidden taste: the brighter picture wins."""
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64).mean())


def shown_image(session: Session, block_id: str) -> bytes:
    assert session.article is not None
    block = session.article.block(block_id)
    assert isinstance(block, ImageBlock) and block.image
    return block.image


def version_image(session: Session, number: int, block_id: str) -> bytes:
    (info,) = [v for v in session.versions(block_id) if v.number == number]
    assert info.asset is not None
    return session.store.assets.read(info.asset.sha256)


def write(session: Session, n: int, prompts: list[str]) -> list[str]:
    for _ in session.generate(Brief(f"pictures {n}"), response=article_response(n, prompts)):
        pass
    assert session.article is not None
    blocks = [b for b in session.article.blocks if isinstance(b, ImageBlock)]
    assert [b.status for b in blocks] == ["ok"] * len(prompts), [b.error for b in blocks]
    return [b.id for b in blocks]


def make_choices(session: Session, articles: int, rounds: int, seed: int = 0) -> int:
    """Each picture is regenerated ``rounds`` times (K=1); the user keeps the brighter of the shown
    one and the new one (accept it, or revert to the one before). Returns the pairs made. The
    seeds are drawn from ``seed``, so the pictures, and so the trained model, are the same each run."""
    rng, pairs = random.Random(seed), 0
    for n in range(articles):
        for block_id in write(session, n, PROMPTS[n % 2 :][:4]):
            for _ in range(rounds):
                before, old = session.view.block(block_id).version, shown_image(session, block_id)
                session.regenerate(block_id, "again", seed=rng.randint(0, 2**31 - 1))
                if brightness(shown_image(session, block_id)) > brightness(old):
                    session.accept(block_id)
                else:
                    session.revert(block_id, before)
                pairs += 1
    return pairs


@pytest.fixture(scope="module")
def images() -> Iterator[RunningImages]:
    torch.set_num_threads(1)
    with serve_images("Qwen/Qwen-Image") as server:
        yield server


def studio_on(data_dir: Path, server: RunningImages) -> Studio:
    return render_studio(data_dir, ("diffusion",), diffusion_servers=[server.url], diffusion_size=64, diffusion_steps=1)


@pytest.fixture(scope="module")
def taught(tmp_path_factory: pytest.TempPathFactory, images: RunningImages) -> Iterator[Session]:
    """A user with 60 choices between pictures and the usable taste model trained on them."""
    studio = studio_on(tmp_path_factory.mktemp("taste-k"), images)
    session = Session(studio)
    assert make_choices(session, articles=3, rounds=5) == 60
    report = session.train_taste().report
    assert report.usable, report.sentence()
    yield session
    studio.close()


def model_scores(session: Session, block_id: str, numbers: list[int]) -> dict[int, float]:
    """What the user's taste model says of each version of the block, in the block's place."""
    model, why = session.taste_model()
    assert model is not None, why
    assert session.article is not None
    block = session.article.block(block_id)
    assert isinstance(block, ImageBlock)
    views = [
        view_of_block(session.article, dataclasses.replace(block, image=version_image(session, n, block_id)))
        for n in numbers
    ]
    return dict(zip(numbers, (float(s) for s in model.score(views)), strict=True))


def regenerate_with(session: Session, k: int, block_id: str) -> Any:
    session.studio.settings.taste_candidates = k
    try:
        return perform(session, {"act": "regenerate", "block": block_id})
    finally:
        session.studio.settings.taste_candidates = 1


def test_k_candidates_reach_the_server_and_the_models_best_is_shown(taught: Session, images: RunningImages) -> None:
    session = taught
    (block_id,) = write(session, 7, ["a fox by a river"])
    sent_before = len(images.requests)

    view = regenerate_with(session, 3, block_id)

    sent = images.requests[sent_before:]
    seeds = [r["fields"]["seed"] for r in sent]
    assert [r["path"] for r in sent] == ["images/generations"] * 3 and len(set(seeds)) == 3, seeds
    assert all(r["fields"]["prompt"].startswith("a fox by a river") for r in sent)
    shown = view.block(block_id)
    versions = session.versions(block_id)
    assert [v.number for v in versions] == [1, 2, 3, 4] and shown.version == 4
    new = versions[1:]
    assert sorted(v.provenance["seed"] for v in new if v.provenance) == sorted(seeds)  # one version per attempt
    assert {v.status for v in new} == {"ok"} and len({v.asset.sha256 for v in new if v.asset}) == 3
    assert [h.number for h in shown.history] == [1, 2, 3, 4] and shown.candidate is None
    # every candidate stems from the version the user saw; only the best became current
    assert [v.parent_number for v in new] == [1, 1, 1]
    # the K candidates are one step of the article's history: one undo shows the picture before them
    undone = perform(session, {"act": "undo"}).block(block_id)
    assert (undone.version, undone.candidate) == (1, None)
    assert session.view.redo_label == 'new image for illustration "a fox by a river…"'  # its caption, no block id
    assert perform(session, {"act": "redo"}).block(block_id).version == 4

    scores = model_scores(session, block_id, [2, 3, 4])
    assert max(scores, key=lambda n: scores[n]) == 4, scores  # the shown one is the model's best
    taste = versions[3].provenance["taste"] if versions[3].provenance else {}
    assert taste["candidates"] == 3 and taste["model"] == "v0001" and 0.5 < taste["prefers"] <= 1
    assert "taste" not in (versions[1].provenance or {}) and "taste" not in (versions[2].provenance or {})
    # the user sees it: the action's message on the card says which version and why
    assert shown.notice.startswith("Version 4 is shown.") and not shown.notice_error
    assert f"Your taste model prefers this ({taste['prefers']:.2f})" in shown.notice
    assert "2 other candidates are in the history" in shown.notice
    # and the card keeps saying so after the message is gone
    chosen_by = f"your taste model prefers this ({taste['prefers']:.2f}) of 3 candidates"
    assert ("chosen by", chosen_by) in card_fields(shown) and chosen_by in str(image_card(shown, editable=True))

    # accepting the shown picture pairs it with the one the user had, not with an unseen candidate
    last_event = max((e.id for e in list_preference_events(session.store)), default=0)
    session.accept(block_id)
    (event,) = [e for e in list_preference_events(session.store, since_id=last_event) if e.kind == "accept"]
    ids = {v.number: v.id for v in versions}
    assert (event.chosen_version_id, event.rejected_version_id) == (ids[4], ids[1])


def test_the_taste_models_pick_is_the_users_pick_far_more_often_than_chance(taught: Session) -> None:
    """Over five K=3 regenerations (fixed seeds) the shown picture is each time the model's best,
    and the one this user would pick (the brightest) far more often than the 1 in 3 of a random pick."""
    session, rng, hits = taught, random.Random(5), 0
    session.studio.settings.taste_candidates = 3
    try:
        for block_id in write(session, 8, PROMPTS):
            first = session.view.block(block_id).version
            shown = session.regenerate(block_id, "again", seed=rng.randint(0, 2**30)).block(block_id)
            numbers = [first + 1, first + 2, first + 3]
            assert shown.version == first + 3 and shown.notice.startswith("your taste model prefers this (")
            scores = model_scores(session, block_id, numbers)
            assert max(scores, key=lambda n: scores[n]) == shown.version, scores
            light = {n: brightness(version_image(session, n, block_id)) for n in numbers}
            hits += max(light, key=lambda n: light[n]) == shown.version
    finally:
        session.studio.settings.taste_candidates = 1
    assert hits >= 4, hits


def test_one_candidate_is_one_request_as_before(taught: Session, images: RunningImages) -> None:
    session = taught
    (block_id,) = write(session, 9, ["a kite over dunes"])
    sent_before = len(images.requests)
    view = regenerate_with(session, 1, block_id)
    assert len(images.requests) == sent_before + 1
    shown = view.block(block_id)
    assert shown.version == 2 and shown.notice == "Version 2 is shown."
    (_, new) = session.versions(block_id)
    assert new.parent_number == 1 and "taste" not in (new.provenance or {})


def test_k_candidates_through_the_apps_api(
    taught: Session, images: RunningImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same through a launched app and gradio_client, with STUDIO_TASTE_CANDIDATES=3 set in the
    environment the studio reads its settings from (a second studio on the same data folder)."""
    from gradio_client import Client

    from tests.ui.conftest import running_app

    monkeypatch.setenv("STUDIO_TASTE_CANDIDATES", "3")
    studio = studio_on(Path(taught.studio.settings.data_dir), images)
    assert studio.settings.taste_candidates == 3
    with running_app(studio.settings, studio) as (url, _):
        client = Client(url, verbose=False)
        outputs = client.predict("pictures 10", article_response(10, ["an owl at noon"]), "", api_name="/render")
        article = next(v["article"] for v in outputs if isinstance(v, dict) and isinstance(v.get("article"), dict))
        (block,) = [b for b in article["blocks"] if b["kind"] == "image"]
        sent_before = len(images.requests)
        result = client.predict(block["id"], "again", "", None, api_name="/regenerate")
    sent = images.requests[sent_before:]
    assert len(sent) == 3 and len({r["fields"]["seed"] for r in sent}) == 3
    (after,) = [b for b in result["article"]["blocks"] if b["kind"] == "image"]
    assert after["version"] == 4 and after["version_count"] == 4
    assert after["provenance"]["taste"]["candidates"] == 3
    assert after["provenance"]["seed"] in {r["fields"]["seed"] for r in sent}
