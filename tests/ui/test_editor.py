"""The article is the editor: real headless Chromium drives every action through the cards.

The app runs for real on 127.0.0.1 with the real chart sandbox, the real search tool (its web
search replaced by a searcher whose hits are images on a local HTTP server, downloaded through
the real safe downloader) and a scripted OpenAI-compatible model server on 127.0.0.1 for
writing and rewrites. Each test asserts what the user sees and what the store (and the
preference export) hold afterwards.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from storage import repo
from studio.app.services import build_services, check_availability
from studio.app.session import Studio
from studio.app.settings import load_settings
from tests.browser import error_free_page
from tests.httpserver import LocalServer
from tests.judge_server import JudgeServer, Reply
from tests.ui.conftest import running_app
from tools.search import SearchHit, SearchTool

pytestmark = pytest.mark.slow

GOOD = "plt.bar(['2019', '2024'], [3, 7])"
RESPONSE = (
    "# Bicycles in cities\n\nMore people ride to work every year.\n\n"
    f"<imgen>{{'source': 'code', 'description': 'Commuters by bike', 'params': {{'code': \"{GOOD}\"}}}}</imgen>"
    "\n\nBike lanes make riders safer.\n\n"
    "<imgen>{'source': 'search', 'description': 'A city bike lane', 'params': {'query': 'bike lane'}}</imgen>"
    "\n\nThe end."
)
LONG = "# Trains\n\n" + " ".join(f"word{i}" for i in range(400)) + "\n\nLast paragraph that never comes."
REWRITTEN = "Riders are much safer on bike lanes."


def png(color: str, size: tuple[int, int] = (320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


RAIN = [("# Rain\n\nRain falls when", "length"), (" droplets grow", "length"), (" heavy.\n\nThe end.", "stop")]
rain_calls: list[int] = []


def model_script(index: int, body: dict[str, Any]) -> Reply | str:
    system = body["messages"][0]["content"]
    if "rewrite one passage" in system:
        return REWRITTEN
    if "Rain" in body["messages"][1]["content"]:  # cut off twice (the write and its own continuation), then ends
        rain_calls.append(index)
        text, finish = RAIN[min(len(rain_calls), len(RAIN)) - 1]
        return Reply(text, finish_reason=finish)
    if "Trains" in json.dumps(body["messages"]):
        return Reply(LONG, chunk_chars=12, chunk_delay_s=0.15)
    return RESPONSE


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio, Path]]:
    with LocalServer() as images, JudgeServer(model_script) as model:
        images.route("/lane.png", body=png("green"), headers={"Content-Type": "image/png"})
        images.route("/lane2.png", body=png("purple"), headers={"Content-Type": "image/png"})

        def searcher(query: str, n: int) -> list[SearchHit]:
            return [SearchHit(images.url("/lane.png"), title=f"{query} 1"), SearchHit(images.url("/lane2.png"))][:n]

        data = tmp_path_factory.mktemp("editor")
        settings = load_settings(
            data_dir=data, tools_enabled=["code", "search"], backend="openai", openai_base_url=model.url,
            openai_model="judge-model",
        )  # fmt: skip
        services = build_services(settings)
        tools = {**services.tools, "search": SearchTool(searcher=searcher, allow_private={"127.0.0.0/8"}, min_side=10)}
        services = dataclasses.replace(services, tools=tools, availability=check_availability(tools))
        with running_app(settings, Studio(settings, services=services)) as (url, studio):
            yield url, studio, data


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with error_free_page(browser, viewport={"width": 1440, "height": 900}) as p:
        yield p


def state(page: Any) -> str:
    return page.locator("#article .studio-head .state").inner_text()


def wait_done(page: Any, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "(() => { const s = document.querySelector('#article .studio-head .state');"
        " return s && !s.classList.contains('state-running'); })()",
        timeout=timeout,
    )


def render(page: Any, url: str, response: str = RESPONSE, brief: str = "Bicycles in cities") -> tuple[int, int]:
    page.goto(url)
    page.locator("#brief textarea").fill(brief)
    page.locator("#render-box").click()
    page.locator("#response textarea").fill(response)
    page.locator("#render").click()
    wait_done(page)
    page.wait_for_function("window.location.search.includes('article=')")
    query = dict(part.split("=") for part in page.evaluate("window.location.search")[1:].split("&"))
    return int(query["project"]), int(query["article"])


def block(page: Any, key: str) -> Any:
    return page.locator(f"#article section[data-block='{key}']")


def notice(page: Any, key: str, text: str, timeout: int = 60_000) -> None:
    block(page, key).locator(".notice", has_text=text).wait_for(timeout=timeout)


def test_image_card_regenerate_edit_code_other_tool_accept_revert(app: tuple[str, Studio, Path], page: Any) -> None:
    url, studio, _ = app
    _, aid = render(page, url)
    chart, photo = block(page, "b2"), block(page, "b4")
    assert chart.locator("img.card-img").get_attribute("src").startswith("/studio-asset/")  # by URL, not base64
    assert "commuters-by-bike" in chart.locator("a[download]").get_attribute("download")

    # regenerate the search image: the same call takes the next hit
    first = photo.locator("img.card-img").get_attribute("src")
    photo.get_by_role("button", name="Regenerate").click()
    notice(page, "b4", "Version 2 is shown")
    assert photo.locator("img.card-img").get_attribute("src") != first
    assert "version 2 of 2" in photo.locator(".card-meta").inner_text()

    # edit the chart's code in the code editor
    chart.get_by_role("button", name="Edit call…").click()
    editor = page.locator("#call-editor")
    editor.wait_for()
    assert editor.locator(".cm-editor").count() == 1  # a code editor (CodeMirror), highlighted as Python
    assert [r.inner_text() for r in editor.locator("#editor-tool label").all()] == [
        "web image", "generated picture (off)", "chart", "edited image (off)"
    ]  # fmt: skip
    editor.locator("#editor-code .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("plt.plot([1, 3, 2])")
    editor.locator("#editor-run").click()
    notice(page, "b2", "Version 2 is shown")
    assert repo.open_article(studio.store, aid).block("b2").current.params == {"code": "plt.plot([1, 3, 2])"}
    good_src = chart.locator("img.card-img").get_attribute("src")

    # broken code: the failure is a candidate beside the working chart, which stays
    chart.get_by_role("button", name="Edit call…").click()
    editor.locator("#editor-code .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("plt.plot(no_such_name)")
    editor.locator("#editor-run").click()
    chart.locator(".card-candidate").wait_for()
    assert "no_such_name" in chart.locator(".card-candidate").inner_text()
    assert chart.locator("img.card-img").get_attribute("src") == good_src
    stored = repo.open_article(studio.store, aid).block("b2")
    assert (stored.current_version, stored.current.status, stored.candidate.status) == (2, "ok", "failed")  # type: ignore[union-attr]
    assert "no_such_name" in editor.locator("#editor-msg").inner_text()  # said once, next to the action
    editor.locator("#editor-close").click()

    # another tool: the chart becomes a web image, its query pre-filled from the description
    chart.get_by_role("button", name="Edit call…").click()
    editor.locator("#editor-tool label", has_text="web image").click()
    assert editor.locator("#editor-query textarea, #editor-query input").first.input_value() == "Commuters by bike"
    editor.locator("#editor-run").click()
    notice(page, "b2", "Version 4 is shown")
    assert "web image" in chart.locator(".card-tool").inner_text()
    assert repo.open_article(studio.store, aid).block("b2").current.source == "search"

    # accept, then go back to version 2 from the history's thumbnails
    chart.get_by_role("button", name="Accept").click()
    notice(page, "b2", "accepted")
    assert chart.locator(".card-accepted").count() == 1
    chart.locator("details.history summary").click()
    assert chart.locator("details.history img.thumb").count() == 3  # ok versions have thumbnails
    chart.locator("details.history li[data-version='2'] button").click()
    notice(page, "b2", "Back to version 2")
    stored = repo.open_article(studio.store, aid).block("b2")
    assert stored.current_version == 2 and stored.accepted_version is None

    rows = [r for r in pairs(studio, aid) if r["block_id"] == "b2"]
    # accept (4 over 2) then revert (2 over 4): the latest judgement of that pair is the row kept
    assert [r["event"] for r in rows] == ["revert"] and rows[0]["source"] == "code"  # version 2 (chart) kept


def pairs(studio: Studio, article_id: int) -> list[dict[str, Any]]:
    """The preference rows the TRL export makes of one article's events."""
    from storage.pref_rows import Scope, preference_rows
    from storage.prefs import list_preference_events

    events = [e for e in list_preference_events(studio.store) if Scope(article_id=article_id).holds(e)]
    return preference_rows(events, keep_identical=True)[0]


