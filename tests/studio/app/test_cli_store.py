"""CLI commands over the project store: export a stored project, export the preference log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docx import Document

from studio.app.cli import main
from studio.app.session import Session
from studio.core.agent import Brief
from tests.render_studio import render_studio

RESPONSE = (
    "# Tides\n\nThe moon pulls the sea.\n\n"
    "<imgen>{'source': 'code', 'description': 'Tide height', 'params': {'code': 'plt.plot([0, 2, 0, 2])'}}</imgen>"
    "\n\nTwice a day."
)


@pytest.fixture
def stored_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    studio = render_studio(None)  # the data directory from STUDIO_DATA_DIR
    try:
        session = Session(studio)
        for _ in session.generate(Brief("tides"), response=RESPONSE):
            pass
        session.regenerate("b2", "params", params={"code": "plt.bar(['low', 'high'], [0, 2])"})
        session.accept("b2")
        project_id = session.project_id
    finally:
        studio.close()
    assert project_id is not None
    return project_id


def test_export_a_stored_project_by_id(stored_project: int, tmp_path: Path) -> None:
    project_id = stored_project
    out = tmp_path / "tides.docx"
    assert main(["export", str(project_id), "--format", "docx", "--out", str(out)]) == 0
    doc = Document(str(out))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "The moon pulls the sea." in text and "Tide height" in text
    assert len(doc.inline_shapes) == 1


def test_export_of_an_unknown_project_says_what_exists(stored_project: int, tmp_path: Path, capsys) -> None:
    assert main(["export", "no-such-project", "--format", "html", "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "neither an article directory" in err and str(stored_project) in err


def test_prefs_export_holds_the_accepted_pair_with_both_images(stored_project, tmp_path: Path, capsys) -> None:
    out = tmp_path / "prefs"
    assert main(["prefs", "export", "--count", "--project", "tides"]) == 0
    assert capsys.readouterr().out.startswith("1 preference pairs, 0 ratings, 0 vision pairs")
    assert not out.exists()  # --count writes nothing
    assert main(["prefs", "export", "--out", str(out), "--project", str(stored_project)]) == 0
    printed = capsys.readouterr().out
    assert "1 preference pairs" in printed and str(out) in printed
    rows = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert "plt.bar" in row["chosen_text"] and "plt.plot" in row["rejected_text"] and row["brief"] == "tides"
    assert row["chosen"][0]["content"].startswith("# Tides") and row["chosen"][0]["content"].endswith("Twice a day.")
    for key in ("chosen_image", "rejected_image"):
        assert (out / row[key]).read_bytes().startswith(b"\x89PNG")
    assert len(list(out.glob("preferences-*.parquet"))) == 1 and (out / "README.md").is_file()


def test_prefs_export_of_an_unknown_project_or_without_out_says_what_to_do(stored_project, capsys) -> None:
    assert main(["prefs", "export", "--count", "--project", "nope"]) == 2
    assert f"no project 'nope'; projects: {stored_project} 'tides'" in capsys.readouterr().err
    assert main(["prefs", "export", "--article", "999"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["prefs", "export", "--count", "--article", "999"]) == 2
    assert "no such article" in capsys.readouterr().err
