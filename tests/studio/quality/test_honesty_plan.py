"""The harness reads the brief's plan: picture kinds in any language (an edit of the user's photo
included), the brief's language, and the tags the routing check re-routed."""

from __future__ import annotations

from studio.core.agent import Brief
from studio.core.article import Article, ImageBlock, TextBlock
from studio.quality.honesty import article_checks, summarize_checks


def article(brief: str, *blocks: tuple[str, dict[str, str]], user_images: int = 0) -> Article:
    a = Article(brief=brief, user_images=[b"photo"] * user_images)
    a.blocks.append(TextBlock("b1", "# 茶\n\n茶是中国的传统饮品。"))
    for i, (source, provenance) in enumerate(blocks, 2):
        a.blocks.append(ImageBlock(f"b{i}", i - 2, source, "茶叶产量", {}, "", status="ok", provenance=provenance))
    return a


def test_a_chinese_chart_brief_and_a_rerouted_tag_are_reported() -> None:
    brief = Brief("写一篇关于中国茶的文章，附一张各类茶叶产量的图表")
    routed = {"routed_from": "diffusion", "routed_to": "code", "routed_why": "the description asks for a chart"}
    checks = article_checks(article(brief.text, ("code", routed)), 1, plan=brief.plan)
    assert checks["language"] == "zh"
    assert checks["asked_sources"] == ["code"] and checks["asked_missing"] == []
    assert checks["rerouted"] == [{"id": "b2", "from": "diffusion", "to": "code"}]
    missed = article_checks(article(brief.text, ("diffusion", {})), 1)  # the plan read from the article
    assert missed["asked_missing"] == ["code"] and missed["rerouted"] == []
    assert summarize_checks([checks, missed])["rerouted"] == 1


def test_an_edit_of_the_users_photo_is_asked_only_with_a_photo_attached() -> None:
    text = "把我的照片改成夜景"
    with_photo = article_checks(article(text, ("search", {}), user_images=1), 1)
    assert with_photo["asked_sources"] == ["edit"] and with_photo["asked_missing"] == ["edit"]
    assert article_checks(article(text, ("search", {})), 1)["asked_sources"] == []


def test_tool_choice_accuracy_counts_each_final_source() -> None:
    from studio.quality.honesty import honesty_lines
    from studio.quality.tool_choice import tool_choice

    a = Article(brief="Sales")
    a.blocks.append(TextBlock("b1", "# Sales\n\nAcme leads."))
    a.blocks.append(ImageBlock("b2", 0, "code", "Sales by brand in a bar chart", {}, "", status="ok"))
    a.blocks.append(ImageBlock("b3", 1, "diffusion", "Line graph of sales per year", {}, "", status="ok"))
    a.blocks.append(ImageBlock("b4", 2, "search", "Bees at work", {}, "", status="ok"))  # ambiguous: fine
    choice = tool_choice(a, ("code", "search", "diffusion"))
    assert (choice["right"], choice["total"]) == (2, 3)
    assert choice["wrong"][0]["id"] == "b3" and "asks for a chart" in choice["wrong"][0]["why"]
    assert tool_choice(a, ("code",))["right"] == 1  # the brief's tools: code only
    # an edit's description says what the edited photo shows: not wrong, unless it asks for a chart
    edits = Article(brief="My room", user_images=[b"x"])
    edits.blocks.append(
        ImageBlock("b1", 1, "edit", "A photo of my living room in Scandinavian style", {}, "", status="ok")
    )
    edits.blocks.append(ImageBlock("b2", 2, "edit", "Bar chart of room sizes per year", {}, "", status="ok"))
    assert [w["id"] for w in tool_choice(edits, ("edit",))["wrong"]] == ["b2"]
    checks = {**article_checks(a, 3), "tool_choice": choice}
    summary = summarize_checks([checks])
    assert summary["tool_choice_accuracy"] == 2 / 3
    assert any("tool choice" in line and "0.667" in line for line in honesty_lines([], summary))
