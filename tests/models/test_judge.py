"""Judges against a real scripted OpenAI-compatible server on 127.0.0.1 (tests/judge_server.py)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from models.judge import (
    MAX_JUDGED_IMAGES,
    CriterionScore,
    ImageJudgement,
    Judge,
    JudgeUnavailable,
    RubricJudgement,
    TextJudgement,
)
from models.judge_parse import IMAGE_FIELDS, TEXT_FIELDS, parse_rubric, parse_scores
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

PNG = b"\x89PNG\r\n\x1a\n" + b"png-body"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-body"


# ------------------------------------------------------------------------------ text judge
def test_well_formed_text_judgement_and_the_request_sent() -> None:
    with JudgeServer([text_judgement(4, 3, "solid")], model="served-judge") as srv:
        result = Judge(srv.url).judge_text("Write about owls.", "Owls hunt at night. <image> They nest.")
    assert result == TextJudgement(text=4, tags=3, reason="solid")
    (body,) = srv.requests
    assert body["model"] == "served-judge"  # discovered from /v1/models
    assert body["temperature"] == 0.0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = user_text_of(body)
    assert "Write about owls." in user and "Owls hunt at night. <image> They nest." in user
    assert "text_score" in body["messages"][0]["content"]  # we ask for JSON with the fields


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"text_score": 4, "tag_score": 2, "reason": "ok"}\n```',
        'Here is my verdict: {"text_score": 4, "tag_score": 2, "reason": "ok"} Hope that helps!',
        '<think>text_score: 1? no.</think>\n{"Text Score": "4", "Image-Tag Score": "2/5"}',
        "Text score: 4\nTag score: 2/5\nReason: ok",
        "- **Text score**: **4**/5\n- **Tag score**: 2\n",
        '{"text_score": 4.4, "tag_score": 1.5}',  # decimals round half up inside the scale
    ],
    ids=["fenced", "prose", "think+labels", "lines", "markdown", "decimals"],
)
def test_wrapped_and_free_form_answers_parse(answer: str) -> None:
    with JudgeServer([answer]) as srv:
        result = Judge(srv.url, retries=0).judge_text("p", "a")
    assert isinstance(result, TextJudgement), result
    assert (result.text, result.tags) == (4, 2)
    assert len(srv.requests) == 1


def test_malformed_then_good_is_retried() -> None:
    with JudgeServer(["I liked it a lot.", text_judgement(5, 4)]) as srv:
        result = Judge(srv.url, retries=2).judge_text("p", "a")
    assert result == TextJudgement(5, 4, "clear and on task")
    assert len(srv.requests) == 2


@pytest.mark.parametrize(
    "bad",
    [
        "no scores here at all",
        '{"text_score": 7, "tag_score": 4}',  # out of range: rejected, not clamped
        '{"text_score": 0, "tag_score": 4}',
        '{"text_score": 4}',  # missing field
        '{"text_score": "8/10", "tag_score": 4}',  # another scale is not guessed at
        '{"text_score": true, "tag_score": 4}',
    ],
)
def test_always_malformed_is_unavailable_never_a_default(bad: str) -> None:
    with JudgeServer([bad]) as srv:
        result = Judge(srv.url, retries=2).judge_text("p", "a")
    assert isinstance(result, JudgeUnavailable)
    assert "had no usable scores after 3 tries" in result.reason
    assert bad[:10] in result.reason.replace("\\", "")  # an excerpt of what the judge said
    assert len(srv.requests) == 3


def test_slow_judge_times_out_fast_without_retry() -> None:
    with JudgeServer([Reply(text_judgement(), delay_s=10)]) as srv:
        start = time.monotonic()
        result = Judge(srv.url, "m", timeout_s=0.3, retries=2).judge_text("p", "a")
        elapsed = time.monotonic() - start
        assert len(srv.requests) == 1
    assert isinstance(result, JudgeUnavailable)
    assert "0.3 s" in result.reason and "STUDIO_JUDGE_TIMEOUT_S" in result.reason
    assert elapsed < 2.0


def test_trickling_judge_is_cut_at_the_total_deadline() -> None:
    # each chunk comes within the per-read timeout, the whole answer does not
    with JudgeServer([Reply(text_judgement(), chunk_delay_s=0.2)]) as srv:
        start = time.monotonic()
        result = Judge(srv.url, "m", timeout_s=0.3).judge_text("p", "a")
        elapsed = time.monotonic() - start
    assert isinstance(result, JudgeUnavailable) and "did not finish its answer within 0.3 s" in result.reason
    assert elapsed < 1.0


def test_http_500_is_retried_then_unavailable() -> None:
    with JudgeServer([Reply(status=500, text="overloaded")]) as srv:
        result = Judge(srv.url, "m", retries=1).judge_text("p", "a")
    assert isinstance(result, JudgeUnavailable)
    assert "HTTP 500" in result.reason and "overloaded" in result.reason and "2 tries" in result.reason
    assert len(srv.requests) == 2
    with JudgeServer([Reply(status=500), text_judgement(3, 3)]) as srv:
        assert Judge(srv.url, "m", retries=1).judge_text("p", "a") == TextJudgement(3, 3, "clear and on task")


def test_judge_down_is_unavailable_with_what_to_start() -> None:
    start = time.monotonic()
    result = Judge(closed_port_url(), "m").judge_text("p", "a")
    assert isinstance(result, JudgeUnavailable)
    assert "cannot reach" in result.reason and "STUDIO_JUDGE_BASE_URL" in result.reason
    image = Judge(closed_port_url(), "m", settings_prefix="STUDIO_IMAGE_JUDGE_").judge_images("p", "a", [PNG])
    assert isinstance(image, JudgeUnavailable) and "STUDIO_IMAGE_JUDGE_BASE_URL" in image.reason
    assert time.monotonic() - start < 2.0


def test_judge_hanging_up_is_unavailable() -> None:
    with JudgeServer([Reply(hang_up=True)]) as srv:
        result = Judge(srv.url, "m").judge_text("p", "a")
    assert isinstance(result, JudgeUnavailable) and "disconnected" in result.reason


def test_test_connection() -> None:
    with JudgeServer([text_judgement()], model="vl-judge") as srv:
        ok, msg = Judge(srv.url).test_connection()
        assert ok and "vl-judge" in msg
        ok, msg = Judge(srv.url, "other").test_connection()
        assert not ok and "STUDIO_JUDGE_MODEL" in msg
    ok, msg = Judge(closed_port_url()).test_connection()
    assert not ok and "cannot reach" in msg


# ----------------------------------------------------------------------------- image judge
def test_images_are_sent_as_data_urls_and_failures_named() -> None:
    with JudgeServer([image_judgement(4, 5, 3, "sharp")]) as srv:
        answer = "A <image> B <image> C <fail_to_generate_image>"
        result = Judge(srv.url, "m").judge_images("Owls.", answer, [PNG, JPEG, None])
    assert result == ImageJudgement(quality=4, task=5, text_image=3, reason="sharp")
    assert result.mean == pytest.approx(4.0)
    (body,) = srv.requests
    urls = image_parts_of(body)
    assert len(urls) == 2
    assert urls[0] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert urls[1] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    text = user_text_of(body)
    assert "3 pictures" in text and "number(s) 3 failed" in text and "Picture 3: FAILED" in text
    assert answer in text


def test_explicit_mimes_win_and_must_match() -> None:
    with JudgeServer([image_judgement()]) as srv:
        Judge(srv.url, "m").judge_images("p", "a", [PNG], ["image/webp"])
        assert image_parts_of(srv.requests[0])[0].startswith("data:image/webp;base64,")
        with pytest.raises(ValueError, match="mime"):
            Judge(srv.url, "m").judge_images("p", "a", [PNG, PNG], ["image/png"])


def test_more_than_ten_images_score_one_without_a_call() -> None:
    with JudgeServer([image_judgement(5, 5, 5)]) as srv:
        judge = Judge(srv.url, "m")
        result = judge.judge_images("p", "a", [PNG] * (MAX_JUDGED_IMAGES + 1))
        assert isinstance(result, ImageJudgement) and (result.quality, result.task, result.text_image) == (1, 1, 1)
        assert srv.requests == []
        assert judge.judge_images("p", "a", [PNG] * MAX_JUDGED_IMAGES) == ImageJudgement(5, 5, 5, "fits")
        assert len(image_parts_of(srv.requests[0])) == MAX_JUDGED_IMAGES


def test_image_judge_free_form_answer() -> None:
    answer = "Image quality: 3/5\nTask relevance: 4\nText-image relevance: 2\nReason: blurry"
    with JudgeServer([answer]) as srv:
        assert Judge(srv.url, "m").judge_images("p", "a", [PNG]) == ImageJudgement(3, 4, 2, "blurry")


# ---------------------------------------------------------------------------------- rubric
CRITERIA = ["Has a chart of the data", "Explains the trend", "Cites a source"]


def test_rubric_well_formed() -> None:
    with JudgeServer([rubric_judgement([2, 1, 0])]) as srv:
        result = Judge(srv.url, "m").judge_rubric("p", "answer", CRITERIA)
    assert isinstance(result, RubricJudgement)
    assert result.scores[0] == CriterionScore("Has a chart of the data", 2, "because 1")
    assert [s.score for s in result.scores] == [2, 1, 0]
    assert result.total == 3 and result.fraction == pytest.approx(0.5)
    text = user_text_of(srv.requests[0])
    assert "1. Has a chart of the data" in text and "3. Cites a source" in text
    assert result.to_dict()["total"] == 3


def test_rubric_bad_answers_are_retried_and_line_format_accepted() -> None:
    script = [
        rubric_judgement([2, 1]),  # one criterion missing
        rubric_judgement([2, 3, 1]),  # 3 is off the 0-2 scale
        "Criterion 1: 2 - has a chart\nCriterion 2: 1/2 - partly\nCriterion 3: 0 - none",
    ]
    with JudgeServer(script) as srv:
        result = Judge(srv.url, "m", retries=2).judge_rubric("p", "a", CRITERIA)
    assert isinstance(result, RubricJudgement), result
    assert [(s.score, s.justification) for s in result.scores] == [(2, "has a chart"), (1, "partly"), (0, "none")]
    assert len(srv.requests) == 3


def test_rubric_unavailable_and_images_attached() -> None:
    with JudgeServer([rubric_judgement([2])]) as srv:
        result = Judge(srv.url, "m", retries=1).judge_rubric("p", "a", CRITERIA)
        assert isinstance(result, JudgeUnavailable) and "2 tries" in result.reason
        ok = Judge(srv.url, "m").judge_rubric("p", "a", CRITERIA[:1], images=[PNG, None])
        assert isinstance(ok, RubricJudgement) and ok.scores[0].score == 2
        assert len(image_parts_of(srv.requests[-1])) == 1
    assert Judge(closed_port_url()).judge_rubric("p", "a", []) == RubricJudgement(())


# -------------------------------------------------------------------------- parsing units
def test_parse_prefers_json_and_ignores_unrelated_objects() -> None:
    text = 'Context: {"note": 1}. Verdict: {"text_score": 2, "tag_score": 5, "reason": "thin"}'
    assert parse_scores(text, TEXT_FIELDS) == ({"text": 2, "tags": 5}, "thin")
    assert parse_scores("Text score: 4", TEXT_FIELDS) is None  # tag score missing
    # "Text-image relevance" must not be read as the text score of another mode
    assert parse_scores("Text-image relevance: 2\nImage quality: 3\nTask: 4", IMAGE_FIELDS) == (
        {"text_image": 2, "quality": 3, "task": 4},
        "Text-image relevance: 2 Image quality: 3 Task: 4",
    )
    assert parse_rubric(json.dumps([1, 2]), 2) == [(1, ""), (2, "")]
    assert parse_rubric("nothing", 2) is None
