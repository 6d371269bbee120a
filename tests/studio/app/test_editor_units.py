"""Uploads checked with Pillow, the call editor's form per tool, and card actions that fail
leave their reason on the block (no exception reaches the UI)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from studio.app import uploads
from studio.app.actions import mark_busy, perform
from studio.app.call_form import edit_choices, form_for, params_for
from studio.app.session import Session
from studio.app.ui_model import ArticleView, BlockView
from studio.app.uploads import UploadRefused, check_image, read_upload
from studio.core.agent import Brief
from tests.render_studio import render_studio


def image(fmt: str = "PNG", size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "red").save(buf, fmt)
    return buf.getvalue()


def test_uploads_are_decoded_and_refused_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_image(image("PNG")) == "image/png" and check_image(image("JPEG")) == "image/jpeg"
    with pytest.raises(UploadRefused, match="not an image Pillow can read"):
        check_image(b"I am text in a file called fake.png", "fake.png")
    with pytest.raises(UploadRefused, match="not an image"):
        check_image(image("PNG")[:60], "cut.png")  # truncated: the header alone does not pass
    with pytest.raises(UploadRefused, match="BMP"):
        check_image(image("BMP"), "x.bmp")
    monkeypatch.setattr(uploads, "MAX_PIXELS", 100)
    with pytest.raises(UploadRefused, match="pixels"):
        check_image(image("PNG", (20, 20)))
    monkeypatch.setattr(uploads, "MAX_BYTES", 10)
    with pytest.raises(UploadRefused, match="MB"):
        check_image(image("PNG"))
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(image())
    with pytest.raises(UploadRefused, match="not uploaded to this studio"):
        read_upload(outside, (tmp_path / "uploads",))


def test_the_call_form_prefills_another_tool_from_the_description() -> None:
    view = ArticleView(user_images=[b"u"])
    first = BlockView("b1", "image", image_index=1, source="code", description="Bars", params={"code": "x"})
    chart = BlockView("b2", "image", image_index=2, source="code", description="Sales by year", params={"code": "y"})
    view.blocks += [first, chart]
    own = form_for(chart, None, ["code", "search"], view)
    assert (own.tool, own.code, own.shown("code"), own.shown("query")) == ("code", "y", True, False)
    other = form_for(chart, "search", ["code", "search"], view)
    assert (other.query, other.code, other.shown("query")) == ("Sales by year", "", True)
    assert other.description == "Sales by year"  # no chart word: nothing to re-derive
    # its own tool is off: the form still opens on it (no silent switch to a tool that is on)
    assert form_for(chart, None, ["search"], view).tool == "code"
    photo = BlockView("b3", "image", image_index=3, source="search", description="Peggys Point Lighthouse",
                      status="placeholder", params={"query": "Peggys Point Lighthouse"})  # fmt: skip
    view.blocks.append(photo)
    assert form_for(photo, None, ["code"], view).tool == "search"
    switched = form_for(photo, "code", ["code"], view)  # the user picks the chart: re-captioned for a chart
    assert switched.description == "Chart: Peggys Point Lighthouse"
    assert [i for _, i in edit_choices(view, chart)] == [0, 1]  # only images before it
    assert params_for("edit", "", "bluer", "", "1") == {"img_index": 1, "prompt": "bluer"}
    with pytest.raises(ValueError, match="choose the image"):
        params_for("edit", "", "bluer", "", None)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    studio = render_studio(tmp_path_factory.mktemp("acts"))
    sess = Session(studio)
    response = (
        "Intro.\n\n<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \"plt.bar([1], [2])\"}}</imgen>"
    )
    for _ in sess.generate(Brief("bars"), response=response):
        pass
    yield sess
    studio.close()


def test_a_refused_action_leaves_its_reason_on_its_block(session: Session) -> None:
    view = perform(session, {"act": "edit_text", "block": "b1", "text": "   "})
    assert view.block("b1").notice_error and "empty" in view.block("b1").notice
    view = perform(session, {"act": "move", "block": "b1", "offset": -1})
    notice = view.block("b1").notice
    assert "already the first" in notice and notice.startswith('Paragraph "') and "b1" not in notice  # named, no id
    view = perform(session, {"act": "upload", "block": "b2", "path": "/etc/passwd"})
    assert "not uploaded to this studio" in view.block("b2").notice
    view = perform(session, {"act": "nonsense", "block": "b2"})
    assert "Unknown action" in view.block("b2").notice
    assert mark_busy(session.view, {"act": "regenerate", "block": "b2"}) and session.view.block("b2").busy
    assert not mark_busy(session.view, {"act": "move", "block": "b2"})
    view = perform(session, {"act": "regenerate", "block": "b2"})
    assert not view.block("b2").busy and "Version 2 is shown" in view.block("b2").notice
    view = perform(session, {"act": "delete", "block": "b1"})
    assert view.undo_block == "b1" and [b.id for b in view.blocks] == ["b2"]
    view = perform(session, {"act": "restore", "block": "b1"})
    assert [b.id for b in view.blocks] == ["b1", "b2"]
