"""Instructing the whole article in real headless Chromium: the side panel streams the writer's
revision as a per-block diff; one block is accepted, the rest left; the store and the preference
log say so. The writer is a scripted OpenAI-compatible chat server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from storage import repo
from storage.prefs import list_preference_events
from studio.app.session import Studio
from studio.app.settings import load_settings
from tests.browser import chromium, error_free_page
from tests.chat_server import ChatServer, Stream
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

TAG = "<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \"plt.bar(['a', 'b'], [1, 2])\"}}</imgen>"
ARTICLE = f"# Colors\n\nThe color of the sky is gray.\n\n{TAG}\n\nGray clouds color the end.\n\n"
REVISED = (
    f"# Colours\n\nThe colour of the sky is grey.\n\n{TAG}\n\n## Lenses\n\nA lens bends light.\n\n"
    "Grey clouds colour the end.\n\n"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio]]:
    chunks = [REVISED[i : i + 9] for i in range(0, len(REVISED), 9)]
    with ChatServer(lambda index, body: Stream(chunks)) as model:
        settings = load_settings(data_dir=tmp_path_factory.mktemp("revise-ui"), tools_enabled=["code"],
                                 backend="openai", openai_base_url=model.url, openai_model="writer")  # fmt: skip
        with running_app(settings) as (url, studio):
            yield url, studio


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium() as browser, error_free_page(browser, viewport={"width": 1440, "height": 900}) as p:
        yield p


def test_an_article_instruction_shows_a_block_diff_and_accepts_one_block(served: tuple[str, Studio], page: Any) -> None:
    url, studio = served
    page.goto(url)
    page.locator("#brief textarea").fill("Colors")
    page.locator("#render-box").click()
    page.locator("#response textarea").fill(ARTICLE)
    page.locator("#render").click()
    page.wait_for_function("window.location.search.includes('article=')", timeout=60_000)
    page.locator("#article section[data-block='b2'] img").wait_for(timeout=60_000)
    article_id = int(page.evaluate("new URLSearchParams(window.location.search).get('article')"))

    page.locator("#revise-instruction textarea").fill("Use British spelling and add a section on lenses")
    page.locator("#revise-ask").click()
    diff = page.locator("#revise-diff")
    page.locator("#revise-msg", has_text="changes: accept all").wait_for(timeout=60_000)
    first = diff.locator("section[data-change='c1']")
    assert first.locator("del").inner_text() == "Colors" and first.locator("ins").inner_text() == "Colours"
    assert diff.locator("section.rv-same", has_text="image kept (b2)").count() == 1  # the chart stays
    # the new section is added paragraphs; the last paragraph's spelling is a changed paragraph
    assert diff.locator("section.rv-added", has_text="A lens bends light").count() == 1
    last = diff.locator("section.rv-changed", has_text="clouds")
    assert [m.inner_text() for m in last.locator("ins").all()] == ["Grey", "colour"]

    # accept only the title's change: "Take this" on its block ticks its box in the list
    assert diff.locator(".rv-take").count() == 5 and diff.locator("section.rv-same .rv-take").count() == 0
    first.locator(".rv-take").click()
    assert first.locator(".rv-take").inner_text() == "Taken ✓"
    assert (
        page.locator("#revise-pick label", has_text="c1: changed text (b1 ¶1) — # Colours")
        .locator("input")
        .is_checked()
    )
    page.locator("#revise-accept-selected").click()
    page.locator("#revise-msg", has_text="Accepted 1 of 5 changes.").wait_for(timeout=60_000)
    page.locator("#article section[data-block='b1']", has_text="Colours").wait_for()
    assert "The color of the sky is gray" in page.locator("#article section[data-block='b1']").inner_text()
    assert "Gray clouds color the end" in page.locator("#article section[data-block='b3']").inner_text()
    assert page.locator("#article", has_text="A lens bends light").count() == 0

    info = repo.open_article(studio.store, article_id)
    texts = [b.current.text or "" for b in info.blocks if b.kind == "text"]
    assert texts[0] == "# Colours\n\nThe color of the sky is gray.\n\n"
    assert texts[1].strip() == "Gray clouds color the end."
    assert len(info.blocks) == 3 and info.blocks[1].version_count == 1  # the chart kept, not rerun
    events = [e for e in list_preference_events(studio.store) if e.article_id == article_id]
    assert [(e.kind, e.block_key) for e in events if e.block_key] == [
        ("rewrite", "b1"), ("accept", "b1"), ("rewrite", "b3"), ("revert", "b3"),
    ]  # fmt: skip
    decision = next(e for e in events if e.block_key is None and "revision" in e.context)
    revision = decision.context["revision"]
    assert decision.kind == "accept" and revision["decision"] == "per_block"
    assert revision["instruction"] == "Use British spelling and add a section on lenses"
    assert "# Colors" in revision["before"] and "# Colours" in revision["after"] and "Gray clouds" in revision["after"]
    assert "A lens" in revision["revised"] and "A lens" not in revision["after"]
    assert [c["accepted"] for c in revision["changes"]] == [True, False, False, False, False]
