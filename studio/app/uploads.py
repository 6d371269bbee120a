"""User images (brief uploads, a card's own image): decoded with Pillow, refused with a reason.

A file is accepted only when Pillow decodes it fully as PNG, JPEG, GIF or WebP within the caps;
the name and the declared type are never trusted (a text file named ``fake.png`` is refused).
"""

from __future__ import annotations

import io
from pathlib import Path

from models.errors import StudioError

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


class UploadRefused(StudioError):
    """An uploaded file that is not an image the studio can use; the message says why."""


def check_image(data: bytes, name: str = "the file") -> str:
    """The image's MIME type, or UploadRefused saying what is wrong and what to do."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise UploadRefused(f"{name} is empty: choose a PNG, JPEG, GIF or WebP image")
    if len(data) > MAX_BYTES:
        raise UploadRefused(
            f"{name} is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB: save it smaller and try again"
        )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise UploadRefused(
                    f"{name} is {width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels: "
                    "scale it down"
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as full:
            full.load()  # verify() checks structure; load() decodes the pixels (truncated files fail here)
    except UploadRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UploadRefused(
            f"{name} is not an image Pillow can read ({type(exc).__name__}): choose a PNG, JPEG, GIF or WebP image"
        ) from exc
    if fmt not in FORMATS:
        raise UploadRefused(f"{name} is a {fmt or 'unknown'} image; use PNG, JPEG, GIF or WebP")
    return FORMATS[fmt]


def read_upload(path: str | Path, allowed_roots: tuple[Path, ...]) -> tuple[bytes, str]:
    """The bytes and MIME of an uploaded file that lies under one of ``allowed_roots`` (the
    server's upload folders: a client may not name any other file)."""
    resolved = Path(path).resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in allowed_roots):
        raise UploadRefused("that file was not uploaded to this studio: upload it again")
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise UploadRefused(f"the upload is gone ({exc.strerror}): upload it again") from exc
    return data, check_image(data, repr(resolved.name[-80:]))
