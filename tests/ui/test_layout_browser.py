"""Navigation and layout in real headless Chromium against the real app on 127.0.0.1: the outline
of a long article, the phone layout at 390 px, and a second tab that follows a running article
(written by a slow scripted OpenAI-compatible chat server on 127.0.0.1) showing a working Stop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from storage import repo
from studio.app.session import Studio
from studio.app.settings import load_settings
from tests.judge_server import JudgeServer, Reply
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

SECTIONS = ("Optics", "Lenses", "Mirrors", "Prisms")
LONG = "# Light\n\n" + "".join(
    f"## {name}\n\n" + " ".join(f"{name.lower()}{i} is a word about light." for i in range(60)) + "\n\n"
    for name in SECTIONS
)
SLOW = "# Trains\n\n" + " ".join(f"Train number {i} runs on time." for i in range(200)) + "\n\nThe last line."


def script(index: int, body: dict[str, Any]) -> Reply | str:
    if "Trains" in str(body["messages"]):
        return Reply(SLOW, chunk_chars=16, chunk_delay_s=0.2)
    return Reply(LONG, chunk_chars=400)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio]]:
    with JudgeServer(script) as model:
        settings = load_settings(data_dir=tmp_path_factory.mktemp("layout"), tools_enabled=["code"],
                                 backend="openai", openai_base_url=model.url, openai_model="judge-model")  # fmt: skip
        with running_app(settings) as (url, studio):
            yield url, studio


def new_page(browser: Any, width: int, height: int) -> Any:
    p = browser.new_context(viewport={"width": width, "height": height}).new_page()
    p.errors = []
    p.on("pageerror", lambda exc: p.errors.append(str(exc)))
    return p


def write(page: Any, brief: str) -> None:
    page.locator("#brief textarea").fill(brief)
    page.locator("#write").click()


def wait_done(page: Any) -> None:
    page.wait_for_function(
        "(() => { const s = document.querySelector('#article .studio-head .state');"
        " return s && !s.classList.contains('state-running'); })()",
        timeout=60_000,
    )


def test_the_outline_lists_the_headings_and_scrolls_to_one(app: tuple[str, Studio], browser: Any) -> None:
    url, _ = app
    page = new_page(browser, 1440, 900)
    page.goto(url)
    write(page, "Light")
    wait_done(page)
    outline = page.locator("#studio-outline")
    outline.wait_for(state="visible", timeout=30_000)
    entries = outline.locator("button[data-heading]")
    assert entries.all_inner_texts() == ["Light", *SECTIONS]
    assert page.evaluate("window.scrollY") < 50
    entries.filter(has_text="Lenses").click()
    page.wait_for_function(  # the heading is scrolled to the top of the window
        "(() => { const h = [...document.querySelectorAll('#article h2')].find(x => x.textContent === 'Lenses');"
        " const top = h.getBoundingClientRect().top; return top >= -2 && top < 40; })()",
        timeout=10_000,
    )
    assert page.evaluate("window.scrollY") > 300
    assert not page.errors, page.errors
    page.context.close()


def test_at_390_px_the_brief_box_comes_first_and_the_tools_are_in_a_menu(app: tuple[str, Studio], browser: Any) -> None:
    url, _ = app
    page = new_page(browser, 390, 844)
    page.goto(url)
    brief = page.locator("#brief textarea")
    brief.wait_for()
    page.locator("#tools-menu").wait_for(state="visible")
    top = brief.bounding_box()["y"]
    assert top < 80  # the first thing on screen
    # nothing visible sits above the brief box (the title, chips and tools column are out of the way)
    above = page.evaluate(
        """(limit) => [...document.querySelectorAll('h1, p, label, button, input, select, textarea')]
          .filter(el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
            return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && r.bottom <= limit; })
          .map(el => el.outerHTML.slice(0, 80))""",
        top - 30,
    )
    assert above == []
    assert brief.bounding_box()["width"] > 390 * 0.55  # not a half-width box
    assert not page.locator("#project-pick").is_visible()  # the tools wait behind the menu
    page.locator("#write").click()  # no brief yet: the message line shows, then takes room
    page.locator("#write-msg", has_text="Write a brief first").wait_for(state="visible", timeout=30_000)
    write(page, "Light")
    wait_done(page)
    article_top = page.locator("#article .studio-article").bounding_box()["y"]
    assert article_top < 844  # the article starts on the first screen, right under the brief box
    assert article_top < page.locator("#render-box").bounding_box()["y"]  # before the other tools
    brief_bottom = page.locator("#brief-row").bounding_box()
    gap = page.locator("#article").bounding_box()["y"] - (brief_bottom["y"] + brief_bottom["height"])
    assert gap < 40, gap  # right under it: empty message lines take no room (there were 90 px)
    page.locator("#tools-menu").click()
    page.locator("#project-pick").wait_for(state="visible")
    assert page.locator("#tools-menu").get_attribute("aria-expanded") == "true"
    page.locator("#tools-menu").click()
    page.locator("#project-pick").wait_for(state="hidden")
    assert not page.errors, page.errors
    page.context.close()


def test_a_following_tab_shows_a_working_stop(app: tuple[str, Studio], browser: Any) -> None:
    url, studio = app
    writer = new_page(browser, 1280, 900)
    writer.goto(url)
    write(writer, "Trains")
    writer.locator("#article section", has_text="Train number 2 ").wait_for(timeout=30_000)
    writer.wait_for_function("window.location.search.includes('article=')")
    article_id = int(writer.url.split("article=")[1].split("&")[0])

    follower = new_page(browser, 1280, 900)  # a second tab opens the running article by its URL
    follower.goto(writer.url)
    follower.locator("#article .state", has_text="another tab").wait_for(timeout=30_000)
    stop = follower.locator("#stop")
    stop.wait_for(state="visible", timeout=10_000)
    assert stop.is_enabled() and follower.locator("#write").is_disabled()

    stop.click()
    follower.locator("#write-msg", has_text="Stopping").wait_for(timeout=10_000)
    writer.locator("#article .state-interrupted").wait_for(timeout=30_000)
    follower.locator("#article .state-interrupted").wait_for(timeout=30_000)
    assert repo.open_article(studio.store, article_id).status == "interrupted"
    assert "The last line." not in follower.locator("#article").inner_text()
    stop.wait_for(state="hidden", timeout=10_000)
    follower.wait_for_function("!document.querySelector('#write').disabled", timeout=10_000)
    assert not writer.locator("#stop").is_visible()
    for p in (writer, follower):
        assert not p.errors, p.errors
        p.context.close()
