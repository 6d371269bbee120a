"""Images anywhere: the writer's own picture (a pasted or dropped file, or an image URL) inserted
as a new image block between two blocks. No gradio here; ``actions.apply`` runs it for the
page's ``insert_image`` action and the ``/insert_image`` API endpoint alike.

The checks are today's: a file must lie in the server's upload folders and decode fully with
Pillow as PNG, JPEG, GIF or WebP within the caps (``uploads.read_upload``); a URL goes through the
search's safe downloader (``services.url_image_fetcher``: http(s) only, no private addresses
unless allowed, size, pixel and time limits) and then through the same Pillow check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from models.errors import Refused
from storage import repo
from studio.app.card_actions import InsertImage
from studio.app.services import url_image_fetcher
from studio.app.ui_page import paragraphs
from studio.app.uploads import UploadRefused, check_image, read_upload
from studio.core.article import TextBlock
from tools.download import DownloadError

if TYPE_CHECKING:
    from studio.app.session import Session


def _without_credentials(url: str) -> str:
    """The URL as credits and exports show it: never a ``user:password@``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def fetch_url_image(sess: Session, url: str) -> tuple[bytes, str, str]:
    """The bytes, MIME and credited URL of the picture at ``url``, or UploadRefused saying why."""
    fetch = url_image_fetcher(sess.studio.settings)
    try:
        got = fetch(url.strip())
    except DownloadError as exc:
        raise UploadRefused(f"the image at that URL could not be used: {exc.reason}; "
                            "check the address, or save the picture and drop the file instead") from exc  # fmt: skip
    shown = _without_credentials(got.final_url)
    return got.data, check_image(got.data, "the image at that URL"), shown


def split_at(sess: Session, block_id: str | None, paragraph: int | None) -> tuple[str, str] | None:
    """The two texts a text block is cut into so a picture goes after its ``paragraph`` N (its
    paragraphs as the page shows them, ``ui_page.paragraphs``); None: after the whole block."""
    if block_id is None or paragraph is None or sess.article is None:
        return None
    block = sess.article.block(block_id)
    if not isinstance(block, TextBlock):
        return None  # an image block has no paragraphs: the picture goes after it
    pieces = paragraphs(block.text)
    if paragraph >= len(pieces):
        return None  # after the last paragraph is after the block
    return "\n\n".join(pieces[:paragraph]) + "\n\n", "\n\n".join(pieces[paragraph:]) + "\n\n"


def insert_image(sess: Session, action: InsertImage, upload_roots: tuple[Path, ...]) -> str:
    """Insert the action's picture after ``action.block``; the new block's key."""
    article_id, _ = sess._article()  # refuses while the article is being written
    if action.path:
        data, mime = read_upload(action.path, upload_roots)
        name = action.name or Path(action.path).name
        provenance = {"origin": "upload", "uploaded": name[:200]}
        caption = action.caption.strip() or Path(name).stem[:200]
    elif action.url:
        data, mime, shown = fetch_url_image(sess, action.url)
        provenance = {"origin": "url", "url": shown}
        caption = action.caption.strip() or Path(urlsplit(shown).path).stem[:200] or "image"
    else:  # the model's validator already asks for one; kept for callers that build the model by hand
        raise Refused("insert_image needs an image: drop or paste a file, or give an image URL")
    provenance |= {"alt": action.alt.strip() or caption, "inserted_by": sess.user}
    after = None if action.block == InsertImage.START else action.block
    split = split_at(sess, after, action.paragraph)
    key = repo.insert_own_image(sess.store, article_id, after, image=data, mime=mime, description=caption,
                                  provenance=provenance, split=split, owner=sess.user)  # fmt: skip
    sess.reload()
    return key
