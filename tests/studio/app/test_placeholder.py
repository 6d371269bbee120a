"""A tag for a tool that is off becomes a placeholder block (real SQLite store, real chart
sandbox); the user fills it by an upload, or by running it later once the tool is on.

The article comes from an LLM-I response (as ``python -m studio render`` does), so the tag is
fixed; tests/studio/core/test_agent.py shows the same with the real embedded model. The search
"web" is a local hit list: the live web cannot be reached from tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from storage.prefs import list_preference_events
from studio.app.session import Session, Studio
from studio.app.ui_page import image_card
from studio.app.uploads import UploadRefused
from studio.core.agent import Brief
from studio.core.events import ToolCallFailed
from tests.render_studio import png, render_services, render_settings
from tools.base import Availability, Tool, ToolContext, ToolResult
from tools.params import SearchParams

RESPONSE = (
    "# Kyoto\n\nA city of temples.\n\n"
    "<imgen>{'source': 'search', 'description': 'Kinkaku-ji, the golden pavilion', "
    "'params': {'query': 'Kinkaku-ji golden pavilion'}}</imgen>\n\nMore text."
)


class LocalSearch(Tool):
    """Image search over a fixed hit list (stands in for the live web)."""

    name = "search"
    Params = SearchParams

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def run(self, params: BaseModel, context: ToolContext) -> ToolResult:
        self.calls.append((params.query, context.result_offset))  # type: ignore[attr-defined]
        return ToolResult.success(png("gold"), {"title": "Kinkaku-ji", "hit_index": context.result_offset})


def open_studio(data: Path, *, search: Tool | None = None) -> Studio:
    settings = render_settings(data, ("code", "search"))
    services = render_services(settings)
    if search is not None:  # the search tool is on now (e.g. the machine is online again)
        services.tools["search"] = search
        services.availability["search"] = Availability.on()
    else:
        services.availability["search"] = Availability.off("image search needs internet access")
    return Studio(settings, services=services)


@pytest.fixture
def written(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    studio = open_studio(tmp_path)
    session = Session(studio)
    events = [event for event, _ in session.generate(Brief("Kyoto"), response=RESPONSE)]
    failed = [e for e in events if isinstance(e, ToolCallFailed)]
    assert len(failed) == 1 and failed[0].placeholder
    b2 = session.view.block("b2")
    assert b2.status == "placeholder" and b2.source == "search"
    assert b2.params == {"query": "Kinkaku-ji golden pavilion"} and b2.description.startswith("Kinkaku-ji")
    assert "the search tool is off: image search needs internet access" in (b2.error or "")
    assert "Upload an image" in (b2.error or "")
    html = image_card(b2, editable=True)
    assert 'data-status="placeholder"' in html and "needs internet access" in html
    assert "Replace with my image" in html and "tool is off" in html
    assert session.project_id is not None and session.article_id is not None
    ids = (session.project_id, session.article_id)
    studio.close()
    yield tmp_path, *ids


def test_placeholder_is_stored_and_filled_by_an_upload(written: tuple[Path, int, int]) -> None:
    data, project, _ = written
    studio = open_studio(data)
    try:
        session = Session(studio)
        view = session.open_project(project)
        assert view.block("b2").status == "placeholder"  # survives the store
        with pytest.raises(UploadRefused, match="not an image Pillow can read"):
            session.replace_image("b2", b"not an image")
        with pytest.raises(ValueError, match="text block"):
            session.replace_image("b1", png("red"))
        view = session.replace_image("b2", png("red"), name="my photo.png")
        b2 = view.block("b2")
        assert (b2.status, b2.version, b2.version_count) == ("ok", 2, 2) and b2.image == png("red")
        assert b2.provenance["uploaded"] == "my photo.png" and b2.provenance["filled"] == "placeholder"
        assert b2.params == {"query": "Kinkaku-ji golden pavilion"}  # the call is kept for a later run
        event = list_preference_events(studio.store)[-1]
        assert event.kind == "regenerate"
    finally:
        studio.close()


def test_placeholder_is_filled_by_a_later_run_once_the_tool_is_on(written: tuple[Path, int, int]) -> None:
    data, project, _ = written
    still_off = open_studio(data)
    try:
        session = Session(still_off)
        session.open_project(project)
        view = session.regenerate("b2", "again")  # still off: still a placeholder, with the reason
        assert view.block("b2").status == "placeholder" and "is off" in (view.block("b2").error or "")
    finally:
        still_off.close()
    search = LocalSearch()
    online = open_studio(data, search=search)
    try:
        session = Session(online)
        session.open_project(project)
        view = session.regenerate("b2", "again")
        b2 = view.block("b2")
        assert b2.status == "ok" and b2.image == png("gold") and b2.error is None
        assert search.calls == [("Kinkaku-ji golden pavilion", 0)]  # the kept call, from the first hit
    finally:
        online.close()