def test_upload_replace_and_a_fake_png_is_refused(app: tuple[str, Studio, Path], page: Any, tmp_path: Path) -> None:
    url, studio, _ = app
    _, aid = render(page, url)
    mine, fake = tmp_path / "mine.png", tmp_path / "fake.png"
    mine.write_bytes(png("orange", (200, 100)))
    fake.write_text("I am not an image")
    card = block(page, "b2")
    card.locator("input[data-upload]").set_input_files(str(fake))
    notice(page, "b2", "not an image Pillow can read")
    assert repo.open_article(studio.store, aid).block("b2").version_count == 1
    card.locator("input[data-upload]").set_input_files(str(mine))
    notice(page, "b2", "Your image replaces")
    stored = repo.open_article(studio.store, aid).block("b2")
    assert stored.current.origin == "upload" and stored.current.asset is not None
    assert studio.store.assets.read(stored.current.asset.sha256) == mine.read_bytes()
    src = card.locator("img.card-img").get_attribute("src")
    assert src.endswith(stored.current.asset.sha256)
    assert page.request.get(url.rstrip("/") + src).body() == mine.read_bytes()  # served from the asset store


DRAGON = (
    "# Dragons\n\nA story.\n\n<imgen>{'source': 'diffusion', 'description': 'A red dragon over the hills', "
    "'params': {'prompt': 'a red dragon over green hills, watercolour'}}</imgen>\n\nThe end."
)


