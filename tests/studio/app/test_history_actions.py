"""The article's history through the session and the page: undo / redo actions (the page's
buttons and keys send them as ``act`` events), the labels on the view, the history bar, and a
second tab on the same article sharing one history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from studio.app.actions import perform
from studio.app.card_actions import Redo, Undo, parse_action
from studio.app.session import Session, Studio
from studio.app.ui_page import page
from studio.core.agent import Brief
from tests.render_studio import png, render_studio

RESPONSE = (
    "Intro.\n\n<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \"plt.bar([1], [2])\"}}</imgen>"
)


@pytest.fixture
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = render_studio(tmp_path_factory.mktemp("history"))
    yield s
    s.close()


def written(studio: Studio) -> Session:
    sess = Session(studio)
    for _ in sess.generate(Brief("bars"), response=RESPONSE):
        pass
    return sess


def test_the_page_sends_undo_with_or_without_a_block() -> None:
    assert isinstance(parse_action({"act": "undo", "block": None}), Undo)
    assert isinstance(parse_action({"act": "redo"}), Redo)
    assert parse_action({"act": "undo", "block": "b2"}).block == "b2"


def test_undo_and_redo_on_the_view_and_the_history_bar(studio: Studio) -> None:
    sess = written(studio)
    head = page(sess.view)["head"]
    assert 'data-act="undo"' in head and "disabled" in head.split('data-act="undo"')[1].split(">")[0]
    view = perform(sess, {"act": "undo", "block": None})
    assert view.notice == "Nothing to undo in this article" and view.notice_error

    perform(sess, {"act": "edit_text", "block": "b1", "text": "A new intro."})
    sess.replace_image("b2", png("green"), "mine.png")
    perform(sess, {"act": "accept", "block": "b2"})
    assert sess.view.undo_label == 'accept version 2 of your image "Bars"' and sess.view.redo_label == ""
    head = page(sess.view)["head"]
    assert 'title="Undo: accept version 2 of your image &#34;Bars&#34; (Ctrl+Z)"' in head
    assert "b2" not in head.split('data-act="undo"')[1].split(">")[0]  # no block id in what people read

    view = perform(sess, {"act": "undo"})
    # shown next to the one block the step changed (the page scrolls there)
    assert view.block("b2").notice == 'Undone: accept version 2 of your image "Bars".' and not view.block("b2").accepted
    assert view.redo_label == 'accept version 2 of your image "Bars"'
    assert view.undo_label == 'your image in chart "Bars"'  # the block as it was before that step
    perform(sess, {"act": "undo"})
    perform(sess, {"act": "undo"})
    assert sess.view.block("b1").text.strip() == "Intro." and sess.view.block("b2").version == 1
    view = perform(sess, {"act": "redo"})
    assert view.block("b1").notice == 'Redone: text edit of paragraph "Intro.".'
    assert view.block("b1").text.strip() == "A new intro."

    # a new change drops what was left to redo
    perform(sess, {"act": "move", "block": "b2", "offset": -1})
    assert sess.view.redo_label == "" and [b.id for b in sess.view.blocks] == ["b2", "b1"]
    assert 'data-act="redo" class="history-redo" disabled' in page(sess.view)["head"]


def test_the_delete_notice_points_at_the_one_undo(studio: Studio) -> None:
    sess = written(studio)
    view = perform(sess, {"act": "delete", "block": "b1"})
    assert view.notice.startswith("Deleted a block") and "Ctrl+Z" in view.notice
    assert view.undo_label == 'delete paragraph "Intro."'
    view = perform(sess, {"act": "undo", "block": "b1"})  # sent from the notice's block: shown there
    assert [b.id for b in view.blocks] == ["b1", "b2"]
    assert view.block("b1").notice == 'Undone: delete paragraph "Intro.".'


def test_two_tabs_share_the_article_history(studio: Studio) -> None:
    one = written(studio)
    two = Session(studio)
    two.open_article(one.article_id)  # type: ignore[arg-type]
    perform(one, {"act": "edit_text", "block": "b1", "text": "Tab one's intro."})
    perform(two, {"act": "edit_text", "block": "b1", "text": "Tab two's intro."})
    view = perform(one, {"act": "undo"})  # the newest change to the article is tab two's
    assert view.block("b1").text.strip() == "Tab one's intro."
    two.reload()
    assert (
        two.view.redo_label == 'text edit of paragraph "Tab one\'s intro."'
        and two.view.block("b1").text.strip() == "Tab one's intro."
    )
