"""Binary assets (generated images, user uploads) stored as files named by their content hash.

Why files and not BLOBs: on this kind of machine writing images as files was measured 3-5x
faster than BLOB rows, and the database stays small, so its WAL checkpoints and backups stay
cheap. The layout is ``<root>/ab/cdef...`` (the first two hex digits of the SHA-256 as a
folder), so no folder grows huge.

Writes are crash-safe and deduplicated: the bytes go to a temporary file in the target
folder, are flushed to disk, then renamed into place (a rename within one file system is
atomic). A file that already exists under its hash is never rewritten. The store writes the
asset *before* committing the database row that references it, so after a crash the
database never points at a missing file (at worst an orphan file is left behind).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from models.errors import StorageError

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AssetStore:
    """Content-addressed files under ``root``; safe to share between threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the asset with this hash lives (whether or not it exists)."""
        if not _SHA_RE.match(sha256):
            # Hashes come from our own rows, but a path built from a bad one could escape root.
            raise StorageError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256 hex digest."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            # Two writers of the same bytes may race here; both renames leave identical content.
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"cannot write asset to {target.parent}: {exc}") from exc
        return digest

    def read(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"asset {sha256} is missing from {self.root}") from exc

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()
