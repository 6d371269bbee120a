"""An article on disk: DIR/article.json, DIR/images/<block>.<ext>, DIR/article.html.

The JSON is the product's interchange shape: ``{"blocks": [{"id", "kind": "text"|"image", ...}]}``
where image blocks carry source, description, params, status, error, provenance and the
relative path of their image (see studio.export.load for the reader).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from models.text import valid_strings
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
    # valid text first, then the whole document, then one rename: an unencodable character can
    # never leave a truncated (0-byte) article.json behind
    text = json.dumps(valid_strings(data), indent=2, ensure_ascii=False)
    partial = json_path.with_name(".article.json.partial")
    partial.write_bytes(text.encode("utf-8"))
    os.replace(partial, json_path)
    html_path = out_dir / "article.html"
    write_html(article, html_path)
    return {"json": json_path, "html": html_path, "images": images_dir}
