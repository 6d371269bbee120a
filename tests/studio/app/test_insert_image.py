"""Images anywhere: the writer's own picture (a file or an image URL) inserted between two blocks,
stored as an image block credited to the author, and checked like today's uploads.

A real SQLite store, the real chart sandbox (render mode), a real HTTP server on 127.0.0.1 for
image URLs and the real safe downloader with its address policy.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from models.errors import StudioError
from storage import repo
from storage.prefs import list_preference_events
from studio.app.actions import apply, perform
from studio.app.card_actions import ActionRefused, parse_action
from studio.app.session import Session
from studio.core.agent import Brief
from tests.httpserver import LocalServer
from tests.render_studio import png, render_studio

RESPONSE = (
    "# Lenses\n\nGlass bends light.\n\n"
    "<imgen>{'source': 'code', 'description': 'Focal lengths', 'params': {'code': \"plt.bar(['a'], [2])\"}}</imgen>"
    "\n\nA second paragraph.\n\nThe end."
)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    root.mkdir()
    return root


def written(tmp_path: Path, **extra: object) -> Session:
    studio = render_studio(tmp_path / "data", **extra)
    sess = Session(studio)
    for _ in sess.generate(Brief("lenses"), response=RESPONSE):
        pass
    return sess


def markdown(sess: Session, out: Path) -> str:
    """The exported article.md (the Markdown export is a zip with its images)."""
    with zipfile.ZipFile(sess.export("md", out)) as zf:
        return zf.read("article.md").decode()


def keys(sess: Session) -> list[str]:
    return [b.id for b in sess.view.blocks]


def test_a_file_goes_between_two_paragraphs_credited_to_the_author(tmp_path: Path, uploads: Path) -> None:
    sess = written(tmp_path)
    try:
        assert keys(sess) == ["b1", "b2", "b3"]  # text, chart, text
        photo = uploads / "my lens.png"
        photo.write_bytes(png("orange", (64, 48)))
        message = apply(sess, parse_action({"act": "insert_image", "block": "b1", "path": str(photo)}), (uploads,))
        assert message == ""
        assert keys(sess) == ["b1", "b4", "b2", "b3"]
        new = sess.view.block("b4")
        assert new.notice == "Inserted your image." and new.status == "ok" and new.description == "my lens"
        info = repo.open_article(sess.store, sess.article_id)
        stored = info.block("b4")
        assert stored.kind == "image" and stored.current.provenance["origin"] == "upload"
        assert stored.current.provenance["uploaded"] == "my lens.png"
        assert sess.store.assets.read(stored.current.asset.sha256) == photo.read_bytes()
        # its image index is past the chart's, so the model's edits keep their targets
        assert stored.image_index is not None and stored.image_index > info.block("b2").image_index
        # survives a reload, and every export credits the author
        sess.reload()
        assert keys(sess) == ["b1", "b4", "b2", "b3"]
        md = markdown(sess, tmp_path / "out")
        assert "Image: supplied by the author" in md and md.index("my lens") < md.index("Focal lengths")
        html = sess.export("html", tmp_path / "out").read_text()
        assert "Image: supplied by the author" in html
        # at the very start too
        apply(sess, parse_action({"act": "insert_image", "block": "start", "path": str(photo)}), (uploads,))
        assert keys(sess)[0] == "b5"
    finally:
        sess.studio.close()


def test_bad_files_are_refused_and_nothing_is_lost(tmp_path: Path, uploads: Path) -> None:
    sess = written(tmp_path)
    try:
        fake = uploads / "fake.png"
        fake.write_text("I am text in a file called fake.png")
        perform(sess, {"act": "insert_image", "block": "b1", "path": str(fake)}, (uploads,))
        assert "not an image Pillow can read" in sess.view.block("b1").notice and sess.view.block("b1").notice_error
        outside = tmp_path / "elsewhere.png"
        outside.write_bytes(png("red"))
        with pytest.raises(StudioError, match="not uploaded to this studio"):
            apply(sess, parse_action({"act": "insert_image", "block": "b1", "path": str(outside)}), (uploads,))
        with pytest.raises(ActionRefused, match="either an image file"):
            parse_action({"act": "insert_image", "block": "b1"})
        with pytest.raises(ActionRefused, match="not both"):
            parse_action({"act": "insert_image", "block": "b1", "path": "x", "url": "http://a/b.png"})
        good = uploads / "good.png"
        good.write_bytes(png("blue"))
        with pytest.raises(StudioError, match="not found"):
            apply(sess, parse_action({"act": "insert_image", "block": "b99", "path": str(good)}), (uploads,))
        assert keys(sess) == ["b1", "b2", "b3"]
        assert len(repo.open_article(sess.store, sess.article_id).blocks) == 3
    finally:
        sess.studio.close()


def gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (40, 30), 3).save(buf, "GIF")
    return buf.getvalue()


@pytest.fixture
def images() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        srv.route("/pics/harbour.gif", body=gif(), headers={"Content-Type": "image/gif"})
        srv.route("/page.html", body=b"<html>not a picture</html>", headers={"Content-Type": "text/html"})
        yield srv


def test_an_image_url_goes_through_the_safe_downloader(tmp_path: Path, images: LocalServer) -> None:
    url = images.url("/pics/harbour.gif")
    host = url.split("/")[2]
    refused = written(tmp_path / "a")  # the default policy: a loopback address is never fetched
    try:
        with pytest.raises(StudioError, match="could not be used"):
            apply(refused, parse_action({"act": "insert_image", "block": "b1", "url": url}))
        assert images.requests == []  # refused before any request left
    finally:
        refused.studio.close()
    sess = written(tmp_path / "b", download_allowed_hosts=[host])  # STUDIO_DOWNLOAD_ALLOWED_HOSTS
    try:
        apply(sess, parse_action({"act": "insert_image", "block": "b3", "url": url, "caption": "The harbour"}))
        assert keys(sess) == ["b1", "b2", "b3", "b4"]
        stored = repo.open_article(sess.store, sess.article_id).block("b4")
        assert stored.current.provenance["origin"] == "url" and stored.current.provenance["url"] == url
        assert stored.current.description == "The harbour" and stored.current.asset.mime == "image/gif"
        md = markdown(sess, tmp_path / "out")
        assert f"[{host}](<{url}>)" in md  # credited to where the picture came from
        with pytest.raises(StudioError, match="could not be used"):
            apply(sess, parse_action({"act": "insert_image", "block": "b1", "url": images.url("/page.html")}))
        with pytest.raises(StudioError, match="could not be used"):
            apply(sess, parse_action({"act": "insert_image", "block": "b1", "url": "file:///etc/passwd"}))
        assert len(repo.open_article(sess.store, sess.article_id).blocks) == 4
    finally:
        sess.studio.close()


def test_a_picture_between_two_paragraphs_of_one_block_splits_it(tmp_path: Path, uploads: Path) -> None:
    sess = written(tmp_path)
    try:
        photo = uploads / "glass.png"
        photo.write_bytes(png("teal"))
        before = sess.view.block("b1").text
        assert before.count("\n\n") >= 2  # "# Lenses" and "Glass bends light." are one block
        apply(sess, parse_action({"act": "insert_image", "block": "b1", "paragraph": "1", "path": str(photo)}),
              (uploads,))  # fmt: skip
        assert keys(sess) == ["b1", "b4", "b5", "b2", "b3"]
        assert sess.view.block("b1").text.strip() == "# Lenses"
        assert sess.view.block("b5").text.strip() == "Glass bends light."
        info = repo.open_article(sess.store, sess.article_id)
        assert info.block("b1").current.origin == "split" and info.block("b1").version_count == 2
        # nothing of the writer's text is lost, and the split is no preference
        assert info.llmi_text().index("# Lenses") < info.llmi_text().index("Glass bends light.")
        assert list_preference_events(sess.store, kind="rewrite") == []
        # after the last paragraph is simply after the block; an image block is never split
        apply(sess, parse_action({"act": "insert_image", "block": "b5", "paragraph": 9, "path": str(photo)}),
              (uploads,))  # fmt: skip
        assert keys(sess) == ["b1", "b4", "b5", "b6", "b2", "b3"] and sess.view.block("b5").text.strip()
    finally:
        sess.studio.close()
