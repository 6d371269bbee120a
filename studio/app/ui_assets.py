"""The page's static parts, read from package files (``static/``; no logic here).

``article.html`` is the article component's template (joins ``ui_page.page(view)``);
``page.js`` runs once per page (gr.HTML ``js_on_load``): card buttons send one ``act`` event,
lightbox, elapsed-time ticks, Ctrl/Cmd+Enter to write and the page URL
(``?project=ID&article=N``); ``history.js`` adds Ctrl/Cmd+Z and Shift+Ctrl/Cmd+Z (the article's
history); ``page.css`` is the app's stylesheet (``launch``), with ``suggest.css`` (the selection
menu and tracked change of ``suggest.js``, ``ui_suggest``). The card
templates are ``templates/*.html.j2`` (``ui_page``).
"""

from __future__ import annotations

from importlib.resources import files


def asset(name: str) -> str:
    """One file of ``studio/app/static`` (shipped as package data)."""
    return (files("studio.app") / "static" / name).read_text(encoding="utf-8")


TEMPLATE = asset("article.html")
SCRIPT = asset("page.js") + "\n" + asset("history.js")  # history.js: Ctrl/Cmd+Z (ui_history)
CSS = asset("page.css") + asset("suggest.css")  # suggest.css: the selection menu and tracked change