def test_a_placeholder_shows_its_reason_and_is_filled_by_an_upload(
    app: tuple[str, Studio, Path], page: Any, tmp_path: Path
) -> None:
    url, studio, _ = app  # diffusion is off in this app: the tag becomes a placeholder, never a fake
    _, aid = render(page, url, DRAGON, brief="Dragons")
    card = block(page, "b2")
    assert card.locator("figure").get_attribute("data-status") == "placeholder"
    assert "the diffusion tool is off" in card.inner_text() and "tool is off" in card.inner_text()
    stored = repo.open_article(studio.store, aid).block("b2")
    assert stored.current.status == "placeholder" and stored.current.params["prompt"].startswith("a red dragon")
    mine = tmp_path / "dragon.png"
    mine.write_bytes(png("red", (120, 90)))
    card.locator("input[data-upload]").set_input_files(str(mine))
    notice(page, "b2", "Your image replaces")
    assert card.locator("figure").get_attribute("data-status") == "ok"
    filled = repo.open_article(studio.store, aid).block("b2")
    assert (filled.current.status, filled.current.origin, filled.version_count) == ("ok", "upload", 2)
    assert filled.current.provenance["filled"] == "placeholder"
    assert filled.current.params["prompt"].startswith("a red dragon")  # the call is kept for a later run


