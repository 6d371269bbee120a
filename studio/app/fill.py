"""Fill an image block with the user's own image: how a placeholder (a call whose tool was off)
gets its picture without running the tool. The call (source, description, params) is kept, so
the block can still be run later once the tool is on."""

from __future__ import annotations

from storage import repo
from storage.db import Store
from studio.core.article import Article, ImageBlock
from studio.export.sources import sniff_mime

MAX_UPLOAD_BYTES = 20 * 2**20  # one image filled into a block


def fill_with_upload(
    store: Store, article_id: int, article: Article, block_id: str, data: bytes, *, name: str = ""
) -> None:
    """A new current version of the block: status ok, the uploaded image, provenance ``uploaded``.
    Raises ValueError for a text block or bytes that are not a raster image."""
    block = article.block(block_id)
    if not isinstance(block, ImageBlock):
        raise ValueError(f"block {block_id} is a text block: rewrite it instead")
    mime = sniff_mime(data)
    if mime is None:
        raise ValueError("the upload is not a PNG, JPEG, WebP or GIF image: choose an image file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB: choose a smaller image")
    repo.add_image_version(
        store,
        article_id,
        block_id,
        source=block.source or "search",
        description=block.description,
        params=block.params,
        status="ok",
        image=data,
        mime=mime,
        provenance={"uploaded": True, "file": " ".join(name.split())[:200], "filled": block.status},
        instruction="uploaded by the user",
    )
