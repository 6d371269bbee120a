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