def test_text_edit_rewrite_caption_insert_move_delete(app: tuple[str, Studio, Path], page: Any) -> None:
    url, studio, _ = app
    _, aid = render(page, url)
    text = block(page, "b3")
    text.get_by_role("button", name="Edit").click()
    text.locator(".edit-form textarea").fill("Bike lanes make riders **much** safer.")
    text.get_by_role("button", name="Save").click()
    notice(page, "b3", "Saved as version 2")
    assert "much" in text.locator("strong").inner_text()
    assert (
        repo.open_article(studio.store, aid)
        .block("b3")
        .current.text.strip()
        .startswith("Bike lanes make riders **much**")
    )

    text.get_by_role("button", name="Rewrite…").click()
    text.locator(".rewrite-form input").fill("shorter")
    text.locator(".rewrite-form").get_by_role("button", name="Rewrite").click()
    diff = text.locator(".rewrite-diff")
    diff.wait_for(timeout=30_000)
    assert "Riders" in diff.locator("ins").first.inner_text() or "Riders" in diff.inner_text()
    assert "much" in text.locator("strong").inner_text()  # nothing replaced until accepted
    diff.get_by_role("button", name="Accept").click()
    notice(page, "b3", "accepted")
    assert REWRITTEN in text.inner_text()

    card = block(page, "b2")
    card.get_by_role("button", name="Caption").click()
    card.locator(".caption-form input[name=caption]").fill("Commuters, 2019 and 2024")
    card.locator(".caption-form input[name=alt]").fill("Bar chart: 3 thousand then 7 thousand")
    card.get_by_role("button", name="Save caption").click()
    notice(page, "b2", "Caption saved")
    assert card.locator("figcaption").inner_text() == "Commuters, 2019 and 2024"
    assert card.locator("img.card-img").get_attribute("alt") == "Bar chart: 3 thousand then 7 thousand"

    first = block(page, "b1")
    first.get_by_role("button", name="+ Paragraph below").click()
    first.locator(".insert-form textarea").fill("An inserted paragraph.")
    first.locator(".insert-form").get_by_role("button", name="Insert").click()
    page.locator("#article section", has_text="An inserted paragraph.").wait_for()
    keys = lambda: page.eval_on_selector_all("#article section[data-block]", "e => e.map(x => x.dataset.block)")  # noqa: E731
    assert keys()[:3] == ["b1", "b6", "b2"]
    block(page, "b6").get_by_role("button", name="Move down").click()
    page.wait_for_function("document.querySelectorAll('#article section[data-block]')[2].dataset.block === 'b6'")
    block(page, "b6").get_by_role("button", name="Delete").click()
    page.locator("#article .studio-head .notice", has_text="Deleted a block").wait_for()
    assert "b6" not in keys()
    page.locator("#article .studio-head").get_by_role("button", name="Undo").click()
    page.wait_for_function("!!document.querySelector(\"#article section[data-block='b6']\")")
    assert [b.key for b in repo.open_article(studio.store, aid).blocks][:4] == ["b1", "b2", "b6", "b3"]

    edit = next(r for r in pairs(studio, aid) if r["event"] == "edit")
    assert "**much**" in edit["chosen_text"] and edit["rejected_text"].strip().startswith(
        "Bike lanes make riders safer."
    )


def test_stop_reload_two_tabs_and_articles_kept(app: tuple[str, Studio, Path], browser: Any, page: Any) -> None:
    url, studio, _ = app
    pid, first = render(page, url)
    page.locator("#brief textarea").fill("Trains")
    page.locator("#write").click()
    page.locator("#article section", has_text="word2").wait_for(timeout=30_000)
    assert page.locator("#stop").is_visible()
    page.wait_for_function("window.location.search.includes('article=') && !window.location.search.includes("
                           f"'article={first}')")  # fmt: skip
    second_url = page.url

    other = browser.new_context().new_page()  # another tab opens the running article by its URL
    other.goto(second_url)
    other.locator("#article .state", has_text="another tab").wait_for(timeout=30_000)

    page.locator("#stop").click()
    page.locator("#article .state-interrupted").wait_for(timeout=30_000)
    kept = page.locator("#article").inner_text()
    assert "word2" in kept and "Last paragraph" not in kept
    info = repo.open_article(studio.store, int(second_url.split("article=")[1]))
    assert info.status == "interrupted" and "word2" in info.llmi_text()
    other.locator("#article .state-interrupted").wait_for(timeout=30_000)  # the other tab follows
    other.close()

    # both articles are listed; reload opens exactly the stopped one; the first opens from the list
    labels = page.locator("#article-list label").all_inner_texts()
    assert len(labels) == 2 and any("Trains" in x for x in labels) and any("Bicycles" in x for x in labels)
    stopped = int(second_url.split("article=")[1])  # listed by title, with the id of its URL
    assert any(x.startswith(f"{stopped}. Trains") for x in labels) and any(
        x.startswith(f"{first}. Bicycles") for x in labels
    )
    assert page.locator("#article .studio-head button", has_text="Continue writing").count() == 1
    page.reload()
    page.locator("#article .state-interrupted").wait_for(timeout=30_000)
    assert "word2" in page.locator("#article").inner_text()
    page.locator("#article-list label", has_text="Bicycles").click()
    page.locator("#article section", has_text="Bike lanes").wait_for(timeout=30_000)
    assert f"article={first}" in page.url and f"project={pid}" in page.url


