"""The HTML export opened in real headless Chromium: the injection corpus runs nothing.

Each payload would set its own ``window.__pwned_<n>`` global. The page is loaded, every
element is hovered, focused and clicked (links to http(s)/mailto are kept from navigating
away so the check stays on this page; any other link is followed, so a surviving
``javascript:`` link would run), then the globals, dialogs, frames and URL are checked.
A control page with the raw payloads proves the harness notices when something runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import studio.export.html as export_html
from studio.export import render_html
from tests.browser import chromium
from tests.studio.export.test_export_html import PAYLOADS, injected_article, plain_article

# Installed before the sweep: keeps safe links from leaving the page, lets anything else run.
GUARD_JS = """() => {
  window.__followed = [];
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href]');
    if (link && /^(https?:|mailto:)/i.test(link.getAttribute('href'))) {
      event.preventDefault();
      window.__followed.push(link.getAttribute('href'));
    }
  }, true);
}"""

SWEEP_JS = """() => {
  for (const el of Array.from(document.querySelectorAll('body *'))) {
    for (const type of ['mouseover', 'mouseenter', 'mousemove', 'mousedown', 'mouseup']) {
      el.dispatchEvent(new MouseEvent(type, {bubbles: true}));
    }
    if (el.focus) el.focus();
    if (el.click) el.click();
  }
  return document.querySelectorAll('body *').length;
}"""

REPORT_JS = """() => ({
  pwned: Object.getOwnPropertyNames(window).filter((k) => k.startsWith('__pwned')),
  followed: window.__followed || [],
  scripts: document.querySelectorAll('script, iframe, object, embed, svg, math, form, base, link').length,
  images: Array.from(document.images).map((img) => [img.naturalWidth, img.src.slice(0, 15)]),
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def exercise(browser: Any, path: Path) -> dict[str, Any]:
    """Open ``path``, poke every element with real and synthetic input, report what ran."""
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        url = path.as_uri()
        page.goto(url, wait_until="load")
        page.wait_for_timeout(300)  # timers, meta refresh, lazy handlers
        page.evaluate(GUARD_JS)
        # Real pointer movement over every link, figure and note (the browser's own hover).
        for locator in page.locator("a, figure, aside, section, div, p").all()[:80]:
            locator.hover(timeout=2000, force=True)
        swept = page.evaluate(SWEEP_JS)
        for link in page.locator("a").all()[:40]:
            link.click(timeout=2000, force=True, no_wait_after=True)
        page.wait_for_timeout(300)
        report = page.evaluate(REPORT_JS) if page.url == url else {"pwned": ["navigated away"]}
        report |= {
            "url_kept": page.url == url,
            "frames": len(page.frames),
            "dialogs": dialogs,
            "swept": swept,
            "text": page.inner_text("body"),
        }
        return report
    finally:
        context.close()


def test_harness_detects_payloads_that_run(browser: Any, tmp_path: Path) -> None:
    """Control: unsanitized payloads without CSP do run, and the harness sees each kind."""
    raw = " ".join(PAYLOADS[i].replace("@N", str(i)) for i in (1, 14, 24))  # onerror, js link, hover
    page = tmp_path / "control.html"
    page.write_text(f"<!DOCTYPE html><html><body><p>control</p>{raw}</body></html>", encoding="utf-8")
    report = exercise(browser, page)
    assert {"__pwned_1", "__pwned_14", "__pwned_24"} <= set(report["pwned"]), report["pwned"]


def _assert_inert(report: dict[str, Any]) -> None:
    assert report["pwned"] == []
    assert report["dialogs"] == []
    assert report["url_kept"] and report["frames"] == 1
    assert report["swept"] > 50  # the sweep really touched the document


def test_injection_corpus_runs_nothing_and_honest_content_shows(browser: Any, tmp_path: Path) -> None:
    corpus = injected_article()
    page = tmp_path / "article.html"
    page.write_text(render_html(corpus.article, title=corpus.title, include_unfinished=True), encoding="utf-8")
    report = exercise(browser, page)
    _assert_inert(report)
    assert report["scripts"] == 0
    # Every honest marker is visible text; the four real images decoded (data: URLs are allowed).
    for marker in corpus.honest:
        assert marker in report["text"], marker
    assert "Honest title" in report["text"]
    for marker in corpus.operator:  # error text is the operator's: never on the exported page
        assert marker not in report["text"], marker
    assert [w > 0 for w, _ in report["images"]] == [True] * 4
    # The only links followed are safe web links (the onclick one lost its handler).
    assert report["followed"] and all(h.startswith("https://") for h in report["followed"])


def test_sanitizer_alone_holds_without_csp(browser: Any, tmp_path: Path) -> None:
    corpus = injected_article()
    document = render_html(corpus.article, title=corpus.title)
    assert export_html.CSP.replace("'", "&#39;") in document
    page = tmp_path / "no-csp.html"
    page.write_text(document.replace('http-equiv="Content-Security-Policy"', 'name="csp-removed"'), encoding="utf-8")
    _assert_inert(exercise(browser, page))


def test_csp_alone_holds_without_sanitizer(browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Second layer: with the sanitizer switched off, the CSP meta still stops every payload."""
    monkeypatch.setattr(export_html, "sanitize_html", lambda fragment: fragment)
    corpus = injected_article()
    document = render_html(corpus.article, title=corpus.title)
    assert "<script>window.__pwned_" in document  # the raw payloads really are in the page
    page = tmp_path / "no-sanitizer.html"
    page.write_text(document, encoding="utf-8")
    report = exercise(browser, page)
    assert report["pwned"] == [] and report["dialogs"] == []


def test_clean_article_renders_figures_and_links(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "plain.html"
    page.write_text(render_html(plain_article()), encoding="utf-8")
    report = exercise(browser, page)
    _assert_inert(report)
    assert [w for w, _ in report["images"]] == [120, 120, 120]
    assert set(report["followed"]) == {"https://photos.example/harbour"}
    for text in ("Tides explained", "Figure 1. Harbour at low tide", "tiny-sd"):
        assert text in report["text"]
    assert "the edit model is not installed" not in report["text"]  # the failed block is left out
