"""The article's history in real headless Chromium: Ctrl+Z twice undoes a text edit and an image
accept, Shift+Ctrl+Z redoes them, the same across a page reload (the history is in the store),
and inside a text field Ctrl+Z is the field's own undo, not the article's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from storage import repo
from storage.prefs import list_preference_events
from studio.app.session import Studio
from tests.browser import chromium, error_free_page
from tests.render_studio import render_studio
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

RESPONSE = (
    "# Bicycles\n\nMore people ride to work every year.\n\n"
    "<imgen>{'source': 'code', 'description': 'Commuters', 'params': {'code': \"plt.bar(['a', 'b'], [3, 7])\"}}"
    "</imgen>\n\nBike lanes make riders safer."
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio]]:
    studio = render_studio(tmp_path_factory.mktemp("history-ui"))
    with running_app(studio.settings, studio) as (url, s):
        yield url, s


@pytest.fixture
def page(app: tuple[str, Studio]) -> Iterator[Any]:
    with chromium() as browser, error_free_page(browser, viewport={"width": 1280, "height": 900}) as p:
        yield p


def block(page: Any, key: str) -> Any:
    return page.locator(f"#article section[data-block='{key}']")


def head_notice(page: Any, text: str) -> None:
    """The outcome: next to the one block the step changed (else over the article)."""
    page.locator("#article .notice", has_text=text).wait_for(timeout=60_000)


def key(page: Any, keys: str, expect: str) -> None:
    """Press keys outside any text field and wait for the article's answer."""
    page.locator("#studio-title").click()  # focus out of any field, as a writer clicking the page
    page.keyboard.press(keys)
    head_notice(page, expect)


def test_ctrl_z_undoes_a_text_edit_and_an_image_accept_and_shift_ctrl_z_redoes_them(
    app: tuple[str, Studio], page: Any
) -> None:
    url, studio = app
    page.goto(url)
    page.locator("#brief textarea").fill("Bicycles")
    page.locator("#render-box").click()
    page.locator("#response textarea").fill(RESPONSE)
    page.locator("#render").click()
    page.locator("#article .history-bar").wait_for(timeout=60_000)
    page.wait_for_function("window.location.search.includes('article=')")
    aid = int(page.evaluate("new URLSearchParams(window.location.search).get('article')"))
    assert page.locator(".history-undo").is_disabled() and page.locator(".history-redo").is_disabled()

    # an image accept, then a text edit (today's edit box)
    chart, intro = block(page, "b2"), block(page, "b1")
    chart.get_by_role("button", name="Accept").click()
    chart.locator(".notice", has_text="accepted").wait_for(timeout=60_000)
    intro.get_by_role("button", name="Edit").click()
    intro.locator(".edit-form textarea").fill("# Bicycles\n\nMore and more people ride to work.")
    intro.locator(".edit-form").get_by_role("button", name="Save").click()
    intro.locator(".notice", has_text="Saved as version 2").wait_for(timeout=60_000)
    assert page.locator(".history-undo").get_attribute("title") == 'Undo: text edit of heading "Bicycles" (Ctrl+Z)'

    # inside a text field Ctrl+Z belongs to the field: the article's history does not move
    block(page, "b3").get_by_role("button", name="Edit").click()
    field = block(page, "b3").locator(".edit-form textarea")
    field.press("End")
    field.type(" Really.")
    field.press("Control+z")
    page.wait_for_timeout(500)
    assert repo.history_state(studio.store, aid).undo.label == 'text edit of heading "Bicycles"'  # type: ignore[union-attr]
    assert "More and more people" in intro.inner_text()

    def stored() -> tuple[str, int | None]:
        article = repo.open_article(studio.store, aid)
        return article.block("b1").current.text or "", article.block("b2").accepted_version

    key(page, "Control+z", 'Undone: text edit of heading "Bicycles"')
    assert "More people ride to work every year." in intro.inner_text()
    key(page, "Control+z", 'Undone: accept version 1 of chart "Commuters"')
    assert chart.locator(".card-accepted").count() == 0
    assert (
        chart.locator(".notice", has_text='Undone: accept version 1 of chart "Commuters"').count() == 1
    )  # on its card
    text, accepted = stored()
    assert "More people ride" in text and accepted is None
    undo = list_preference_events(studio.store, kind="undo")[-1]  # the accept is kept, marked undone
    accept = list_preference_events(studio.store, kind="accept")[-1]
    assert undo.context["undoes"] == [accept.id] and undo.article_id == aid

    key(page, "Shift+Control+z", 'Redone: accept version 1 of chart "Commuters"')
    assert chart.locator(".card-accepted").count() == 1
    key(page, "Shift+Control+z", 'Redone: text edit of heading "Bicycles"')
    assert "More and more people" in intro.inner_text()
    assert stored() == ("# Bicycles\n\nMore and more people ride to work.\n\n", 1)
    assert page.locator(".history-redo").is_disabled()

    # across a reload: the history is the store's, not the page's
    page.reload()
    page.locator("#article .history-bar").wait_for(timeout=60_000)
    assert page.locator(".history-undo").get_attribute("title") == 'Undo: text edit of heading "Bicycles" (Ctrl+Z)'
    key(page, "Control+z", 'Undone: text edit of heading "Bicycles"')
    key(page, "Control+z", 'Undone: accept version 1 of chart "Commuters"')
    page.reload()
    page.locator("#article .history-bar").wait_for(timeout=60_000)
    assert chart.locator(".card-accepted").count() == 0 and "More people ride" in intro.inner_text()
    assert (
        page.locator(".history-redo").get_attribute("title")
        == 'Redo: accept version 1 of chart "Commuters" (Shift+Ctrl+Z)'
    )
    key(page, "Shift+Control+z", 'Redone: accept version 1 of chart "Commuters"')
    key(page, "Shift+Control+z", 'Redone: text edit of heading "Bicycles"')
    assert chart.locator(".card-accepted").count() == 1 and "More and more people" in intro.inner_text()
    assert stored() == ("# Bicycles\n\nMore and more people ride to work.\n\n", 1)

    # the buttons do the same as the keys
    page.locator(".history-undo").click()
    head_notice(page, 'Undone: text edit of heading "Bicycles"')
    page.locator(".history-redo").click()
    head_notice(page, 'Redone: text edit of heading "Bicycles"')


