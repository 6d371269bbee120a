"""Images anywhere, end to end: the real app on 127.0.0.1 (render mode, the real chart sandbox,
a real SQLite store), driven by real headless Chromium (paste and drop) and by gradio_client
(the named ``/insert_image`` endpoint)."""

from __future__ import annotations

import base64
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from storage import repo
from studio.app.session import Session, Studio
from tests.browser import error_free_page
from tests.httpserver import LocalServer
from tests.render_studio import png, render_studio
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

RESPONSE = (
    "# Lenses\n\nGlass bends light.\n\nA second paragraph about glass.\n\n"
    "<imgen>{'source': 'code', 'description': 'Focal lengths', 'params': {'code': \"plt.bar(['a'], [2])\"}}</imgen>"
    "\n\nThe end."
)


@pytest.fixture(scope="module")
def images() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        srv.route("/lens.png", body=png("gold", (60, 40)), headers={"Content-Type": "image/png"})
        yield srv


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, images: LocalServer) -> Iterator[tuple[str, Studio]]:
    host = images.url("/").split("/")[2]  # the test's image host may be fetched; any other loopback host not
    studio = render_studio(tmp_path_factory.mktemp("insert"), download_allowed_hosts=[host])
    with running_app(studio.settings, studio) as (url, _):
        yield url, studio


def rendered(url: str) -> tuple[Client, int, int]:
    client = Client(url, verbose=False)
    out = client.predict("lenses", RESPONSE, "", api_name="/render")
    final = out[1] if isinstance(out, tuple) else out
    return client, final["project_id"], final["article_id"]


def exported_markdown(studio: Studio, article_id: int, out: Path) -> str:
    sess = Session(studio)
    sess.open_article(article_id)
    with zipfile.ZipFile(sess.export("md", out)) as zf:
        return zf.read("article.md").decode()


def test_the_insert_image_endpoint(app: tuple[str, Studio], images: LocalServer, tmp_path: Path) -> None:
    url, studio = app
    client, _, aid = rendered(url)
    mine = tmp_path / "harbour.png"
    mine.write_bytes(png("navy", (80, 60)))
    out = client.predict(block="b2", path=handle_file(str(mine)), caption="The harbour", api_name="/insert_image")
    assert [b["id"] for b in out["article"]["blocks"]] == ["b1", "b2", "b4", "b3"]
    stored = repo.open_article(studio.store, aid).block("b4")
    assert stored.current.provenance["origin"] == "upload" and stored.current.description == "The harbour"
    assert studio.store.assets.read(stored.current.asset.sha256) == mine.read_bytes()
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(Exception, match="not an image Pillow can read"):
        client.predict(block="b2", path=handle_file(str(fake)), api_name="/insert_image")
    with pytest.raises(Exception, match="either an image file"):
        client.predict(block="b2", path=None, api_name="/insert_image")
    assert len(repo.open_article(studio.store, aid).blocks) == 4
    out = client.predict(block="start", path=None, url=images.url("/lens.png"), api_name="/insert_image")
    assert [b["id"] for b in out["article"]["blocks"]][0] == "b5"  # above the first block
    assert repo.open_article(studio.store, aid).block("b5").current.provenance["origin"] == "url"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with error_free_page(browser, viewport={"width": 1280, "height": 900}) as p:
        yield p


PASTE = """async ([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, {type}));
  const target = document.activeElement || document.body;
  target.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
}"""
DROP = """async ([b64, selector]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
  const el = document.querySelector(selector);
  const r = el.getBoundingClientRect();
  const at = {bubbles: true, cancelable: true, dataTransfer: data, clientX: r.left + 10, clientY: r.bottom - 5};
  el.dispatchEvent(new DragEvent('dragover', at));
  const marked = el.closest('section').querySelector('.drop-after') || el.closest('.drop-after');
  el.dispatchEvent(new DragEvent('drop', at));
  return !!marked;
}"""


def section_order(page: Any) -> list[str]:
    return page.eval_on_selector_all("#article section[data-block]", "els => els.map(e => e.dataset.block)")


