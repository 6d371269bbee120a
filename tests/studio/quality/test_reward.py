"""The rule-based scorer on hand-computed cases, and score_article against a scripted judge."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from models.judge import ImageJudgement, Judge, JudgeUnavailable, RubricJudgement, TextJudgement
from studio.app.services import build_judges
from studio.app.settings import Settings
from studio.core.article import Article
from studio.core.protocol import format_tag, parse_tag
from studio.quality.reward import (
    TOOL_WEIGHTS,
    final_reward,
    image_count_score,
    llm_term,
    mllm_term,
    rule_reward_of,
    score_article,
    tool_reward,
)
from tests.judge_server import (
    JudgeServer,
    Reply,
    closed_port_url,
    image_judgement,
    image_parts_of,
    rubric_judgement,
    text_judgement,
    user_text_of,
)


# ---------------------------------------------------------------------------- image count
@pytest.mark.parametrize("evaluation", [False, True])
@pytest.mark.parametrize(
    ("count", "wanted", "expected"),
    [
        (0, -1, 1.0),  # no image wanted, none given
        (1, -1, 0.0),
        (3, -1, 0.0),
        (0, 0, 1.0),  # no constraint
        (7, 0, 1.0),
        (0, 99, 0.0),  # at least one
        (1, 99, 1.0),
        (12, 99, 1.0),
        (3, 3, 1.0),  # exact
    ],
)
def test_image_count_special_values_and_exact(count: int, wanted: int, expected: float, evaluation: bool) -> None:
    assert image_count_score(count, wanted, evaluation=evaluation) == expected


@pytest.mark.parametrize(
    ("count", "wanted", "train", "evaluation"),
    [
        (0, 4, 0.0, 0.0),
        (1, 4, 0.25, 0.0),  # short: count / N
        (3, 4, 0.75, 0.0),
        (5, 4, 0.7, 0.0),  # over by 1: 1 - 0.3
        (6, 4, 0.4, 0.0),  # over by 2: 1 - 0.6
        (7, 4, 0.1, 0.0),
        (8, 4, 0.0, 0.0),  # 1 - 1.2 clipped at 0
        (20, 1, 0.0, 0.0),
    ],
)
def test_image_count_short_and_over(count: int, wanted: int, train: float, evaluation: float) -> None:
    assert image_count_score(count, wanted) == pytest.approx(train)
    assert image_count_score(count, wanted, evaluation=True) == evaluation


def test_image_count_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="wanted"):
        image_count_score(1, -2)
    with pytest.raises(ValueError, match="count"):
        image_count_score(-1, 3)


# ---------------------------------------------------------------------------- tool reward
def test_tool_weights_are_the_papers() -> None:
    assert TOOL_WEIGHTS == {"code": 0.4, "edit": 0.3, "search": 0.2, "diffusion": 0.1}


@pytest.mark.parametrize(
    ("required", "attempted", "succeeded", "expected"),
    [
        ({"code"}, {"code": 1}, {"code": 1}, 1.0),
        ({"code"}, {"code": 2}, {}, 0.5),  # tried, failed
        ({"code"}, {}, {}, 0.0),
        ({"code"}, {"search": 3}, {"search": 3}, 0.0),  # other tools do not count
        # code 0.4 + search 0.2 = 0.6: code attempted only, search attempted and succeeded
        ({"code", "search"}, {"code": 1, "search": 1}, {"search": 1}, 0.5 * (0.2 / 0.6) + 0.5 * 1.0),
        # all four (total 1.0): edit + diffusion attempted, diffusion succeeded
        ({"code", "edit", "search", "diffusion"}, {"edit": 1, "diffusion": 2}, {"diffusion": 1}, 0.5 * 0.1 + 0.5 * 0.4),
        # zero counts are no attempt
        ({"edit", "diffusion"}, {"edit": 0, "diffusion": 1}, {"diffusion": 0}, 0.5 * 0.0 + 0.5 * (0.1 / 0.4)),
    ],
)
def test_tool_reward_weighted_shares(required: set[str], attempted: dict, succeeded: dict, expected: float) -> None:
    assert tool_reward(required, attempted, succeeded) == pytest.approx(expected)


def test_tool_reward_rejects_unknown_or_empty_requirements() -> None:
    with pytest.raises(ValueError, match="unknown tools"):
        tool_reward({"paint"}, {}, {})
    with pytest.raises(ValueError, match="at least one"):
        tool_reward((), {}, {})


# ---------------------------------------------------------------------------- judge terms
def test_llm_and_mllm_terms() -> None:
    assert llm_term(5, 5) == pytest.approx(1.0)
    assert llm_term(1, 1) == pytest.approx(0.0)
    assert llm_term(4, 2) == pytest.approx(((1.4 * 4 + 0.6 * 2) / 2 - 1) / 4)  # 0.6
    assert llm_term(4, 2) == pytest.approx(0.6)
    assert mllm_term(5, 5, 5) == pytest.approx(1.0)
    assert mllm_term(1, 1, 1) == pytest.approx(0.0)
    assert mllm_term(3, 4, 2) == pytest.approx(0.5)


def test_final_reward() -> None:
    assert final_reward(1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert final_reward(0.0, 0.6, 0.9) == pytest.approx(0.3)  # no count credit: images earn nothing
    assert final_reward(0.5, 0.6, 0.5) == pytest.approx(0.2 * 0.5 + 0.3 * 0.5 * 0.5 + 0.5 * 0.6)  # 0.475


def test_rule_reward_is_the_mean_of_its_terms() -> None:
    assert rule_reward_of(1.0, 0.5, None) == pytest.approx(0.75)
    assert rule_reward_of(1.0, 0.5, 0.0) == pytest.approx(0.5)


# ---------------------------------------------------------------------------- score_article
PNG = b"\x89PNG\r\n\x1a\n" + b"owl-pixels"


def _article() -> Article:
    """Text, an ok search image, a failed chart, an invalid diffusion tag (no params), text."""
    article = Article(brief="owls")
    article.add_text().text = "Intro. "
    ok = article.add_image(parse_tag(format_tag("search", "Owl", {"query": "barn owl"}), tag_position=0))
    ok.status, ok.image = "ok", PNG
    article.add_text().text = " Middle. "
    failed = article.add_image(parse_tag(format_tag("code", "Chart", {"code": "plt.plot([1])"}), tag_position=1))
    failed.status, failed.error = "failed", "NameError"
    article.add_text().text = " More. "
    article.add_image(parse_tag("<imgen>{'source': 'diffusion', 'description': 'x'}</imgen>", tag_position=2))
    article.add_text().text = " End."
    return article


PROCESSED = "Intro. <image> Middle. <fail_to_generate_image> More. <fail_to_generate_image> End."
# search 0.2 succeeded; search, code, diffusion (the invalid tag still names its tool) attempted; of 0.7
TOOLS = 0.5 * (0.2 / 0.7) + 0.5 * 1.0


def _by_mode(text: str = text_judgement(4, 4), images: str = image_judgement(4, 5, 3)) -> Callable[[int, dict], str]:
    """A script answering each judge mode by its system prompt."""

    def script(_index: int, body: dict) -> str:
        system = body["messages"][0]["content"]
        if "text_score" in system:
            return text
        if "image_quality" in system:
            return images
        return rubric_judgement([2, 0])

    return script


def test_rule_scores_without_judges() -> None:
    score = score_article(_article(), prompt="owls", wanted_images=3, required_tools={"search", "code", "diffusion"})
    assert (score.tags_total, score.tags_valid, score.image_count) == (3, 2, 3)
    assert score.tag_validity == pytest.approx(2 / 3)
    assert score.per_source["search"] == {"total": 1, "success": 1, "success_rate": 1.0, "placeholder": 0}
    assert score.per_source["code"] == {"total": 1, "success": 0, "success_rate": 0.0, "placeholder": 0}
    assert score.per_source["diffusion"] == {"total": 1, "success": 0, "success_rate": 0.0, "placeholder": 0}
    assert score.per_source["edit"] == {"total": 0, "success": 0, "success_rate": 1.0, "placeholder": 0}
    assert score.num_score == 1.0
    assert score.tool_reward == pytest.approx(TOOLS)
    assert score.rule_reward == pytest.approx((1.0 + 2 / 3 + TOOLS) / 3)
    assert score.processed_text == PROCESSED
    assert (score.text, score.images, score.rubric, score.reward, score.llm, score.mllm) == (None,) * 6
    json.dumps(score.to_dict())


def test_count_variants_and_no_required_tools() -> None:
    train = score_article(_article(), prompt="owls", wanted_images=2)
    assert train.num_score == pytest.approx(0.7) and train.tool_reward is None
    assert train.rule_reward == pytest.approx((0.7 + 2 / 3) / 2)
    assert score_article(_article(), prompt="owls", wanted_images=2, evaluation=True).num_score == 0.0
    assert score_article(_article(), prompt="owls", wanted_images=4).num_score == pytest.approx(0.75)


def test_both_judges_give_the_papers_reward() -> None:
    with JudgeServer(_by_mode()) as srv:
        judge = Judge(srv.url, "m")
        score = score_article(
            _article(),
            prompt="Write about owls.",
            wanted_images=3,
            text_judge=judge,
            image_judge=judge,
            rubric=["Shows an owl", "Has a chart"],
        )
        requests = srv.requests
    assert isinstance(score.text, TextJudgement) and score.text.text == 4
    assert score.text.tags == 1  # an invalid tag is a formatting violation: tag score 1
    assert any("tag score 4 -> 1" in n for n in score.notes)
    assert score.images == ImageJudgement(4, 5, 3, "fits")
    assert isinstance(score.rubric, RubricJudgement) and [s.score for s in score.rubric.scores] == [2, 0]
    llm = ((1.4 * 4 + 0.6 * 1) / 2 - 1) / 4  # 0.525
    mllm = (4 - 1) / 4  # 0.75
    assert score.llm == pytest.approx(llm) and score.mllm == pytest.approx(mllm)
    assert score.reward == pytest.approx(0.2 * 1.0 + 0.3 * mllm * 1.0 + 0.5 * llm)  # 0.6875
    # the judges read the processed text; the image judge and the rubric got the one good image
    assert all(PROCESSED in user_text_of(body) for body in requests)
    assert sorted(len(image_parts_of(body)) for body in requests) == [0, 1, 1]
    image_request = next(b for b in requests if "image_quality" in b["messages"][0]["content"])
    assert "number(s) 2, 3 failed" in user_text_of(image_request)
    data = score.to_dict()
    json.dumps(data)
    assert data["text"]["tags"] == 1 and data["images"]["kind"] == "images" and data["rubric"]["total"] == 2


def test_one_judge_unavailable_means_no_reward() -> None:
    with JudgeServer(_by_mode()) as srv:
        score = score_article(
            _article(),
            prompt="owls",
            wanted_images=3,
            text_judge=Judge(closed_port_url(), "m"),
            image_judge=Judge(srv.url, "m"),
        )
    assert isinstance(score.text, JudgeUnavailable) and "cannot reach" in score.text.reason
    assert isinstance(score.images, ImageJudgement)
    assert score.reward is None and score.llm is None and score.mllm == pytest.approx(0.75)
    assert score.to_dict()["text"]["kind"] == "unavailable"


def _no_tags() -> Article:
    article = Article(brief="owls")
    article.add_text().text = "Owls are birds."
    return article


@pytest.mark.parametrize(
    ("wanted", "close", "tags"),
    [(2, False, 5), (-1, False, 5), (2, True, 1), (99, True, 1), (-1, True, 5)],
)
def test_no_tag_rule_and_its_loophole_flag(wanted: int, close: bool, tags: int) -> None:
    with JudgeServer(_by_mode(text=text_judgement(4, 3))) as srv:
        judge = Judge(srv.url, "m")
        score = score_article(
            _no_tags(), prompt="owls", wanted_images=wanted, text_judge=judge, close_no_tag_loophole=close
        )
    assert isinstance(score.text, TextJudgement) and score.text.tags == tags and score.text.text == 4
    assert score.tag_validity == 1.0 and score.image_count == 0


def test_judges_are_asked_in_parallel() -> None:
    def slow(index: int, body: dict) -> Reply:
        return Reply(_by_mode()(index, body), delay_s=0.5)

    with JudgeServer(slow) as srv:
        judge = Judge(srv.url, "m")
        start = time.monotonic()
        score = score_article(
            _article(), prompt="p", wanted_images=3, text_judge=judge, image_judge=judge, rubric=["a", "b"]
        )
        elapsed = time.monotonic() - start
    assert score.reward is not None
    assert elapsed < 1.2, elapsed  # three 0.5 s answers one after another would take 1.5 s


def test_judges_from_settings() -> None:
    assert build_judges(Settings(judge_base_url=None)) == (None, None)
    text, image = build_judges(Settings(judge_base_url="http://127.0.0.1:9/v1", judge_retries=5))
    assert text is image and text is not None and text.retries == 5
    text, image = build_judges(
        Settings(judge_base_url="http://127.0.0.1:9/v1", image_judge_base_url="http://127.0.0.1:10/v1")
    )
    assert text is not None and image is not None and image is not text
    assert image.base_url == "http://127.0.0.1:10/v1"
    result = image.judge_images("p", "a", [PNG])
    assert isinstance(result, JudgeUnavailable) and "STUDIO_IMAGE_JUDGE_BASE_URL" in result.reason
    text, image = build_judges(Settings(judge_base_url="http://127.0.0.1:9/v1", image_judge_base_url="none"))
    assert text is not None and text.base_url == "http://127.0.0.1:9/v1" and image is None
