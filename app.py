"""``python app.py``: serve the studio UI (the same as ``llmi-studio serve``)."""

from __future__ import annotations

from studio.app.serve import serve

if __name__ == "__main__":
    raise SystemExit(serve())
