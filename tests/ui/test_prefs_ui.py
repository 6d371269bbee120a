"""Preference export from the UI: the counts for the chosen scope come first, then the download
(a zip of the dataset directory that load_dataset reads). Through gradio_client (named endpoints)
and in real headless Chromium."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from datasets import load_dataset
from gradio_client import Client

from tests.browser import chromium
from tests.render_studio import render_studio
from tests.ui.conftest import running_app

RESPONSE = (
    "# Charts\n\nSome text.\n\n<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': "
    "\"plt.bar(['a', 'b'], [1, 2])\"}}</imgen>\n\nThe end."
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    studio = render_studio(tmp_path_factory.mktemp("ui"))
    with running_app(studio.settings, studio) as (url, _):
        client = Client(url, verbose=False)
        client.predict("charts", RESPONSE, "", api_name="/render")
        client.predict("b2", "params", '{"code": "plt.plot([2, 1])"}', None, api_name="/regenerate")
        client.predict("b2", api_name="/accept")
        client.predict("b2", "params", '{"code": "plt.plot([2, 1])"}', None, api_name="/regenerate")
        client.predict("b2", api_name="/accept")  # the same call again: an identical pair
        yield url


def test_counts_then_download_a_dataset_that_loads(app_url: str, tmp_path: Path) -> None:
    client = Client(app_url, verbose=False)
    assert client.predict("all", False, api_name="/preference_counts") == (
        "Export of all projects: 1 preference pairs (1 identical pairs left out), 0 ratings, "
        "0 vision pairs (articles with input images)."
    )
    assert client.predict("all", True, api_name="/preference_counts").startswith("Export of all projects: 2 preference")
    # a new client has no article open: a per-article export says so instead of failing
    assert client.predict("article", False, api_name="/preference_counts").startswith("Nothing to export: no article")
    archive, message = client.predict("all", False, api_name="/export_preferences")
    assert message.startswith("Exported all projects: 1 preference pairs")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "prefs")
    (row,) = load_dataset(str(tmp_path / "prefs"), split="train")
    assert row["chosen"][0]["content"].endswith("The end.") and "plt.plot([2, 1])" in row["chosen_text"]


@pytest.mark.slow
def test_the_page_shows_the_counts_before_the_download(app_url: str) -> None:
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(app_url)
        page.locator("#export-box").click()  # the Export accordion holds the preference export
        page.get_by_role("radio", name="all projects").check()
        page.wait_for_function(
            "document.querySelector('#prefs-counts').innerText.includes('1 preference pairs')", timeout=60_000
        )
        assert "1 identical pairs left out" in page.locator("#prefs-counts").inner_text()
        page.locator("#export-prefs").click()
        page.wait_for_function(
            "document.querySelector('#download') && document.querySelector('#download').innerText.includes('.zip')",
            timeout=60_000,
        )
        assert "Exported all projects" in page.locator("#prefs-counts").inner_text()
        assert not errors, errors
