"""The rule-based scorer on hand-computed cases, and score_article against a scripted judge."""

from __future__ import annotations

import pytest

from studio.reward import (
    TOOL_WEIGHTS,
    final_reward,
    image_count_score,
    llm_term,
    mllm_term,
    rule_reward_of,
    tool_reward,
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
