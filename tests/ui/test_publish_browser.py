"""Publishing from the browser (real headless Chromium, the real app on 127.0.0.1, the real chart
sandbox and store): an article with an image replaced by the author's upload, a placeholder and a
chart with made-up numbers. The checklist beside Export names the placeholder first and the
illustrative chart; *Export anyway* writes all four formats, and each one credits the author,
leaves the placeholder out, carries the alt text and no operator text."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest

from studio.app.session import Studio
from tests.browser import chromium
from tests.render_studio import png, render_settings, render_studio
from tests.ui.conftest import running_app
from tests.ui.test_editor import block, notice, render

pytestmark = pytest.mark.slow

OPERATOR = re.compile(r"STUDIO_|Errno|Hugging Face cache|/root/|/home/|/tmp/|\.cache/")
RESPONSE = (
    "# Lighthouses\n\nThey guide ships home.\n\n"
    "<imgen>{'source': 'search', 'description': 'Peggys Point Lighthouse', 'params': {'query': 'Peggys Point'}}"
    "</imgen>\n\nThe oldest one stands on Sambro Island.\n\n"
    "<imgen>{'source': 'search', 'description': 'Sambro Island light', 'params': {'query': 'Sambro Island'}}"
    "</imgen>\n\nLights by coast.\n\n"
    "<imgen>{'source': 'code', 'description': 'Bar chart of lights by coast', "
    "'params': {'code': \"plt.bar(['North', 'South', 'East'], [1, 1, 1])\\nplt.title('Lights by coast')\"}}"
    "</imgen>\n\nThe end.\n"
)
ALT = "A white lighthouse on pink granite"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio]]:
    data = tmp_path_factory.mktemp("publish-ui")  # search is off: its tags become placeholders
    studio = render_studio(data)
    with running_app(render_settings(data), studio) as (url, running):
        yield url, running


@pytest.fixture
def page(app: tuple[str, Studio]) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        p = context.new_page()
        errors: list[str] = []
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        yield p
        context.close()
        assert not errors, errors


def choose_format(page: Any, fmt: str) -> None:
    box = page.locator("#export-box")
    box.get_by_label("Format").click()
    page.get_by_role("option", name=fmt, exact=True).click()


def downloaded(page: Any, url: str, suffix: str) -> bytes:
    link = page.locator(f"#download a[download$='{suffix}']").first
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    return bytes(page.request.get(href if href.startswith("http") else url.rstrip("/") + href).body())


def test_publish_check_then_export_all_four_formats(app: tuple[str, Studio], page: Any, tmp_path: Path) -> None:
    url, _ = app
    render(page, url, RESPONSE, brief="Lighthouses")
    upload, placeholder, chart = block(page, "b2"), block(page, "b4"), block(page, "b6")
    assert "Illustrative numbers" in chart.inner_text()  # on the card, as in the chart itself

    # Edit call on the search placeholder (search is off) opens on search: no silent switch to a chart
    placeholder.get_by_role("button", name="Edit call…").click()
    editor = page.locator("#call-editor")
    editor.wait_for()
    assert editor.locator("#editor-tool input[type=radio]:checked").get_attribute("value") == "search"
    assert "web image (off)" in editor.locator("#editor-tool").inner_text()
    editor.locator("#editor-close").click()

    mine = tmp_path / "my-lighthouse.png"
    mine.write_bytes(png("navy", (160, 120)))
    upload.locator("input[data-upload]").set_input_files(str(mine))
    notice(page, "b2", "Your image replaces")
    assert "your image" in upload.locator(".card-tool").inner_text()
    assert "Image: supplied by the author" in upload.locator(".card-credit").inner_text()

    upload.get_by_role("button", name="Caption").click()
    upload.locator("input[name='alt']").fill(ALT)
    upload.get_by_role("button", name="Save caption").click()
    page.wait_for_function(
        f"document.querySelector(\"#article section[data-block='b2'] img.card-img\")?.alt === {ALT!r}",
        timeout=60_000,
    )

    page.locator("#export-box").click()
    page.locator("#export").click()
    check = page.locator("#publish-check li")
    check.first.wait_for(timeout=60_000)
    items = check.all_inner_texts()
    assert "Image 2 (Sambro Island light) is a placeholder" in items[0]  # named first
    assert any("Image 3 (Bar chart of lights by coast) is a chart with illustrative numbers" in i for i in items)
    assert page.locator("#publish-check li a").first.get_attribute("href") == "#card-b4"
    assert "Not exported yet" in page.locator("#export-msg").inner_text()
    assert "placeholder" in placeholder.locator("figure").get_attribute("data-status")

    texts: dict[str, str] = {}
    for fmt, suffix in (("html", ".html"), ("md", ".zip"), ("docx", ".docx"), ("pdf", ".pdf")):
        choose_format(page, fmt)
        page.locator("#export-anyway").click()  # one click exports anyway
        page.locator("#export-msg", has_text=f"Lighthouses{suffix}").wait_for(timeout=120_000)
        data = downloaded(page, url, suffix)
        if fmt == "html":
            texts[fmt] = data.decode("utf-8")
            assert f'alt="{ALT}"' in texts[fmt]
        elif fmt == "md":
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                texts[fmt] = bundle.read("article.md").decode() + bundle.read("SOURCES.md").decode()
            assert f"![{ALT}](images/b2.png)" in texts[fmt]
        elif fmt == "docx":
            document = docx.Document(io.BytesIO(data))
            texts[fmt] = "\n".join(p.text for p in document.paragraphs)
            assert document.inline_shapes[0]._inline.docPr.get("descr") == ALT
        else:
            pdf = tmp_path / "a.pdf"
            pdf.write_bytes(data)
            texts[fmt] = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for fmt, text in texts.items():
        flat = " ".join(text.split())
        assert "Image: supplied by the author" in flat, fmt
        assert "Sambro Island light" not in flat and "Figure missing" not in flat, fmt  # the placeholder is left out
        assert "Illustrative numbers" in flat, fmt
        assert not OPERATOR.search(text), (fmt, OPERATOR.search(text))
