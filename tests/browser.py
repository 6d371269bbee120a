"""Headless Chromium for tests, driven by Python playwright (shared by export and UI tests).

Playwright cannot download its own browsers here, so it drives the Debian ``chromium``
package (.ci/run installs it with apt). Typical use::

    from tests.browser import chromium_page

    def test_something(tmp_path):
        with chromium_page() as page:          # skips the test when no Chromium is installed
            page.goto("http://127.0.0.1:7860/")
            ...
            assert not page.errors              # uncaught page exceptions, collected

``chromium()`` yields the Browser itself (for several pages or contexts). Everything is
headless, sandbox-less (containers have no user namespaces) and makes no background
network calls, so a test sees only the traffic it causes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_PATH = os.environ.get("STUDIO_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
    "--no-first-run",
]
INSTALL_HINT = "apt-get install chromium (and pip install playwright; `playwright install` is not needed)"


def chromium_missing_reason() -> str | None:
    """Why headless Chromium cannot run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"python playwright is not installed: {INSTALL_HINT}"
    if not (os.path.isfile(CHROMIUM_PATH) or shutil.which(CHROMIUM_PATH)):
        return f"no Chromium at {CHROMIUM_PATH}: {INSTALL_HINT}"
    return None


def require_chromium() -> None:
    """Skip the calling test, with the install command, when Chromium is missing.

    Set STUDIO_REQUIRE_BROWSER=1 (CI) to make a missing browser a failure instead.
    """
    reason = chromium_missing_reason()
    if reason is None:
        return
    if os.environ.get("STUDIO_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium ``playwright.sync_api.Browser``; closed afterwards."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_page(**context_options: Any) -> Iterator[Any]:
    """A fresh page in its own context. ``page.errors`` collects uncaught page exceptions,
    ``page.dialogs`` the messages of alert/confirm/prompt dialogs (dismissed at once)."""
    with chromium() as browser:
        context = browser.new_context(**context_options)
        page = context.new_page()
        page.errors = []
        page.dialogs = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))

        def on_dialog(dialog: Any) -> None:
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        try:
            yield page
        finally:
            context.close()


@contextmanager
def error_free_page(browser: Any, **context_options: Any) -> Iterator[Any]:
    """A page in a fresh context of ``browser``; ``page.errors`` collects uncaught page
    exceptions, and leaving the block asserts there were none (a test may clear what it caused)."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()
    assert not page.errors, page.errors
