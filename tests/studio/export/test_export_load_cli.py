"""Loading an article directory (untrusted input) and the `export` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest

from studio.app.export_cli import main
from studio.core.article import ImageBlock, TextBlock
from studio.core.errors import StorageError
from studio.export.load import load_article_dir
from studio.export.outdir import save_article_dir
from tests.studio.export.test_export_html import plain_article

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def article_dir(tmp_path: Path) -> Path:
    out = tmp_path / "art"
    save_article_dir(plain_article(), out)  # the CLI's own writer
    return out


def _edit_manifest(directory: Path, block_id: str, **changes: object) -> None:
    manifest = directory / "article.json"
    data = json.loads(manifest.read_text())
    for block in data["blocks"]:
        if block["id"] == block_id:
            block.update(changes)
    manifest.write_text(json.dumps(data))


def test_round_trip_through_the_cli_writer(article_dir: Path) -> None:
    original = plain_article()
    loaded = load_article_dir(article_dir)
    assert loaded.brief == original.brief
    assert [(b.id, b.kind) for b in loaded.blocks] == [(b.id, b.kind) for b in original.blocks]
    for got, want in zip(loaded.blocks, original.blocks, strict=True):
        if isinstance(want, TextBlock):
            assert got.text == want.text
        else:
            assert isinstance(got, ImageBlock)
            assert (got.source, got.description, got.params, got.status, got.error, got.provenance) == (
                want.source, want.description, want.params, want.status, want.error, want.provenance,
            )  # fmt: skip
            assert (got.image, got.mime if got.image else None) == (want.image, want.mime if want.image else None)
    assert loaded.new_id() == "b8"  # new blocks do not reuse stored ids


@pytest.mark.parametrize("bad_path", ["../secret.png", "/etc/passwd", "images/../../secret.png", "C:/x.png", ""])
def test_image_paths_must_stay_inside_the_directory(article_dir: Path, bad_path: str) -> None:
    (article_dir.parent / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    _edit_manifest(article_dir, "b2", image=bad_path, image_sha256=None)
    with pytest.raises(StorageError, match="b2"):
        load_article_dir(article_dir)


def test_symlink_out_of_the_directory_is_refused(article_dir: Path) -> None:
    secret = article_dir.parent / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    (article_dir / "images" / "b2.png").unlink()
    os.symlink(secret, article_dir / "images" / "b2.png")
    with pytest.raises(StorageError, match="outside the directory"):
        load_article_dir(article_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_sha256": "0" * 64}, "sha256"),
        ({"id": "../../evil"}, "unsafe block id"),
        ({"id": "b1"}, "appears twice"),
        ({"status": "pwned"}, "unknown status"),
        ({"kind": "video"}, "unknown kind"),
        ({"image": "images/missing.png"}, "missing"),
    ],
)
def test_broken_manifests_say_what_is_wrong(article_dir: Path, change: dict[str, object], message: str) -> None:
    _edit_manifest(article_dir, "b2", **change)
    with pytest.raises(StorageError, match=message):
        load_article_dir(article_dir)


def test_not_an_article_directory(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no article.json"):
        load_article_dir(tmp_path)
    (tmp_path / "article.json").write_text("{not json")
    with pytest.raises(StorageError, match="not valid JSON"):
        load_article_dir(tmp_path)
    (tmp_path / "article.json").write_text("[]")
    with pytest.raises(StorageError, match="'blocks' list"):
        load_article_dir(tmp_path)


def test_cli_exports_every_format(article_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = {}
    for fmt, name in (("html", "a.html"), ("pdf", "a.pdf"), ("md", "a.zip"), ("docx", "a.docx")):
        out = tmp_path / "exports" / name
        assert main([str(article_dir), "--format", fmt, "--out", str(out)]) == 0
        assert capsys.readouterr().out.strip() == str(out)
        outputs[fmt] = out
    assert "Figure 1. Harbour at low tide" in outputs["html"].read_text()
    assert outputs["pdf"].read_bytes().startswith(b"%PDF-")
    assert "images/b2.png" in zipfile.ZipFile(outputs["md"]).namelist()
    assert len(docx.Document(str(outputs["docx"])).inline_shapes) == 3
    # Default output next to the article; --no-appendix and --title are honoured.
    assert main([str(article_dir), "--no-appendix", "--title", "Tides"]) == 0
    default = article_dir / "article.html"
    assert capsys.readouterr().out.strip() == str(default)
    page = default.read_text()
    assert "<title>Tides</title>" in page and 'class="appendix"' not in page


def test_cli_failure_is_a_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--format", "md"]) == 2
    assert "not an article directory" in capsys.readouterr().err


def test_python_m_studio_export(article_dir: Path, tmp_path: Path) -> None:
    """The wired command, as a user runs it."""
    out = tmp_path / "cmd.html"
    done = subprocess.run(
        [sys.executable, "-m", "studio", "export", str(article_dir), "--format", "html", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Harbour photo" in out.read_text()
