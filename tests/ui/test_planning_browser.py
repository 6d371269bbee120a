"""The "planning a picture…" card in real headless Chromium, against a scripted OpenAI-compatible
chat server on 127.0.0.1 that holds its stream in the middle of a tag until the test has seen
the card: the card shows while the tag is open, the tag's own card replaces it when it closes,
and a tag the model never closes ends as an honest invalid card, not a card left planning."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from studio.app.settings import load_settings
from tests.browser import chromium
from tests.chat_server import ChatServer, Stream
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

TEXT = "# Owls\n\nOwls hunt at night.\n\n"
OPEN = "<imgen>{'source': 'diffusion', "
CLOSE = "'description': 'An owl in flight', 'params': {'prompt': 'owl'}}</imgen>"


def wait_done(page: Any) -> None:
    page.wait_for_function(
        "(() => { const s = document.querySelector('#article .studio-head .state');"
        " return s && !s.classList.contains('state-running'); })()",
        timeout=120_000,
    )


def test_the_card_shows_while_the_tag_is_written_and_fills_in(tmp_path: Path) -> None:
    first, second = threading.Event(), threading.Event()
    script = [
        Stream([TEXT, OPEN, first, CLOSE, "\n\nThe end."]),
        Stream([TEXT, "<imgen>{'source': 'code', ", second, "'descr"], finish_reason="length"),
    ]
    with ChatServer(script, model="m") as server:
        settings = load_settings(
            data_dir=tmp_path, backend="openai", openai_base_url=server.url, openai_model="m",
            tools_enabled=["code"], max_continuations=0,
        )  # fmt: skip
        try:
            with running_app(settings) as (url, _studio), chromium() as browser:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(url)
                page.locator("#brief textarea").fill("Owls, with one picture")
                page.locator("#write").click()

                planning = page.locator("#article section.blk-planning .card-planning")
                planning.wait_for(timeout=60_000)  # the stream is held mid-tag: only the card can show it
                assert "planning a picture" in planning.inner_text()
                assert page.locator("#article section.blk-image").count() == 0
                assert "Owls hunt at night." in page.locator("#article").inner_text()
                assert "planning picture 1" in page.locator("#article .studio-head .state").inner_text()
                first.set()
                wait_done(page)
                assert page.locator("#article section.blk-planning").count() == 0
                card = page.locator("#article section.blk-image .card")
                assert card.count() == 1 and "An owl in flight" in card.inner_text()

                page.locator("#brief textarea").fill("Owls again")
                page.locator("#write").click()
                page.locator("#article section.blk-planning .card-planning").wait_for(timeout=60_000)
                second.set()
                wait_done(page)
                assert page.locator("#article section.blk-planning").count() == 0
                invalid = page.locator("#article section.blk-image .card")
                assert invalid.count() == 1 and invalid.get_attribute("data-status") == "invalid"
                assert "never closed" in invalid.inner_text()
                assert not errors, errors
        finally:
            first.set()
            second.set()
