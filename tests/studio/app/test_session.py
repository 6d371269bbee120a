"""Session controller on a real SQLite store with the real chart sandbox (no model needed:
articles come from an existing LLM-I response, as ``python -m studio render`` does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.prefs import list_preference_events
from studio.app.session import Session, Studio
from studio.core.agent import Brief
from studio.core.events import ArticleDone, ToolCallFinished
from tests.render_studio import render_studio

CHART = "plt.bar(['a', 'b'], [1, 2])"
RESPONSE = (
    "# Lighthouses\n\nThey guide ships.\n\n"
    "<imgen>{'source': 'code', 'description': 'Lights by decade', 'params': {'code': \"" + CHART + '"}}</imgen>'
    "\n\nMore text.\n\n"
    "<imgen>{'source': 'diffusion', 'description': 'A storm', 'params': {'prompt': 'storm'}}</imgen>\n\nEnd."
)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    studio = render_studio(tmp_path_factory.mktemp("studio"))  # the model is never asked here
    yield studio
    studio.close()


def write(session: Session, response: str = RESPONSE) -> list[object]:
    return [event for event, _ in session.generate(Brief("lighthouses"), response=response) if event is not None]


def test_generate_persists_every_block_and_reopens_in_a_new_session(studio: Studio) -> None:
    session = Session(studio)
    events = write(session)
    assert isinstance(events[-1], ArticleDone)
    assert any(isinstance(e, ToolCallFinished) for e in events)
    statuses = {b.id: b.status for b in session.view.blocks if b.kind == "image"}
    assert statuses == {"b2": "ok", "b4": "placeholder"}  # diffusion is off: a placeholder to fill
    assert "diffusion tool is off" in (session.view.block("b4").error or "")

    other = Session(studio)  # a reload / another tab: everything comes back from the store
    view = other.open_project(session.project_id)  # type: ignore[arg-type]
    assert [(b.id, b.kind, b.status) for b in view.blocks] == [(b.id, b.kind, b.status) for b in session.view.blocks]
    assert view.block("b2").image == session.view.block("b2").image and view.block("b2").image
    assert view.block("b1").text.startswith("# Lighthouses")


def test_regenerate_accept_revert_are_logged_with_context(studio: Studio, tmp_path: Path) -> None:
    session = Session(studio)
    write(session)
    first = session.view.block("b2").image
    before = len(list_preference_events(studio.store))

    view = session.regenerate("b2", "params", params={"code": "plt.plot([3, 1, 2])"})
    b2 = view.block("b2")
    assert (b2.version, b2.version_count, b2.status) == (2, 2, "ok") and b2.image != first
    view = session.accept("b2")
    assert view.block("b2").accepted
    view = session.revert("b2", 1)
    assert view.block("b2").version == 1 and view.block("b2").image == first and not view.block("b2").accepted

    events = list_preference_events(studio.store)[before:]
    assert [e.kind for e in events] == ["regenerate", "accept", "revert"]
    accept = events[1]
    assert accept.context["brief"] == "lighthouses" and accept.context["kept"] == 2
    assert "plt.plot([3, 1, 2])" in json.dumps(accept.context["chosen"]) and CHART in json.dumps(accept.context)

    out = session.export_preferences(tmp_path / "prefs", "article").out_dir
    rows = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    # accept v2 over v1, then revert to v1: the same two versions judged again, one row (the latest)
    assert [(r["event"], r["article_id"]) for r in rows] == [("revert", session.article_id)]
    assert all((out / r["chosen_image"]).is_file() and (out / r["rejected_image"]).is_file() for r in rows)


def test_bad_params_become_a_failed_version_not_an_exception(studio: Studio) -> None:
    session = Session(studio)
    write(session)
    view = session.regenerate("b2", "params", params={"code": 3})
    b2 = view.block("b2")  # the failed attempt is a candidate: the working chart stays
    assert b2.status == "ok" and b2.candidate is not None and "code" in (b2.candidate.error or "")
    with pytest.raises(ValueError, match="only a version that came out ok"):
        session.accept("b2", b2.candidate.number)
    view = session.regenerate("b4", "tool", source="code", params={"code": CHART})
    assert view.block("b4").status == "ok" and view.block("b4").source == "code"
    with pytest.raises(ValueError):
        session.regenerate("b1")  # a text block is rewritten, not regenerated


def test_projects_rename_duplicate_delete_and_isolation(studio: Studio) -> None:
    a, b = Session(studio), Session(studio)
    a.new_project("alpha")
    write(a)
    b.new_project("beta")
    assert a.project_id != b.project_id and b.article_id is None  # no cross-talk
    assert a.rename("  alpha   two ").name == "alpha two"
    copy = a.duplicate()
    assert a.project_id == copy.id and [x.id for x in a.view.blocks] == ["b1", "b2", "b3", "b4", "b5"]
    a.delete()
    assert a.project_id is None and copy.id not in {p.id for p in a.projects()}
    with pytest.raises(ValueError):
        a.rate(thumbs=1)  # nothing open
    a.restore(copy.id)  # the delete is undone
    assert a.project_id == copy.id and copy.id in {p.id for p in a.projects()}


def test_rating_is_stored(studio: Studio) -> None:
    session = Session(studio)
    write(session)
    session.rate(thumbs=1, stars=4, comment="nice <b>")
    rating = [e for e in list_preference_events(studio.store) if e.kind == "rating"][-1]
    assert rating.article_id == session.article_id and rating.context["comment"] == "nice <b>"
    with pytest.raises(ValueError):
        session.rate(thumbs=3)


def test_a_new_brief_adds_an_article_and_hides_none(studio: Studio) -> None:
    session = Session(studio)
    write(session)
    first = session.article_id
    session.accept("b2")
    write(session, "# Second\n\nOnly text.")
    assert session.article_id != first and [a for a, _, _ in session.articles()] == [session.article_id, first]
    other = Session(studio)
    view = other.open_article(first, session.project_id)  # type: ignore[arg-type]
    assert view.block("b2").accepted and view.article_id == first
    with pytest.raises(KeyError):
        other.open_article(first, 999_999)  # the URL's project must match


def test_export_is_named_after_the_title_with_or_without_appendix(studio: Studio, tmp_path: Path) -> None:
    session = Session(studio)
    write(session)
    with_calls = session.export("html", tmp_path / "a")
    without = session.export("html", tmp_path / "b", appendix=False)
    assert with_calls.name == "Lighthouses.html" and session.title() == "Lighthouses"
    assert CHART.split("(")[0] in with_calls.read_text() and len(without.read_text()) < len(with_calls.read_text())
    # Copy as Markdown is self-contained: the image as a data URI, or an absolute studio URL on request
    assert "![Lights by decade](data:image/png;base64," in session.markdown()
    assert "![Lights by decade](http://studio.example:7860/studio-asset/" in session.markdown(
        "http://studio.example:7860/x"
    )
    assert '<img src="data:image/png;base64,' in session.rich_text() and 'alt="Lights by decade"' in session.rich_text()
