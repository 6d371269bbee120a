"""The harness's check that the picture kinds a brief names were written with their source."""

from __future__ import annotations

from types import SimpleNamespace

from studio.core.article import Article, ImageBlock, TextBlock
from studio.quality.honesty import article_checks, honesty_lines, summarize_checks

KYOTO = "A guide to Kyoto with a photo of Kinkaku-ji and a chart of monthly visitors"


def article(brief: str, *sources: str) -> Article:
    a = Article(brief=brief)
    a.blocks.append(TextBlock("b1", "# Kyoto\n\nTemples and gardens."))
    for i, source in enumerate(sources, 2):
        a.blocks.append(ImageBlock(f"b{i}", i - 2, source, "Kinkaku-ji", {}, "", status="placeholder"))
    return a


def test_a_photo_written_as_an_illustration_is_reported_missing() -> None:
    wrong = article_checks(article(KYOTO, "diffusion", "code"), 2)
    assert wrong["asked_sources"] == ["code", "search"] and wrong["asked_missing"] == ["search"]
    right = article_checks(article(KYOTO, "code", "search"), 2)
    assert right["asked_missing"] == []
    summary = summarize_checks([wrong, right])
    assert (summary["asked_kinds"], summary["asked_missing"]) == (4, 1)
    rows = [SimpleNamespace(id="kyoto-wrong", checks=wrong), SimpleNamespace(id="kyoto-right", checks=right)]
    lines = honesty_lines(rows, summary)
    assert any(line.endswith("written with their source: 3/4") for line in lines)
    assert any(line.startswith("  kyoto-wrong:") and "no search tag" in line for line in lines)


def test_counts_limit_what_is_asked() -> None:
    assert article_checks(article(KYOTO), -1)["asked_sources"] == []  # no images wanted
    assert article_checks(article(KYOTO, "code"), 1)["asked_sources"] == ["code"]  # one fits: the chart
    assert article_checks(article(KYOTO, "code", "search"), 99)["asked_sources"] == ["code", "search"]