def test_paste_a_png_between_two_paragraphs_and_drop_one_below_a_chart(
    app: tuple[str, Studio], page: Any, tmp_path: Path
) -> None:
    url, studio = app
    _, pid, aid = rendered(url)
    page.goto(f"{url}?project={pid}&article={aid}")
    page.locator("#article section[data-block='b2'] img.card-img").wait_for(timeout=60_000)
    assert section_order(page) == ["b1", "b2", "b3"]

    # click into the paragraph "Glass bends light." and paste a PNG: it goes right below it
    page.locator("#article section[data-block='b1'] p", has_text="Glass bends light.").click()
    pasted = png("orange", (90, 60))
    page.evaluate(PASTE, [base64.b64encode(pasted).decode(), "image.png", "image/png"])
    page.locator("#article section[data-block='b4'] img.card-img").wait_for(timeout=60_000)
    assert section_order(page) == ["b1", "b4", "b5", "b2", "b3"]
    assert page.locator("#article section[data-block='b1']").inner_text().count("Glass bends light.") == 1
    assert "A second paragraph" in page.locator("#article section[data-block='b5']").inner_text()
    card = page.locator("#article section[data-block='b4']")
    assert "Image: supplied by the author" in card.inner_text() and "your image" in card.inner_text()
    info = repo.open_article(studio.store, aid)
    stored = info.block("b4")
    assert stored.kind == "image" and stored.current.provenance["origin"] == "upload"
    assert studio.store.assets.read(stored.current.asset.sha256) == pasted
    text = info.llmi_text()
    assert text.index("Glass bends light.") < text.index("A second paragraph")  # nothing lost
    md = exported_markdown(studio, aid, tmp_path / "out")
    assert "Image: supplied by the author" in md
    assert md.index("Glass bends light.") < md.index("images/b4") < md.index("A second paragraph")

    # a file that is not an image is refused on the block, and nothing is added
    page.locator("#article section[data-block='b5'] p", has_text="A second paragraph").click()
    page.evaluate(PASTE, [base64.b64encode(b"I am text").decode(), "fake.png", "image/png"])
    page.locator("#article section[data-block='b5'] .notice", has_text="not an image Pillow can read").wait_for(
        timeout=60_000
    )
    assert section_order(page) == ["b1", "b4", "b5", "b2", "b3"]

    # drop a file on the lower half of the chart card: it goes below the chart
    dropped = png("purple", (70, 50))
    marked = page.evaluate(DROP, [base64.b64encode(dropped).decode(), "#article section[data-block='b2'] figure"])
    assert marked  # the drop line showed where it goes
    page.locator("#article section[data-block='b6'] img.card-img").wait_for(timeout=60_000)
    assert section_order(page) == ["b1", "b4", "b5", "b2", "b6", "b3"]
    page.reload()
    page.locator("#article section[data-block='b6'] img.card-img").wait_for(timeout=60_000)
    assert section_order(page) == ["b1", "b4", "b5", "b2", "b6", "b3"]


def test_the_insert_form_takes_an_image_url(app: tuple[str, Studio], images: LocalServer, page: Any) -> None:
    url, studio = app
    _, pid, aid = rendered(url)
    page.goto(f"{url}?project={pid}&article={aid}")
    last = page.locator("#article section[data-block='b3']")
    last.wait_for(timeout=60_000)
    # a loopback address that is not an allowed image host is refused before any request
    other = images.url("/lens.png").replace("127.0.0.1", "localhost")
    asked = len(images.requests)
    last.hover()
    last.get_by_role("button", name="+ Paragraph below").click()
    last.locator(".insert-form input[name=url]").fill(other)
    last.get_by_role("button", name="Add picture").click()
    last.locator(".notice", has_text="could not be used").wait_for(timeout=60_000)
    assert len(images.requests) == asked and section_order(page) == ["b1", "b2", "b3"]
    last.hover()
    last.get_by_role("button", name="+ Paragraph below").click()
    last.locator(".insert-form input[name=url]").fill(images.url("/lens.png"))
    last.get_by_role("button", name="Add picture").click()
    card = page.locator("#article section[data-block='b4']")
    card.locator("img.card-img").wait_for(timeout=60_000)
    host = images.url("/").split("/")[2]
    assert section_order(page) == ["b1", "b2", "b3", "b4"] and f"Image: {host}" in card.inner_text()
    stored = repo.open_article(studio.store, aid).block("b4")
    assert stored.current.provenance == {
        "origin": "url",
        "url": images.url("/lens.png"),
        "alt": "lens",
        "inserted_by": stored.current.provenance["inserted_by"],
    }
    assert studio.store.assets.read(stored.current.asset.sha256) == png("gold", (60, 40))
