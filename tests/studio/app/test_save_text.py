"""Typing in place, the server side: the editor's autosave (``save_text``) against a real SQLite
store in render mode, the page value the <studio-text> elements read, and the bundle's route and
fallback (the browser half is tests/ui/test_type_in_place.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.errors import Refused
from storage import repo
from storage.pref_rows import preference_rows
from storage.prefs import list_preference_events
from studio.app import editor_bundle
from studio.app.actions import mark_busy, perform
from studio.app.card_actions import API_MODELS, SaveText, parse_action
from studio.app.session import Session
from studio.app.ui_model import ArticleView, BlockView
from studio.app.ui_page import page
from studio.core.agent import Brief
from tests.render_studio import render_studio

RESPONSE = "# Bikes\n\nBike lanes make riders safer.\n\nThe end."


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    studio = render_studio(tmp_path)
    sess = Session(studio)
    for _ in sess.generate(Brief("bikes"), response=RESPONSE):
        pass
    yield sess
    studio.close()


def stored(sess: Session) -> tuple[str, int]:
    assert sess.article_id is not None
    block = repo.open_article(sess.store, sess.article_id).block("b1")
    return block.current.text, len(repo.list_versions(sess.store, sess.article_id, "b1"))


def test_each_autosave_is_a_version_and_the_same_text_again_is_no_new_one(session: Session) -> None:
    text, versions = stored(session)
    assert text.strip() == RESPONSE and versions == 1
    typed = "# Bikes\n\nBike lanes make riders **much** safer.\n\n## Lanes\n\n- paint\n- kerbs\n\nThe end."
    view = perform(session, {"act": "save_text", "block": "b1", "text": typed})
    assert not view.block("b1").notice  # the indicator says "Saved": no notice under the block
    text, versions = stored(session)
    assert text.strip() == typed and versions == 2
    assert text.endswith("\n\n")  # the block keeps its own separation from the next one
    perform(session, {"act": "save_text", "block": "b1", "text": typed + "\n"})  # a save racing a reload
    assert stored(session)[1] == 2
    assert not session.view.block("b1").notice_error
    # each save is the user's own edit: chosen over the text it replaced (the preference log)
    origins = [v.origin for v in repo.list_versions(session.store, session.article_id or 0, "b1")]
    assert origins[-1] == "edit"


def test_a_refused_save_leaves_its_reason_on_the_block_and_keeps_the_text(session: Session) -> None:
    view = perform(session, {"act": "save_text", "block": "b1", "text": "  \n "})
    assert view.block("b1").notice_error and "empty" in view.block("b1").notice
    assert stored(session)[0].strip() == RESPONSE and stored(session)[1] == 1  # nothing lost, no version
    data = page(session.view, editor="/studio-editor/editor.js?v=x")
    assert "empty" in data["blocks"][0]["error"]  # the editor shows "Not saved: ..." from this
    view = perform(session, {"act": "save_text", "block": "b9", "text": "x"})
    assert view.notice_error and "b9" in view.notice


def test_save_text_is_a_typed_action_and_a_named_endpoint() -> None:
    action = parse_action({"act": "save_text", "block": "b1", "text": "Hello"})
    assert isinstance(action, SaveText) and action.text == "Hello"
    assert SaveText in API_MODELS  # /save_text, like every card action
    assert not mark_busy(ArticleView(blocks=[BlockView("b1", "text", text="x")]), action)  # no busy flicker
    with pytest.raises(Refused, match="text"):
        parse_action({"act": "save_text", "block": "b1", "text": "x" * 100_001})


def test_a_save_for_an_article_no_longer_open_goes_to_that_article(session: Session) -> None:
    first = session.article_id or 0
    for _ in session.generate(Brief("trains"), response="# Trains\n\nTrains are quick."):
        pass
    second = session.article_id or 0
    assert second != first
    # typed in the first article just before the tab opened the second: stored where it was typed
    view = perform(session, {"act": "save_text", "block": "b1", "article": first, "text": "# Bikes\n\nTyped late."})
    assert not view.block("b1").notice_error
    assert repo.open_article(session.store, first).block("b1").current.text.strip() == "# Bikes\n\nTyped late."
    assert repo.open_article(session.store, second).block("b1").current.text.strip() == "# Trains\n\nTrains are quick."
    assert view.block("b1").text.strip() == "# Trains\n\nTrains are quick."  # the open article is untouched
    view = perform(session, {"act": "save_text", "block": "b1", "article": first + 999, "text": "x"})
    assert view.block("b1").notice_error and "not found" in view.block("b1").notice


def test_saving_while_the_article_is_written_is_refused(session: Session) -> None:
    session.view.elsewhere = True
    view = perform(session, {"act": "save_text", "block": "b1", "text": "Other"})
    assert view.block("b1").notice_error and "still being written" in view.block("b1").notice


def test_the_page_gives_each_editable_text_block_its_markdown_escaped(session: Session) -> None:
    hostile = 'Say "hi" <script>x()</script> & <img src=x onerror=y()>'
    perform(session, {"act": "save_text", "block": "b1", "text": hostile})
    data = page(session.view, editor="/studio-editor/editor.js?v=abc")
    block = data["blocks"][0]
    assert data["editor"] == "/studio-editor/editor.js?v=abc"
    assert block["body"] == [] and "<script>" not in block["md"] and '"' not in block["md"]
    assert block["md"] == "Say &#34;hi&#34; &lt;script&gt;x()&lt;/script&gt; &amp; &lt;img src=x onerror=y()&gt;"
    assert "Edit as Markdown" in block["tools"]
    off = page(session.view, editor="")
    assert off["editor"] == "" and "md" not in off["blocks"][0] and "Typing in place is off" in off["head"]
    assert ">Edit<" in off["blocks"][0]["tools"]
    session.view.elsewhere = True  # followed from another tab: nothing to type into
    followed = page(session.view, editor="/studio-editor/editor.js?v=abc")
    assert followed["editor"] == "" and "md" not in followed["blocks"][0]


def test_the_bundle_url_follows_its_content_and_is_none_when_not_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "editor.js"
    monkeypatch.setattr(editor_bundle, "bundle_path", lambda: bundle)
    assert editor_bundle.editor_url() is None
    bundle.write_text("export const a = 1;\n")
    first = editor_bundle.editor_url()
    assert first is not None and first.startswith(editor_bundle.EDITOR_ROUTE + "?v=")
    bundle.write_text("export const a = 22;\n")
    assert editor_bundle.editor_url() not in (None, first)


def test_autosaves_of_one_burst_are_one_version_one_undo_step_and_one_pair(session: Session) -> None:
    aid = session.article_id or 0
    for typed in ("# Bikes\n\nBike lanes", "# Bikes\n\nBike lanes help", "# Bikes\n\nBike lanes help riders."):
        view = perform(session, {"act": "save_text", "block": "b1", "text": typed})
        assert not view.block("b1").notice_error
    assert stored(session) == ("# Bikes\n\nBike lanes help riders.\n\n", 2)  # STUDIO_TYPING_MERGE_S=60
    assert [s.label for s in repo.list_steps(session.store, aid)] == ['text edit of heading "Bikes"']
    rows = preference_rows(list_preference_events(session.store))[0]
    assert [(r["rejected_text"].strip(), r["chosen_text"].strip()) for r in rows] == [
        (RESPONSE, "# Bikes\n\nBike lanes help riders.")
    ]
    # the Markdown form's Save is an explicit edit: a step of its own, never merged into the burst
    perform(session, {"act": "edit_text", "block": "b1", "text": "# Bikes\n\nEdited by hand."})
    perform(session, {"act": "save_text", "block": "b1", "text": "# Bikes\n\nEdited by hand, typed on."})
    assert len(repo.list_steps(session.store, aid)) == 3 and stored(session)[1] == 4
    session.undo()
    session.undo()
    assert stored(session)[0].strip() == "# Bikes\n\nBike lanes help riders."
    session.undo()  # the whole burst at once: back to the text before it
    assert stored(session)[0].strip() == RESPONSE


def test_typing_merge_zero_keeps_a_version_and_a_step_per_autosave(tmp_path: Path) -> None:
    studio = render_studio(tmp_path, typing_merge_s=0)
    try:
        sess = Session(studio)
        for _ in sess.generate(Brief("bikes"), response=RESPONSE):
            pass
        for typed in ("# Bikes\n\nOne", "# Bikes\n\nOne two", "# Bikes\n\nOne two three"):
            perform(sess, {"act": "save_text", "block": "b1", "text": typed})
        assert stored(sess)[1] == 4 and len(repo.list_steps(sess.store, sess.article_id or 0)) == 3
        assert len(preference_rows(list_preference_events(sess.store))[0]) == 3
    finally:
        studio.close()
