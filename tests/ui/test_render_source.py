"""The UI's render path (the named /render endpoint, through gradio_client on a launched app):
the brief box's text is the article's brief, and the source the user gives for the pasted
response is kept as its writer's model; clients that send no source still work."""

from __future__ import annotations

from pathlib import Path

from gradio_client import Client

from storage import repo
from tests.render_studio import render_studio
from tests.ui.conftest import running_app

RESPONSE = (
    "# Charts\n\nSome text.\n\n<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': "
    "\"plt.bar(['a', 'b'], [1, 2])\"}}</imgen>\n\nThe end."
)


def test_render_keeps_the_brief_and_the_source(tmp_path: Path) -> None:
    studio = render_studio(tmp_path / "data")
    with running_app(studio.settings, studio) as (url, _):
        client = Client(url, verbose=False)
        client.predict("Bars for a report", RESPONSE, "", "Claude, pasted from a chat", api_name="/render")
        client.predict("No source given", RESPONSE, "", api_name="/render")  # an older client: 3 values
        articles = [a for p in repo.list_projects(studio.store) for a in repo.list_articles(studio.store, p.id)]
        facts = sorted(
            (a.brief, a.settings["backend"], a.settings["model"], a.settings["written_by"])
            for a in (repo.open_article(studio.store, a.id) for a in articles)
        )
    assert facts == [
        ("Bars for a report", "pasted response", "Claude, pasted from a chat", "render"),
        ("No source given", "pasted response", None, "render"),
    ]