def in_view(page: Any, key: str) -> bool:
    return bool(
        page.evaluate(
            f"(() => {{ const r = document.querySelector(\"#article section[data-block='{key}']\")"
            ".getBoundingClientRect(); return r.bottom > 0 && r.top < window.innerHeight; })()"
        )
    )


def test_an_undo_far_from_the_block_it_changes_scrolls_there(app: tuple[str, Studio], page: Any) -> None:
    url, _ = app
    long = "# Long\n\n" + "\n\n".join(f"Paragraph {i} of a long article. " * 12 for i in range(30))
    chart = "<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \"plt.bar(['a'], [1])\"}}</imgen>"
    page.goto(url)
    page.locator("#brief textarea").fill("Long")
    page.locator("#render-box").click()
    page.locator("#response textarea").fill(f"{long}\n\n{chart}\n\nThe last paragraph.")
    page.locator("#render").click()
    page.locator("#article .history-bar").wait_for(timeout=60_000)
    last = block(page, "b3")
    last.get_by_role("button", name="Edit").click()
    last.locator(".edit-form textarea").fill("The last paragraph, edited.")
    last.locator(".edit-form").get_by_role("button", name="Save").click()
    last.locator(".notice", has_text="Saved as version 2").wait_for(timeout=60_000)
    page.locator("#studio-title").scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('#studio-title').getBoundingClientRect().top >= 0")
    assert not in_view(page, "b3")  # the writer is at the top, the change at the bottom
    page.locator("#studio-title").click()
    page.keyboard.press("Control+z")
    last.locator(".notice", has_text='Undone: text edit of paragraph "The last paragraph."').wait_for(timeout=60_000)
    page.wait_for_function(
        "(() => { const r = document.querySelector(\"#article section[data-block='b3']\").getBoundingClientRect();"
        " return r.bottom > 0 && r.top < window.innerHeight; })()",
        timeout=10_000,
    )
    assert "The last paragraph." in last.inner_text()
