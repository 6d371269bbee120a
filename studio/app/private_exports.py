"""Exports and preference archives in private folders that only their owner can download.

Gradio serves a handler's file from its upload folder (``GRADIO_TEMP_DIR``, default
``/tmp/gradio``) to any logged-in client that names the path, and copies a file from elsewhere
into it as 0644 in a 0755 folder. An export is therefore written straight into
``<upload folder>/llmi-exports/<owner tag>-<random>/`` (folders 0700, files 0600: no other
local account reads it; Gradio leaves a file already in its folder where it is). The owner tag
in the folder's name lets ``ui_doors`` answer "not found" to every other user in every app
process. Folders older than ``EXPORT_LIFETIME_S`` are deleted when the next export is made.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import time
from pathlib import Path

EXPORT_LIFETIME_S = 900.0
FOLDER = "llmi-exports"


def export_root() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()) / FOLDER


def owner_tag(user: str) -> str:
    return hashlib.sha256(user.encode("utf-8")).hexdigest()[:16]


def private_export_dir(user: str) -> Path:
    """A new folder only ``user`` can download from (0700, under a 0700 root)."""
    root = export_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    sweep(root)
    folder = root / f"{owner_tag(user)}-{secrets.token_hex(8)}"
    folder.mkdir(mode=0o700)
    return folder


def seal(folder: Path) -> None:
    """Folders 0700 and files 0600 below ``folder`` (what an exporter wrote with the umask)."""
    os.chmod(folder, 0o700)
    for here, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(Path(here) / name, 0o700)
        for name in files:
            os.chmod(Path(here) / name, 0o600)


def sweep(root: Path, lifetime_s: float = EXPORT_LIFETIME_S) -> None:
    cutoff = time.time() - lifetime_s
    for entry in root.iterdir():
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue  # another process swept it first


def may_read_export(path: str, user: str) -> bool:
    """False for a file in another user's export folder; True for everything else (Gradio's own
    checks decide the rest)."""
    root = str(export_root().resolve())
    resolved = os.path.realpath(os.path.abspath(path))
    if resolved != root and not resolved.startswith(root + os.sep):
        return True
    first = resolved[len(root) + 1 :].split(os.sep, 1)[0]
    return bool(first) and first.split("-", 1)[0] == owner_tag(user) and "-" in first
