"""Harness figures of issue 20: section-count compliance, language match, the writer's tokens/s
(counted around the writer's backend on a scripted OpenAI-compatible server on 127.0.0.1), and
the input image the harness draws at run time."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from models.errors import ConfigError
from studio.app.services import build_services
from studio.app.settings import load_settings
from studio.core.article import Article
from studio.core.brief_plan import plan_text
from studio.quality.benchmark import BenchBrief, format_table, load_briefs, run_benchmark
from studio.quality.made_images import made_image
from studio.quality.plan_checks import count_sections, plan_checks
from tests.judge_server import JudgeServer, Reply


def article(text: str, brief: str = "") -> Article:
    made = Article(brief=brief)
    made.add_text().text = text
    return made


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("# T\n\n## One\n\nx.\n\n## Two\n\ny.\n\n### Sub\n\nz.", 2),
        ("# T\n\n### One\n\nx.\n\n### Two\n\ny.\n\n### Three", 3),
        ("# T\n\nSteps:\n\n1. Mix.\n2. Knead.\n3) Bake.\n\nIn 2024 we baked.", 3),
        ("# T\n\nJust prose. #hashtag\n\n##NoSpace", 0),
    ],
)
def test_count_sections(text: str, count: int) -> None:
    assert count_sections(text) == count


def test_plan_checks_compare_sections_and_languages() -> None:
    brief = "Schreibe eine Geschichte des Fahrrads in drei Abschnitten."
    plan = plan_text(brief)
    assert plan.language == "de" and plan.sections == 3
    german = "# Fahrrad\n\n## Anfang\n\nDas Laufrad wurde 1817 erfunden.\n\n## Mitte\n\nDann kam die Kette."
    checks = plan_checks(article(german, brief), plan)
    assert checks["sections_written"] == 2 and checks["sections_ok"] is False
    assert checks["article_language"] == "de" and checks["language_ok"] is True
    english = "# Bicycle\n\n## Start\n\nThe draisine came first.\n\n## Middle\n\nThen the chain.\n\n## End\n\nE-bikes."
    checks = plan_checks(article(english, brief), plan)
    assert checks["sections_ok"] is True and checks["article_language"] == "en" and checks["language_ok"] is False
    chinese = plan_checks(article("# 茶\n\n茶是中国人每天喝的饮料，历史很长。"), plan_text("写一篇关于茶的短文。"))
    assert chinese["language_ok"] is True and chinese["sections_ok"] is None


def test_the_living_room_is_drawn_the_same_every_run_and_bad_names_are_refused(tmp_path: Path) -> None:
    png = made_image("living-room")
    assert png == made_image("living-room") and png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (640, 448) and len(set(image.getdata())) > 10  # a picture, not a blank
    with pytest.raises(ConfigError, match="living-room"):
        made_image("kitchen")
    path = tmp_path / "b.jsonl"
    line = {"id": "e", "prompt": "Edit my photo.", "wanted_images": 1, "input_images": ["made:living-room"]}
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "id": "f", "input_images": ["made:garage"]}))
    with pytest.raises(ConfigError, match=r"b\.jsonl:2: no image named 'garage'"):
        load_briefs(path)
    path.write_text(json.dumps(line))
    assert load_briefs(path)[0].input_images == (png,)


def test_the_shipped_briefs_include_four_languages_an_edit_of_my_photo_and_six_sections() -> None:
    briefs = {b.id: b for b in load_briefs(Path(__file__).resolve().parents[3] / "bench" / "briefs.jsonl")}
    plans = {i: plan_text(b.prompt, wanted_images=b.wanted_images, user_images=len(b.input_images))
             for i, b in briefs.items()}  # fmt: skip
    assert {"zh", "ja", "de", "es"} <= {p.language for p in plans.values()}
    edits = [i for i, p in plans.items() if "edit" in p.kinds and briefs[i].input_images]
    assert edits and all(briefs[i].tools == ("edit",) for i in edits)
    assert any(p.sections == 6 for p in plans.values())
    for brief_id, plan in plans.items():  # every kind a brief names is among its tools
        assert set(plan.kinds) <= set(briefs[brief_id].tools), brief_id


# --- the harness end to end -----------------------------------------------------------------------

ENGLISH = "# Bread\n\nBread is made from flour, water and salt. It is baked in an oven."


def script(_index: int, body: dict[str, Any]) -> Reply:
    system = str(body["messages"][0]["content"])
    if "You plan articles" in system:
        return Reply("# Tea\n\n## Origins\n## Growing\n## Drinking\n")
    if body.get("continue_final_message"):
        heading = body["messages"][-1]["content"].rstrip().rsplit("## ", 1)[-1]
        return Reply(f"This part is about {heading.lower()} and it is short.", chunk_chars=5)
    return Reply(ENGLISH, chunk_chars=4)


def test_the_bench_reports_sections_language_and_tokens_per_second(tmp_path: Path) -> None:
    briefs = [
        BenchBrief("de-bread", "Schreibe einen kurzen Artikel über Brot.", -1, category="report"),
        BenchBrief("tea-three", "A history of tea in three sections.", -1, category="report"),
    ]
    with JudgeServer(script, model="m") as server:
        settings = load_settings(data_dir=tmp_path / "d", backend="openai", openai_base_url=server.url,
                                 openai_model="m", tools_enabled=[])  # fmt: skip
        services = build_services(settings)
        try:
            rows = run_benchmark(briefs, services, tmp_path / "out")
        finally:
            services.close()
    bread, tea = (r.checks for r in rows)
    assert bread["plan"]["language"] == "de" and bread["plan"]["article_language"] == "en"
    assert bread["plan"]["language_ok"] is False and bread["plan"]["sections_ok"] is None
    assert bread["throughput"]["tokens"] == math.ceil(len(ENGLISH) / 4) and bread["throughput"]["requests"] == 1
    assert tea["plan"]["sections_asked"] == 3 and tea["plan"]["sections_written"] == 3 and tea["plan"]["sections_ok"]
    assert tea["plan"]["language_ok"] is True
    assert tea["throughput"]["requests"] == 4  # the outline and three sections
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["plan"]["section_compliance"] == 1.0 and summary["plan"]["language_match"] == 0.5
    assert summary["throughput"]["tokens"] == bread["throughput"]["tokens"] + tea["throughput"]["tokens"]
    assert summary["throughput"]["tokens_per_s"] > 0
    table = format_table(rows, summary)
    assert "section count (## headings, else numbered items) as asked: 1/1 (1.000) briefs" in table
    assert "article language = brief language: 1/2 (0.500)" in table
    assert "de-bread: written in en, asked in de" in table and "tokens/s" in table
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Writer figures" in report and "de-bread: written in en, asked in de" in report