def test_ctrl_enter_writes_delete_asks_and_undoes_export_is_named(app: tuple[str, Studio, Path], page: Any) -> None:
    url, studio, _ = app
    page.goto(url)
    page.locator("#brief textarea").fill("Bicycles again")
    page.locator("#brief textarea").press("Control+Enter")  # writes, like the Write button
    wait_done(page)
    pid = int(page.evaluate("new URLSearchParams(window.location.search).get('project')"))
    assert "Bicycles in cities" in page.locator("#article h1").inner_text()

    page.locator("#article img.card-img").first.click()  # the lightbox shows the image large
    box = page.locator("#article .lightbox")
    assert box.is_visible() and "/studio-asset/" in box.locator("img").get_attribute("src")
    box.click()
    assert not box.is_visible()
    page.locator("#copy-md").click()
    page.locator("#copy-msg", has_text="Copied as Markdown").wait_for()

    page.locator("#export-box").click()
    page.locator("#export").click()  # the publish check first: a web image of unknown licence
    page.locator("#publish-check li", has_text="licence is not known").first.wait_for()
    page.locator("#export-anyway").click()
    page.locator("#export-msg", has_text="Bicycles-in-cities.html").wait_for()  # not "Not exported yet"
    assert "Bicycles-in-cities.html" in page.locator("#export-msg").inner_text()
    page.get_by_role("radio", name="this article").check()  # the preference export says which article
    page.locator("#export-prefs").click()
    page.locator("#prefs-counts", has_text="Exported this article").wait_for(timeout=60_000)

    page.locator("#project-box").click()
    page.locator("#project-delete").click()
    page.locator("#project-delete-yes").wait_for()  # it asks first
    page.locator("#project-delete-yes").click()
    page.locator("#project-msg", has_text="Deleted").wait_for()
    assert pid not in [p.id for p in repo.list_projects(studio.store)]
    page.locator("#project-undo").click()
    page.locator("#project-msg", has_text="Restored").wait_for()
    assert pid in [p.id for p in repo.list_projects(studio.store)]
    page.locator("#article h1", has_text="Bicycles in cities").wait_for()


def test_a_cut_off_article_is_marked_and_continues(app: tuple[str, Studio, Path], page: Any) -> None:
    url, studio, _ = app
    page.goto(url)
    page.locator("#brief textarea").fill("Rain")
    page.locator("#write").click()
    wait_done(page)
    head = page.locator("#article .studio-head")
    assert state(page).startswith("cut off") and "token limit" in head.inner_text()
    assert any("(cut off)" in x for x in page.locator("#article-list label").all_inner_texts())
    aid = int(page.evaluate("new URLSearchParams(window.location.search).get('article')"))
    head.get_by_role("button", name="Continue writing").click()
    page.locator("#article section", has_text="The end.").wait_for(timeout=30_000)
    wait_done(page)
    assert state(page).startswith("done") and "token limit" not in head.inner_text()
    info = repo.open_article(studio.store, aid)
    assert info.status == "done" and not info.settings.get("cut_off")
    assert info.llmi_text().replace("\n", "").startswith("# RainRain falls when droplets grow heavy.")
