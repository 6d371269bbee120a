"""The *Train on my choices* button: a real app on 127.0.0.1, choices made through its API, then
the training job shows progress and ends with the held-out accuracy (gradio_client; Chromium)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

import pytest
from gradio_client import Client

from tests.browser import chromium
from tests.render_studio import render_studio
from tests.taste_user import ScriptedUser, alternative, random_spec, response
from tests.ui.conftest import running_app


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    studio = render_studio(tmp_path_factory.mktemp("taste-ui"))
    with running_app(studio.settings, studio) as (url, _):
        client = Client(url, verbose=False)
        assert client.predict(api_name="/taste_status").startswith("No taste model yet")
        rng, user = random.Random(3), ScriptedUser(consistent=True)
        for n in range(2):
            specs = [random_spec(rng, n) for _ in range(4)]
            outputs = client.predict(f"charts {n}", response(rng, specs, n), "", api_name="/render")
            article = next(v["article"] for v in outputs if isinstance(v, dict) and isinstance(v.get("article"), dict))
            blocks = [b["id"] for b in article["blocks"] if b["kind"] == "image"]
            for block, old in zip(blocks, specs, strict=True):
                new = alternative(rng, old, n)
                client.predict(block, "params", json.dumps({"code": new.code()}), None, api_name="/regenerate")
                if user.keeps_new(old, new):
                    client.predict(block, api_name="/accept")
                else:
                    client.predict(block, "1", api_name="/revert")
        yield url


def test_training_shows_progress_and_ends_with_the_accuracy(app_url: str) -> None:
    client = Client(app_url, verbose=False)
    job = client.submit(api_name="/train_taste")
    descriptions: list[str] = []
    while not job.done():
        status = job.status()
        descriptions += [u.desc or "" for u in status.progress_data or []]
        time.sleep(0.2)
    message = job.result()
    # the progress the job reported moved on through its stages (polling every 0.2 s may miss a
    # stage that ends at once, such as reading 8 pairs' texts, so no single stage is required)
    assert len(set(descriptions)) >= 2 and any("%" in d for d in descriptions), descriptions
    assert message.startswith("Taste model v0001: Trained on 6 of your 8 choices; held-out pairwise accuracy")
    assert "Not used: 8 pairs are too few" in message
    assert client.predict(api_name="/taste_status").startswith("Taste model v0001: Trained on 6")


@pytest.mark.slow
def test_the_button_shows_a_progress_bar_then_the_accuracy(app_url: str) -> None:
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(app_url)
        page.locator("#taste-box").click()
        page.locator("#taste-train").click()
        # gradio's progress bar (with the job's description and ETA) over the report line
        # the job's own progress descriptions (never part of the final message) show on the page
        page.wait_for_function(
            r"/read \d+ of \d+ texts|reading \d+ pairs|choosing the regularisation|fitting the head/"
            ".test(document.body.innerText)",
            timeout=120_000,
        )
        page.wait_for_function(
            "document.querySelector('#taste-report').innerText.includes('held-out pairwise accuracy')",
            timeout=180_000,
        )
        assert page.locator("#taste-report").inner_text().startswith("Taste model v000")
        assert not errors, errors
