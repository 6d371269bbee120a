"""The publish path through a real session (real SQLite store, real chart sandbox): Regenerate on a
data chart keeps its labels and values, Edit call on a search placeholder keeps search, an upload is
credited to the author in every export, a caption keeps the accept state, made-up chart values are
marked illustrative, and the checklist names the placeholder first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.provenance import UPLOAD_CREDIT
from studio.app.call_form import chart_params, form_for
from studio.app.session import Session, Studio
from studio.core.agent import Brief
from studio.core.chart_data import chart_data
from studio.core.words import count_label
from tests.render_studio import png, render_studio

DATA_CHART = "labels = ['North', 'South', 'East']\nvalues = [12, 30, 18]\nplt.bar(labels, values)\nplt.title('Lights')"
RESPONSE = (
    "# Lighthouses\n\nThree coasts have lights.\n\n"
    f"<imgen>{{'source': 'code', 'description': 'Bar chart of lights by coast', 'params': {{'code': {DATA_CHART!r}}}}}"
    "</imgen>\n\nA photo shows the oldest.\n\n"
    "<imgen>{'source': 'search', 'description': 'Peggys Point Lighthouse in Nova Scotia', "
    "'params': {'query': 'Peggys Point Lighthouse'}}</imgen>\n\n"
    "<imgen>{'source': 'code', 'description': 'Bar chart of lighthouse counts', "
    "'params': {'code': \"plt.bar(['A', 'B', 'C'], [1, 1, 1])\\nplt.title('Lighthouse counts')\"}}</imgen>\n\nEnd.\n"
)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    studio = render_studio(tmp_path_factory.mktemp("publish"))  # search is off: its tag is a placeholder
    yield studio
    studio.close()


@pytest.fixture()
def session(studio: Studio) -> Session:
    sess = Session(studio)
    for _ in sess.generate(Brief("lighthouses"), response=RESPONSE):
        pass
    return sess


def ids(sess: Session) -> tuple[str, str, str]:
    images = [b.id for b in sess.view.blocks if b.kind == "image"]
    return images[0], images[1], images[2]


def test_pasted_chart_data_is_credited_and_made_up_values_are_illustrative(session: Session) -> None:
    chart, _, counts = ids(session)
    assert session.view.block(chart).provenance["data_from"] == "response"
    made_up = session.view.block(counts)
    assert made_up.status == "ok" and made_up.provenance["illustrative"] is True
    assert "Illustrative numbers" in made_up.params["code"]


def test_regenerate_on_a_data_chart_keeps_its_label_value_pairs(session: Session) -> None:
    chart, _, _ = ids(session)
    before = chart_data(session.view.block(chart).params["code"])
    view = session.regenerate(chart, "again", seed=11)
    after = view.block(chart)
    assert after.version == 2 and after.status == "ok"
    assert chart_data(after.params["code"]).labels == before.labels == ("North", "South", "East")
    assert chart_data(after.params["code"]).values == before.values == (12, 30, 18)
    assert after.provenance["data_from"] == "response"  # the record of where the numbers came from is kept
    assert after.history[-1].instruction == "new drawing, same data"


def test_new_data_comes_only_from_the_call_editors_table(session: Session) -> None:
    chart, _, _ = ids(session)
    block = session.view.block(chart)
    form = form_for(block, None, ["code"], session.view)
    assert form.tool == "code" and form.data == "North: 12\nSouth: 30\nEast: 18" and form.shown("data")
    same, origin = chart_params(form.code, form.data, form.description, form.code)
    assert same == {"code": form.code} and origin == ""  # an unchanged table runs the code as written
    typed = "plt.plot([1, 3, 2])"  # new code, table untouched: the code runs as typed, its numbers the author's
    assert chart_params(typed, form.data, form.description, form.code) == ({"code": typed}, "author")
    restyled = form.code.replace("plt.bar", "plt.barh")  # same data, new drawing: the numbers keep their origin
    assert chart_params(restyled, form.data, form.description, form.code, kept="response")[1] == "response"
    params, origin = chart_params(form.code, "North: 14\nSouth: 31\nEast: 18", form.description, form.code)
    view = session.regenerate(chart, "params", params=params, code_from=origin)
    assert chart_data(view.block(chart).params["code"]).values == (14, 31, 18)
    assert view.block(chart).provenance["data_from"] == "author"


def test_edit_call_on_a_search_placeholder_keeps_search(session: Session) -> None:
    _, photo, _ = ids(session)
    block = session.view.block(photo)
    assert block.status == "placeholder" and block.source == "search"
    form = form_for(block, None, ["code"], session.view)  # only code is on here
    assert form.tool == "search" and form.query == "Peggys Point Lighthouse"
    view = session.regenerate(photo, "params", params={"query": "Peggys Point"}, source="search")
    assert view.block(photo).source == "search"  # still a search placeholder: nothing drew a chart
    switched = form_for(block, "code", ["code"], session.view)
    assert switched.description == "Chart: Peggys Point Lighthouse in Nova Scotia"


def test_an_upload_is_credited_to_the_author_everywhere(session: Session, tmp_path: Path) -> None:
    _, photo, _ = ids(session)
    items = session.publish_check()
    assert [i.kind for i in items][:2] == ["unfinished", "illustrative"] and items[0].block_id == photo
    view = session.replace_image(photo, png("navy"), "my-photo.png")
    assert view.block(photo).provenance["origin"] == "upload"
    for fmt in ("html", "md", "docx", "pdf"):
        out = session.export(fmt, tmp_path / fmt)
        assert out.exists() and out.stat().st_size > 0
    html = (tmp_path / "html" / "Lighthouses.html").read_text(encoding="utf-8")
    assert UPLOAD_CREDIT in html and "my-photo.png" in html.split('class="appendix"')[1]
    assert "unfinished" not in [i.kind for i in session.publish_check()]
    # the preference rows credit each side from its own version's record
    chart, _, _ = ids(session)
    session.regenerate(chart, "again", seed=3)
    session.revert(chart, 1)
    from storage.pref_rows import Scope, preference_rows
    from storage.prefs import list_preference_events

    events = [e for e in list_preference_events(session.store) if Scope(article_id=session.article_id).holds(e)]
    rows = [r for r in preference_rows(events, keep_identical=True)[0] if r["block_id"] == chart]
    assert rows and rows[-1]["chosen_credit"].startswith("Chart drawn from code; numbers from the pasted response")


def test_a_caption_keeps_the_accept_state(session: Session) -> None:
    chart, _, _ = ids(session)
    session.accept(chart)
    view = session.caption(chart, "Lights on three coasts", alt="Bars for North, South and East")
    block = view.block(chart)
    assert block.accepted and block.description == "Lights on three coasts"
    assert block.alt == "Bars for North, South and East"


def test_a_chinese_article_is_counted_in_characters(studio: Studio) -> None:
    from studio.app.ui_page import head_html

    sess = Session(studio)
    for _ in sess.generate(Brief("灯塔"), response="灯塔是一种塔形建筑物，夜间在塔顶发光。\n"):
        pass
    assert "17 characters" in str(head_html(sess.view)) and count_label("灯塔 lights") == "3 characters"
