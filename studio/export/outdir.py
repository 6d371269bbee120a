"""An article on disk: DIR/article.json, DIR/images/<block>.<ext>, DIR/article.html.

The JSON is the product's interchange shape: ``{"blocks": [{"id", "kind": "text"|"image", ...}]}``
where image blocks carry source, description, params, status, error, provenance and the
relative path of their image (see studio.export.load for the reader).
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.article import Article
from studio.export import write_html

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def save_article_dir(article: Article, out_dir: Path, writer: dict[str, str | None] | None = None) -> dict[str, Path]:
    """Write the article's JSON, images and self-contained HTML; returns their paths.
    ``writer``: who wrote it ({written_by, backend, model}: facts, never a local path), kept in
    the JSON under "writer"."""
    out_dir = Path(out_dir)
    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for block in article.image_blocks():
        if block.image is None:
            continue
        ext = EXTENSIONS.get(block.mime, "bin")
        (images_dir / f"{block.id}.{ext}").write_bytes(block.image)
        paths[block.id] = f"images/{block.id}.{ext}"
    json_path = out_dir / "article.json"
    data = article.to_dict(paths) | ({"writer": writer} if writer else {})
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    html_path = out_dir / "article.html"
    write_html(article, html_path)
    return {"json": json_path, "html": html_path, "images": images_dir}
