"""Exported datasets carry facts, never machine paths: the writer's model by name (a GGUF's model
and quantization, a server's model id), a pasted response attributed to ``pasted response`` with
the source the user gave and the brief the user typed, and no absolute path or home folder
anywhere in the export (JSONL, Parquet, dataset card), old rows included."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from models.embedded import EmbeddedBackend, gguf_label
from models.openai_compat import OpenAICompatBackend
from storage import schema
from studio.app.session import Session, Studio
from studio.app.store_adapter import writer_record
from studio.core.agent import Brief
from tests.chat_server import ChatServer, Stream
from tests.render_studio import png, render_services, render_settings

GGUF = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SOURCE = "GPT-4o via chat.example, 2026-12-01"
BRIEF = "Lighthouses of Brittany, with a chart of their heights"
RESPONSE = (
    "# Lighthouses\n\nThey guide ships.\n\n"
    "<imgen>{'source': 'code', 'description': 'Heights', 'params': {'code': \"plt.bar(['a', 'b'], [1, 2])\"}}</imgen>"
    "\n\nEnd."
)
# An absolute POSIX path: a slash that starts a word (not inside a URL or a relative path), then
# at least one folder.
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~<-])/(?:[\w.+-]+/)+[\w.+-]*")


def test_a_gguf_is_named_by_model_and_quantization() -> None:
    assert gguf_label(GGUF) == "qwen2.5-coder-1.5b-instruct Q4_K_M"
    assert gguf_label("SmolLM2-135M-Instruct.Q4_1.gguf") == "SmolLM2-135M-Instruct Q4_1"
    assert gguf_label("phi-3-mini-bf16.gguf") == "phi-3-mini BF16"
    assert gguf_label("my-model.gguf") == "my-model"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """The studio as a new user runs it: the embedded backend on a GGUF under a local folder
    (never started: rendering asks no model), the real chart sandbox, a real SQLite store."""
    data_dir = tmp_path_factory.mktemp("studio")
    settings = render_settings(data_dir)
    services = render_services(settings)
    services.backend.close()
    backend = EmbeddedBackend(data_dir / "models" / GGUF, threads=1)
    studio = Studio(settings, services=dataclasses.replace(services, backend=backend))
    yield studio
    studio.close()


def test_writer_record_names_the_model_never_its_file(studio: Studio, tmp_path: Path) -> None:
    session = Session(studio)
    record = writer_record(Brief("tides"), session.services(), response=None, quality=1)
    assert (record["backend"], record["model"], record["written_by"]) == (
        "embedded",
        "qwen2.5-coder-1.5b-instruct Q4_K_M",
        "model",
    )
    with ChatServer([Stream(["# Hi"])], model="served-model-7b") as server:  # nothing configured: the served id
        backend = OpenAICompatBackend(server.url)
        try:
            record = writer_record(Brief("tides"), studio.services_for(backend), response=None, quality=1)
        finally:
            backend.close()
    assert (record["backend"], record["model"]) == ("openai", "served-model-7b")
    assert "127.0.0.1" not in json.dumps(record)


def _regenerate_accept_rate(session: Session) -> None:
    session.regenerate("b2", "params", params={"code": "plt.plot([3, 1, 2])"})
    session.accept("b2")
    session.rate(thumbs=1)


@pytest.fixture(scope="module")
def export(studio: Studio, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pasted response with a source and a brief (with a user image: the vision config too),
    and an article recorded the old way: the backend's description, with the GGUF's path, as
    its model, and the render not told apart from the model."""
    session = Session(studio)
    session.new_project("facts")
    brief = Brief(BRIEF, user_images=(png("blue"),))
    for _ in session.generate(brief, response=RESPONSE, response_source=f"  {SOURCE}\n"):
        pass
    _regenerate_accept_rate(session)
    # Recorded the old way: the backend's description (with the GGUF's path or the server's
    # address) as the model, and a render not told apart from the model that did not write it.
    model_file = f"{studio.settings.data_dir}/models/{GGUF}"
    for brief, legacy in (
        ("tides", {"backend": "embedded", "written_by": "model", "model": f"embedded llama.cpp, model file "
                   f"{model_file}, 2 threads, ctx 4096, GPU layers -1 (serving at http://127.0.0.1:41234/v1)"}),
        ("rivers", {"backend": "openai", "written_by": "render",
                    "model": "OpenAI-compatible server at http://127.0.0.1:8000/v1, model (first listed by the "
                    "server)"}),
    ):  # fmt: skip
        old = Session(studio)
        old.new_project(brief)
        for _ in old.generate(Brief(brief), response=RESPONSE):
            pass
        with studio.store.write() as s:  # before the events: the log copies the article's settings
            row = s.get(schema.Article, old.article_id)
            assert row is not None
            settings = row.settings | legacy
            s.execute(update(schema.Article).where(schema.Article.id == old.article_id).values(settings=settings))
        _regenerate_accept_rate(old)
    out = tmp_path_factory.mktemp("export") / "prefs"
    result = session.export_preferences(out, "all")
    assert (result.counts.preferences, result.counts.ratings, result.counts.vision) == (3, 3, 1)
    return out


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def _text(value: Any) -> str:
    """Every string in a Parquet row (image bytes left out: they are pictures, not text)."""
    return json.dumps(value, default=lambda v: "<bytes>" if isinstance(v, bytes) else str(v), ensure_ascii=False)


def test_no_absolute_path_or_home_folder_in_the_export(studio: Studio, export: Path) -> None:
    files = sorted(p for p in export.rglob("*") if p.suffix in (".jsonl", ".parquet", ".md"))
    assert {p.suffix for p in files} == {".jsonl", ".parquet", ".md"}
    assert len([p for p in files if p.suffix == ".parquet"]) == 3
    forbidden = [str(Path.home()), str(studio.settings.data_dir), "/tmp/", "model file", "127.0.0.1"]
    for path in files:
        text = _text(_parquet_rows(path)) if path.suffix == ".parquet" else path.read_text(encoding="utf-8")
        assert len(text) > 200, path
        for needle in forbidden:
            assert needle not in text, (path.name, needle)
        assert ABSOLUTE_PATH.findall(text) == [], path.name


def test_a_pasted_response_names_its_source_and_keeps_the_brief(export: Path) -> None:
    rows = [json.loads(line) for line in (export / "preferences.jsonl").read_text().splitlines()]
    ratings = [json.loads(line) for line in (export / "ratings.jsonl").read_text().splitlines()]
    pasted = [r for r in rows + ratings if r["brief"] == BRIEF]
    assert len(pasted) == 2
    for row in pasted:
        assert (row["writer_backend"], row["writer_model"], row["written_by"]) == ("pasted response", SOURCE, "render")
        gen = row["generation"]
        assert (gen["max_tokens"], gen["temperature"], gen["top_p"], gen["grammar"]) == (None, None, None, None)
        assert gen["tools"] == ["code"]  # what did shape it: the tools that ran its tags
    (row,) = [r for r in rows if r["brief"] == BRIEF]
    assert BRIEF in row["prompt"][-1]["content"]


def test_rows_recorded_before_keep_only_the_model_name(export: Path) -> None:
    rows = [json.loads(line) for line in (export / "preferences.jsonl").read_text().splitlines()]
    (tides,) = [r for r in rows if r["brief"] == "tides"]
    assert (tides["writer_backend"], tides["writer_model"], tides["written_by"]) == ("embedded", GGUF, "model")
    (rivers,) = [r for r in rows if r["brief"] == "rivers"]
    assert (rivers["writer_backend"], rivers["writer_model"], rivers["written_by"]) == (
        "pasted response",
        None,
        "render",
    )
