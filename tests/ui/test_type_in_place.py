"""Typing in place, in real headless Chromium: the app runs on 127.0.0.1 in render mode (a real
SQLite store), its page imports the editor bundle the app serves (web/, built by setup.sh; built
here when missing and npm is present), and each test types with the keyboard and checks what the
page shows, what the store holds and what a reload brings back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import repo
from studio.app.editor_bundle import bundle_path, editor_url
from studio.app.session import Session, Studio
from studio.core.agent import Brief
from tests.browser import error_free_page
from tests.render_studio import render_studio
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

WEB = Path(__file__).resolve().parents[2] / "web"
RESPONSE = "# Bikes\n\nBike lanes make riders safer.\n\nThe end."


def ensure_bundle() -> None:
    """The built editor bundle: built here (npm ci && npm run build) when missing; a skip with
    the reason only where npm is absent, and a failure in CI (STUDIO_REQUIRE_BROWSER=1)."""
    if editor_url() is not None:
        return
    npm = shutil.which("npm")
    if npm is None:
        reason = "the editor bundle is not built and npm is missing: install node 20 and run `bash setup.sh`"
        if os.environ.get("STUDIO_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True, timeout=300)
    assert editor_url() is not None, f"npm run build wrote no {bundle_path()}"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio]]:
    ensure_bundle()
    studio = render_studio(tmp_path_factory.mktemp("type-in-place"))
    with running_app(studio.settings, studio) as (url, running):
        yield url, running


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with error_free_page(browser, viewport={"width": 1280, "height": 900}) as p:
        yield p


def new_article(studio: Studio, response: str = RESPONSE) -> tuple[int, int]:
    sess = Session(studio)
    for _ in sess.generate(Brief("bikes"), response=response):
        pass
    assert sess.view.project_id is not None and sess.article_id is not None
    return sess.view.project_id, sess.article_id


def open_article(page: Any, url: str, ids: tuple[int, int]) -> Any:
    page.goto(f"{url}?project={ids[0]}&article={ids[1]}")
    editor = page.locator("#article studio-text[data-block-id='b1'] .ProseMirror")
    editor.wait_for(timeout=60_000)
    return editor


def indicator(page: Any) -> Any:
    return page.locator("#article studio-autosave [role=status]")


def stored_text(studio: Studio, article_id: int) -> str:
    return repo.open_article(studio.store, article_id).block("b1").current.text.strip()


def test_type_into_a_paragraph_then_reload_and_the_text_is_there(app: tuple[str, Studio], page: Any) -> None:
    url, studio = app
    ids = new_article(studio)
    editor = open_article(page, url, ids)
    assert editor.locator("h1").inner_text() == "Bikes"  # shown as text, not as Markdown
    assert editor.get_attribute("contenteditable") == "true"
    assert page.locator("#article section[data-block-id='b1'] studio-text").count() == 1
    editor.locator("p", has_text="Bike lanes make riders safer.").click()
    page.keyboard.press("End")
    page.keyboard.type(" Every day, 自転車も。")
    page.wait_for_function("window.studioEditor.status().state === 'saving'", timeout=5_000)
    assert indicator(page).inner_text() == "Saving…"
    indicator(page).filter(has_text="Saved").wait_for(timeout=30_000)
    expected = "# Bikes\n\nBike lanes make riders safer. Every day, 自転車も。\n\nThe end."
    assert stored_text(studio, ids[1]) == expected
    assert page.evaluate("window.studioEditor.getMarkdown('b1')") == expected
    # the first save is a second version, logged as the writer's own edit
    versions = repo.list_versions(studio.store, ids[1], "b1")
    assert len(versions) == 2 and versions[-1].origin == "edit"

    page.reload()
    editor = page.locator("#article studio-text[data-block-id='b1'] .ProseMirror")
    editor.locator("p", has_text="Every day, 自転車も。").wait_for(timeout=60_000)
    assert indicator(page).inner_text() == "Saved"


def test_markdown_shortcuts_are_stored_as_markdown(app: tuple[str, Studio], page: Any) -> None:
    url, studio = app
    ids = new_article(studio)
    editor = open_article(page, url, ids)
    editor.locator("p", has_text="The end.").click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("## Lanes")
    page.keyboard.press("Enter")
    page.keyboard.type("- paint")
    page.keyboard.press("Enter")
    page.keyboard.type("kerbs")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # out of the list
    page.keyboard.type("They are **safe** and _cheap_, see [the map](https://example.com/map). ")
    assert editor.locator("h2").inner_text() == "Lanes"  # "## " made a heading as it was typed
    assert editor.locator("ul li").count() == 2
    assert editor.locator("strong").inner_text() == "safe" and editor.locator("em").inner_text() == "cheap"
    assert editor.locator("a").get_attribute("href") == "https://example.com/map"
    indicator(page).filter(has_text="Saved").wait_for(timeout=30_000)
    page.wait_for_function("window.studioEditor.status().state === 'saved'")
    text = stored_text(studio, ids[1])
    assert text == (
        "# Bikes\n\nBike lanes make riders safer.\n\nThe end.\n\n## Lanes\n\n- paint\n- kerbs\n\n"
        "They are **safe** and _cheap_, see [the map](https://example.com/map)."
    )
    # Ctrl+B on a selection, and the API the other parts of the page use
    editor.locator("p", has_text="Bike lanes").dblclick()  # selects a word
    page.keyboard.press("Control+b")
    page.evaluate("window.studioEditor.flush()")
    assert "**" in stored_text(studio, ids[1]).split("\n\n")[1]


def test_someone_elses_change_reaches_the_editor_and_the_markdown_box_still_works(
    app: tuple[str, Studio], page: Any
) -> None:
    url, studio = app
    ids = new_article(studio)
    editor = open_article(page, url, ids)
    section = page.locator("#article section[data-block-id='b1']")
    section.hover()
    section.get_by_role("button", name="Edit as Markdown").click()
    section.locator(".edit-form textarea").fill("# Bikes\n\nA whole new paragraph.")
    section.get_by_role("button", name="Save").click()
    editor.locator("p", has_text="A whole new paragraph.").wait_for(timeout=30_000)
    assert stored_text(studio, ids[1]) == "# Bikes\n\nA whole new paragraph."
    # the API: replace a block's text and save it
    assert page.evaluate("window.studioEditor.setMarkdown('b1', '# Bikes\\n\\nSet by the API.')")
    page.evaluate("window.studioEditor.flush()")
    assert stored_text(studio, ids[1]) == "# Bikes\n\nSet by the API."
    assert page.evaluate("window.studioEditor.blocks()") == ["b1"]


def test_emptying_a_block_says_why_it_is_not_saved_and_keeps_the_text(app: tuple[str, Studio], page: Any) -> None:
    url, studio = app
    ids = new_article(studio)
    editor = open_article(page, url, ids)
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    indicator(page).filter(has_text="Not saved").wait_for(timeout=30_000)
    assert "empty" in indicator(page).inner_text()
    assert stored_text(studio, ids[1]) == RESPONSE  # nothing the writer made is lost
    page.keyboard.type("Fresh start.")
    indicator(page).filter(has_text="Saved").wait_for(timeout=30_000)
    assert stored_text(studio, ids[1]) == "Fresh start."


def test_the_converter_round_trips_the_articles_markdown(browser: Any) -> None:
    """The shipped bundle's Markdown <-> editor conversion, in Chromium: headings, lists, links,
    emphasis, code and CJK come back exactly as written."""
    ensure_bundle()
    cases = [
        "# Bicycles in cities\n\n## Why\n\nText with **bold**, *em*, _em_, __strong__, `code` and ~~old~~.",
        'A [link](https://example.com "title"), <https://example.com> and a soft\nline break.',
        "- one\n- two\n  - nested\n- three\n\n* star\n* list\n\n1. first\n2. second\n\n3) third\n4) fourth",
        "- loose\n\n- list\n\n> a quote\n> on two lines",
        "```python\nprint('hi')\n```\n\n---\n\nThe end.",
        "自行车在城市里越来越多。**重要**的是安全。\n\n日本語の*強調*と[リンク](https://example.jp/東京)。"
        "\n\n한국어 문장.",
        "| a | b |\n|---|---|\n| 1 | 2 |",
    ]
    context = browser.new_context()
    p = context.new_page()
    p.set_content("<!doctype html><html><body></body></html>")
    p.add_script_tag(content=bundle_path().read_text(encoding="utf-8"), type="module")
    p.wait_for_function("!!window.studioEditor")
    for md in cases:
        assert p.evaluate("md => window.studioEditor.roundTrip(md)", md) == md
        assert p.evaluate("md => window.studioEditor.keepsMarkdown(md)", md)
    # only escapes differ: still kept; the stored form is what the editor writes
    assert p.evaluate("window.studioEditor.roundTrip('5 * 3 [x]')") == "5 \\* 3 \\[x\\]"
    assert p.evaluate("window.studioEditor.keepsMarkdown('5 * 3 [x]')")
    context.close()


def test_save_text_is_a_named_endpoint(app: tuple[str, Studio]) -> None:
    from gradio_client import Client

    url, studio = app
    client = Client(url, verbose=False)
    client.predict("bikes", RESPONSE, "", api_name="/render")
    out = client.predict("b1", "# Bikes\n\nSaved by a script.", "", api_name="/save_text")
    assert out["article"]["blocks"][0]["text"].strip() == "# Bikes\n\nSaved by a script." and out["message"] == ""
    aid = int(out["article_id"])
    versions = len(repo.list_versions(studio.store, aid, "b1"))
    again = client.predict("b1", "# Bikes\n\nSaved by a script.", str(aid), api_name="/save_text")
    assert len(repo.list_versions(studio.store, aid, "b1")) == versions and again["message"] == ""
    with pytest.raises(Exception, match=f"Save text failed: .*article {aid + 1000} not found"):
        client.predict("b1", "Elsewhere.", str(aid + 1000), api_name="/save_text")
    assert stored_text(studio, aid) == "# Bikes\n\nSaved by a script."


def test_hostile_text_stays_text_in_the_editor(app: tuple[str, Studio], page: Any) -> None:
    url, studio = app
    hostile = (
        'Say "hi" <img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>\n\n'
        "[click](javascript:window.pwned=3) and [ok](https://example.com) ![pic](http://127.0.0.1:9/x.png)"
    )
    ids = new_article(studio, hostile)
    page.on("dialog", lambda d: d.dismiss())
    editor = open_article(page, url, ids)
    assert "<img src=x" in editor.inner_text()  # shown as the text it is
    assert page.evaluate("window.pwned") is None
    assert editor.locator("script, img[src], img:not(.ProseMirror-separator)").count() == 0  # nothing fetched
    assert "[image: pic]" in editor.inner_text()
    assert editor.locator("a[href^='javascript']").count() == 0
    assert editor.locator("a[href='https://example.com']").count() == 1
    # the editor's form differs only in escapes (`\\[click\\]`, no link either way); opening saves nothing
    assert page.evaluate("window.studioEditor.getMarkdown('b1')") == page.evaluate(
        "md => window.studioEditor.roundTrip(md)", stored_text(studio, ids[1])
    )
    page.wait_for_timeout(1500)
    assert len(repo.list_versions(studio.store, ids[1], "b1")) == 1


def test_an_article_rendered_in_the_page_is_typed_into_when_it_is_done(app: tuple[str, Studio], page: Any) -> None:
    """The usual way: the article streams in as HTML, and once it is done its text blocks become
    editors in the same page (no reload)."""
    url, studio = app
    page.goto(url)
    page.locator("#brief textarea").fill("bikes")
    page.locator("#render-box").click()
    page.locator("#response textarea").fill("# Rendered\n\nFirst words.\n\nLast words.")
    page.locator("#render").click()
    editor = page.locator("#article studio-text[data-block-id='b1'] .ProseMirror")
    editor.wait_for(timeout=60_000)
    page.wait_for_function("window.location.search.includes('article=')")
    article_id = int(page.evaluate("new URLSearchParams(window.location.search).get('article')"))
    editor.locator("p", has_text="Last words.").click()
    page.keyboard.press("End")
    page.keyboard.type(" More.")
    indicator(page).filter(has_text="Saved").wait_for(timeout=30_000)
    page.wait_for_function("window.studioEditor.status().state === 'saved'")
    assert stored_text(studio, article_id) == "# Rendered\n\nFirst words.\n\nLast words. More."


def test_when_the_bundle_does_not_load_the_text_shows_and_the_markdown_box_works(
    app: tuple[str, Studio], page: Any
) -> None:
    url, studio = app
    ids = new_article(studio)
    page.route("**/studio-editor/**", lambda route: route.abort())
    page.goto(f"{url}?project={ids[0]}&article={ids[1]}")
    page.wait_for_function("document.documentElement.dataset.studioEditor === 'failed'", timeout=60_000)
    section = page.locator("#article section[data-block-id='b1']")
    note = "getComputedStyle(document.querySelector('#article .studio-article'), '::before').content"
    assert "did not load" in page.evaluate(note)
    shown = "getComputedStyle(document.querySelector('#article studio-text'), '::before').content"
    assert "Bike lanes make riders safer." in page.evaluate(shown)
    assert section.locator("studio-text").get_attribute("data-md") == RESPONSE  # shown by page.css
    section.hover()
    section.get_by_role("button", name="Edit as Markdown").click()
    section.locator(".edit-form textarea").fill("# Bikes\n\nTyped in the box.")
    section.get_by_role("button", name="Save").click()
    section.locator(".notice", has_text="Saved as version 2").wait_for(timeout=30_000)
    assert stored_text(studio, ids[1]) == "# Bikes\n\nTyped in the box."
    page.errors.clear()  # the failed import is logged as the console error it is, not a page crash


def test_the_app_serves_the_bundle_itself(app: tuple[str, Studio]) -> None:
    import urllib.request

    url, _ = app
    src = editor_url()
    assert src is not None and src.startswith("/studio-editor/editor.js?v=")
    with urllib.request.urlopen(url.rstrip("/") + src, timeout=30) as response:
        body = response.read()
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "immutable" in response.headers["Cache-Control"]
    assert body == bundle_path().read_bytes() and b"studio-text" in body


def test_a_block_deleted_in_another_tab_keeps_what_was_typed_into_it(app: tuple[str, Studio], page: Any) -> None:
    url, studio = app
    ids = new_article(studio, RESPONSE + "\n\n<imgen>{'source': 'code', 'description': 'Bars', 'params': "
                      "{'code': \"plt.bar([1], [2])\"}}</imgen>\n\nAfter the chart.")  # fmt: skip
    editor = open_article(page, url, ids)
    repo.delete_block(studio.store, ids[1], "b1")  # another tab deletes the block meanwhile
    editor.locator("p", has_text="The end.").click()
    page.keyboard.press("End")
    page.keyboard.type(" Still here.")
    page.locator("#article section[data-block-id='b1']").wait_for(state="detached", timeout=30_000)
    page.wait_for_function("window.studioEditor.status().state !== 'saving'", timeout=10_000)
    assert [b.key for b in repo.open_article(studio.store, ids[1]).blocks] == ["b2", "b3"]  # still deleted
    repo.restore_block(studio.store, ids[1], "b1")  # its Undo brings it back with the typed text
    assert stored_text(studio, ids[1]).endswith("The end. Still here.")
