"""/undo and /redo through gradio_client, against the real app on 127.0.0.1: one history per
article, shared by every client on it, kept in the store (a new client that opens the article
can undo what another did)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gradio_client import Client

from tests.render_studio import render_studio
from tests.ui.conftest import running_app

CHART = "plt.bar(['a', 'b'], [1, 2])"
RESPONSE = (
    "# Charts\n\nSome text.\n\n<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \""
    + CHART
    + '"}}</imgen>\n\nThe end.'
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    studio = render_studio(tmp_path_factory.mktemp("history-api"))
    with running_app(studio.settings, studio) as (url, _):
        yield url


def blocks(out: dict) -> dict[str, dict]:
    return {b["id"]: b for b in out["article"]["blocks"]}


def test_undo_and_redo_endpoints_walk_the_article_history(app_url: str) -> None:
    client = Client(app_url, verbose=False)
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/undo", "/redo"} <= set(named)
    assert named["/undo"]["parameters"] == [] and named["/redo"]["parameters"] == []

    final = client.predict("charts", RESPONSE, "", api_name="/render")[1]
    assert final["article"]["undo"] == "" and final["article"]["redo"] == ""
    with pytest.raises(Exception, match="Undo failed: nothing to undo in this article"):
        client.predict(api_name="/undo")

    client.predict("b1", "Some edited text.", api_name="/edit_text")
    client.predict("b2", "again", "", "", api_name="/regenerate")
    out = client.predict("b2", "", api_name="/accept")
    assert blocks(out)["b2"]["accepted"] is True and out["article"]["undo"] == 'accept version 2 of chart "Bars"'

    out = client.predict(api_name="/undo")
    assert out["message"] == 'Undone: accept version 2 of chart "Bars".' and blocks(out)["b2"]["accepted"] is False
    assert out["article"]["redo"] == 'accept version 2 of chart "Bars"'
    out = client.predict(api_name="/undo")
    assert blocks(out)["b2"]["version"] == 1
    out = client.predict(api_name="/undo")
    assert "edited" not in blocks(out)["b1"]["text"] and "Some text." in blocks(out)["b1"]["text"]

    # another client opens the same article: the history is in the store, shared, and it redoes
    other = Client(app_url, verbose=False)
    opened = other.predict(final["article_id"], api_name="/open_article")[1]
    assert opened["article"]["redo"] == 'text edit of heading "Charts"'
    out = other.predict(api_name="/redo")
    assert (
        out["message"] == 'Redone: text edit of heading "Charts".' and "Some edited text." in blocks(out)["b1"]["text"]
    )
    out = other.predict(api_name="/redo")
    assert blocks(out)["b2"]["version"] == 2
    out = other.predict(api_name="/redo")
    assert blocks(out)["b2"]["accepted"] is True
    with pytest.raises(Exception, match="Redo failed: nothing to redo in this article"):
        other.predict(api_name="/redo")


def test_undo_without_an_open_article_says_what_to_do(app_url: str) -> None:
    with pytest.raises(Exception, match="no article is open"):
        Client(app_url, verbose=False).predict(api_name="/undo")


def test_autosaves_of_one_burst_are_one_undo_step(app_url: str) -> None:
    """Three /save_text calls within STUDIO_TYPING_MERGE_S (60 s by default) are one step: one
    /undo goes back to the text before them; a save of another block in between starts anew."""
    client = Client(app_url, verbose=False)
    client.predict("charts", RESPONSE, "", api_name="/render")
    for typed in ("# Charts\n\nSome", "# Charts\n\nSome typed", "# Charts\n\nSome typed text."):
        out = client.predict("b1", typed, "", api_name="/save_text")
    assert out["article"]["undo"] == 'text edit of heading "Charts"' and blocks(out)["b1"]["version"] == 2
    client.predict("b3", "The very end.", "", api_name="/save_text")
    out = client.predict("b1", "# Charts\n\nSome typed text, then more.", "", api_name="/save_text")
    assert blocks(out)["b1"]["version"] == 3  # another block's edit ended the burst

    out = client.predict(api_name="/undo")
    assert blocks(out)["b1"]["text"].strip() == "# Charts\n\nSome typed text."
    out = client.predict(api_name="/undo")
    assert blocks(out)["b3"]["text"].strip() == "The end."
    out = client.predict(api_name="/undo")
    assert out["message"] == 'Undone: text edit of heading "Charts".'
    assert blocks(out)["b1"]["text"].strip() == "# Charts\n\nSome text."
    assert out["article"]["undo"] == ""
