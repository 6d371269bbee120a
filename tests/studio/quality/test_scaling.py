"""Quality mode: selection on known scores (pure), then the whole loop on the real code sandbox.

The end-to-end tests script the chat model: selection and repair must be checked on candidates
whose content is known, which no real model produces on demand (SmolLM2 runs in the benchmark
tests instead). Tools, the engine, the scorer and the judge's HTTP are real.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.base import ChatOptions, Message
from models.judge import Judge
from studio.app.services import Services, build_services
from studio.app.settings import load_settings
from studio.core.agent import Brief
from studio.core.article import Article
from studio.core.protocol import parse_tag
from studio.quality.polish import is_weak, repair_plans
from studio.quality.reward import score_article
from studio.quality.scaling import (
    CandidateEvent,
    CandidateScore,
    ScalingDone,
    ScalingNote,
    candidate_score,
    collect_with,
    select_candidate,
    write_best_article,
)
from tests.judge_server import JudgeServer, image_judgement, text_judgement
from tests.tiny_pipelines import tiny_instruct_pix2pix_dir
from tools.base import ToolContext
from tools.edit import EditTool
from tools.params import EditParams

# ------------------------------------------------------------------ selection on known scores


def cs(valid: float = 1.0, ok: float = 1.0, num: float = 1.0, rule: float = 1.0, r: float | None = None):
    return CandidateScore(valid, ok, num, rule, r)


def test_rule_filter_then_judge_reward_decides() -> None:
    scores = [cs(r=0.9, valid=0.5, rule=0.7), cs(r=0.6), cs(r=0.8), cs(r=0.8, rule=0.9)]
    pick = select_candidate(scores)
    assert pick.passed == (1, 2, 3) and pick.by == "judge"
    assert pick.index == 2  # R tie between 2 and 3 at 0.8; rule reward tie 1.0 vs 0.9 -> 2
    assert "3 of 4 passed" in pick.reason and "candidate 3" in pick.reason


def test_without_judge_the_rule_reward_decides_and_says_so() -> None:
    pick = select_candidate([cs(rule=0.8), cs(rule=0.95), cs(rule=0.95)])
    assert (pick.index, pick.by) == (1, "rules")  # ties go to the earlier candidate
    assert "no judge score" in pick.reason and "rule reward picked candidate 2" in pick.reason


def test_a_text_judge_alone_decides_when_no_image_judge_answered() -> None:
    scores = [
        CandidateScore(1.0, 1.0, 1.0, 1.0, None, text_reward=0.30),
        CandidateScore(1.0, 1.0, 1.0, 0.9, None, text_reward=0.55),
        CandidateScore(1.0, 1.0, 1.0, 1.0, None, text_reward=None),
    ]
    pick = select_candidate(scores)
    assert (pick.index, pick.by) == (1, "text-judge")
    assert "no image judge score" in pick.reason and "did not answer for 1" in pick.reason
    # a full R, where any candidate has one, still outranks the text-only part
    scores.append(CandidateScore(1.0, 1.0, 1.0, 0.5, 0.2, text_reward=0.1))
    assert (select_candidate(scores).index, select_candidate(scores).by) == (3, "judge")


def test_when_nobody_passes_the_filter_all_compete() -> None:
    pick = select_candidate([cs(ok=0.5, rule=0.6), cs(num=0.5, rule=0.7), cs(valid=0.0, rule=0.5)])
    assert pick.passed == () and pick.index == 1 and "none of 3 passed" in pick.reason


def test_judge_scores_only_among_filtered_and_missing_ones_are_reported() -> None:
    scores = [cs(r=None, rule=1.0), cs(r=0.4, rule=0.9), cs(ok=0.0, r=1.0)]
    pick = select_candidate(scores)
    assert pick.index == 1 and pick.by == "judge" and "did not answer for 1" in pick.reason
    with pytest.raises(ValueError):
        select_candidate([])


def article_with(*tags: str, ok: tuple[bool, ...] = ()) -> Article:
    article = Article(brief="b")
    for i, raw in enumerate(tags):
        article.add_text().text = "Some text. "
        block = article.add_image(parse_tag(raw, tag_position=i, user_image_count=0))
        if block.status != "invalid":
            block.status = "ok" if ok[i] else "failed"
            block.image = b"png" if ok[i] else None
    return article


CODE = "<imgen>{'source': 'code', 'description': 'bars', 'params': {'code': 'plt.bar([1],[2])'}}</imgen>"
SEARCH = "<imgen>{'source': 'search', 'description': 'a fox', 'params': {'query': 'red fox'}}</imgen>"
BAD = "<imgen>{'source': 'search', 'description': 'x'}</imgen>"


def test_candidate_score_reads_the_article_score() -> None:
    score = score_article(article_with(CODE, SEARCH, BAD, ok=(True, False)), prompt="p", wanted_images=3)
    view = candidate_score(score)
    # per source, as the reference counts: an invalid tag with a known source is a failed call
    assert view.tag_validity == pytest.approx(2 / 3) and view.execution_success == pytest.approx(1 / 3)
    assert view.num_score == 1.0 and view.reward is None and not view.passes_rules
    assert candidate_score(score_article(Article(), prompt="p", wanted_images=0)).passes_rules


def test_repair_plans_use_available_tools_only() -> None:
    article = article_with(BAD, SEARCH, CODE, ok=(False, False, False))
    invalid, failed_search, failed_code = article.image_blocks()
    assert repair_plans(invalid, ["search", "diffusion"]) == [
        ("search", {"query": "x"}),
        ("diffusion", {"prompt": "x"}),
    ]
    assert repair_plans(failed_search, ["search", "diffusion", "code"]) == [("diffusion", {"prompt": "a fox"})]
    assert repair_plans(failed_search, ["search", "code"]) == []
    assert repair_plans(failed_code, ["code"]) == [("code", {"code": ""})]


def test_weak_text() -> None:
    assert is_weak("Short.", "a fox")
    long = "The red fox is a small carnivore found across the northern hemisphere, " * 2
    assert not is_weak(long, "a red fox in snow")
    assert is_weak(long, "quarterly revenue chart")  # long but about something else


# ------------------------------------------------------------------ the loop, end to end

WEAK = "# Bars\n\nA chart.\n\n"
GOOD_CODE = "<imgen>{'source': 'code', 'description': 'bar chart of sales', 'params': {'code': 'plt.bar([1, 2], [3, 4])'}}</imgen>"  # noqa: E501
BROKEN = "<imgen>{'source': 'code', 'description': 'bar chart of sales'}</imgen>"
REWRITE = "Sales rose in both quarters, as the bar chart of sales below shows for each of the two periods."


class ScriptedChat:
    """Candidates in order; the chart writer and the polish rewrite get their own answers."""

    def __init__(self, name: str, candidates: list[str]) -> None:
        self.name = name
        self.candidates = candidates
        self.lock = threading.Lock()
        self.asked: list[str] = []

    def stream(self, messages: list[Message], options: ChatOptions) -> Iterator[str]:
        system = str(messages[0]["content"])
        if system.startswith("You edit articles"):
            kind, answer = "rewrite", f"{REWRITE} <imgen>{{'source': 'x'}}</imgen>"  # a tag in a rewrite is dropped
        elif "matplotlib" in system and "draws exactly one chart" in system:
            kind, answer = "chart", "```python\nplt.plot([1, 2, 3], [2, 1, 3])\n```"
        else:
            with self.lock:
                kind = "candidate"
                answer = self.candidates[sum(a == "candidate" for a in self.asked) % len(self.candidates)]
        with self.lock:
            self.asked.append(kind)
        yield from (answer[i : i + 40] for i in range(0, len(answer), 40))

    def describe(self) -> str:
        return f"scripted ({self.name})"


@pytest.fixture
def make_services(tmp_path: Path) -> Iterator:
    made: list[Services] = []

    def make(chat: ScriptedChat) -> Services:
        settings = load_settings(data_dir=tmp_path, tools_enabled=["code"], use_grammar=False)
        services = build_services(settings, backend=chat)  # type: ignore[arg-type]
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


def test_rules_pick_the_valid_candidate_and_polish_rewrites_weak_text(make_services) -> None:
    chat = ScriptedChat("openai", [WEAK + BROKEN + "\n\nEnd.", WEAK + GOOD_CODE + "\n\nEnd."])
    services = make_services(chat)
    brief = Brief("A note on sales with a bar chart", wanted_images=1)
    events = list(write_best_article(brief, services, candidates=2, required_tools=("code",)))
    result = events[-1].result if isinstance(events[-1], ScalingDone) else None
    assert result is not None
    assert {e.candidate for e in events if isinstance(e, CandidateEvent)} == {0, 1}
    notes = [e.message for e in events if isinstance(e, ScalingNote)]
    assert notes[0] == "writing 2 candidates at once"  # an OpenAI-compatible server takes them together
    # at once, which candidate got which answer depends on arrival order: find the valid one
    good = next(c.index for c in result.candidates if c.score.tag_validity == 1.0)
    assert result.selection.index == good and result.selection.by == "rules" and result.selection.passed == (good,)
    assert "no judge score" in result.selection.reason
    # polish: the weak paragraph before the chart was rewritten, tags in the rewrite stripped
    assert result.polish["rewritten"] and result.polish["kept"]
    text = result.article.to_llmi_text()
    assert REWRITE in text and "'source': 'x'" not in text and "A chart." not in text
    assert "A chart." in result.candidates[good].article.to_llmi_text()  # the candidate itself is untouched
    assert result.to_dict()["chosen"] == good


def test_polish_repairs_an_invalid_chart_tag(make_services) -> None:
    chat = ScriptedChat("embedded", [WEAK + BROKEN + "\n\nEnd."])
    services = make_services(chat)
    brief = Brief("A note on sales with a bar chart", wanted_images=1)
    result = collect_with(write_best_article(brief, services, candidates=1, required_tools=("code",)))
    block = result.article.image_blocks()[0]
    assert block.status == "ok" and block.image and block.params["code"].startswith("plt.plot")
    assert block.provenance["repaired"]["from_status"] == "invalid"
    assert result.polish["repaired"] == [{"block": block.id, "from": "code", "to": "code"}]
    assert result.polish["rule_reward"]["after"] > result.polish["rule_reward"]["before"]
    assert result.score.tag_validity == 1.0 and result.candidates[0].score.tag_validity == 0.0


def test_the_judge_picks_between_candidates_that_pass(make_services) -> None:
    chat = ScriptedChat("openai", [WEAK + GOOD_CODE + "\n\nOne.", WEAK + GOOD_CODE + "\n\nTwo."])
    services = make_services(chat)

    def script(index: int, body: dict) -> str:
        text = str(body["messages"])
        if "image_url" in text:  # the multimodal request
            return image_judgement(4, 4, 4)
        return text_judgement(5 if "Two." in text else 2, 5)

    with JudgeServer(script) as srv:
        judge = Judge(srv.url, timeout_s=10, retries=0)
        brief = Brief("A note on sales with a bar chart", wanted_images=1)
        result = collect_with(
            write_best_article(brief, services, candidates=2, judge=judge, image_judge=judge, polish=False)
        )
        judge.close()
    two = next(c.index for c in result.candidates if "Two." in c.article.to_llmi_text())
    assert result.selection.by == "judge" and result.selection.index == two
    assert result.candidates[two].summary.reward > result.candidates[1 - two].summary.reward
    assert "Two." in result.article.to_llmi_text() and result.polish == {}


# ------------------------------------------------------------------ consistent style reaches edits


def test_edit_prompt_keeps_the_instruction_first_and_records_the_style() -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 30)).save(buf, format="PNG")
    tool = EditTool(str(tiny_instruct_pix2pix_dir()), steps=1, size=64, device="cpu", allow_downloads=False)
    try:
        params = EditParams(img_index=0, prompt="make it night")
        styled = tool.run(params, ToolContext(parent_image=buf.getvalue(), seed=3, style="ink wash, muted blues"))
        plain = tool.run(params, ToolContext(parent_image=buf.getvalue(), seed=3))
    finally:
        tool.close()
    assert styled.ok and plain.ok
    assert styled.provenance["prompt"] == "make it night, ink wash, muted blues"
    assert styled.provenance["instruction"] == "make it night" and styled.provenance["style"] == "ink wash, muted blues"
    assert plain.provenance["prompt"] == "make it night" and plain.provenance["style"] == ""
    assert styled.image != plain.image  # the style changed what the pipeline was asked


def test_cards_show_the_style_of_generated_images() -> None:
    from studio.app.ui_model import BlockView
    from studio.app.ui_page import card_fields, image_card

    prov = {"seed": 4, "style": "<i>ink</i> wash", "model": "m"}
    diffusion = BlockView("b1", "image", source="diffusion", params={"prompt": "a fox"}, provenance=prov)
    assert ("style", "<i>ink</i> wash") in card_fields(diffusion)
    assert "&lt;i&gt;ink&lt;/i&gt; wash" in image_card(diffusion, False)  # shown, escaped
    search = BlockView("b2", "image", source="search", params={"query": "fox"}, provenance={"style": "ink"})
    assert all(key != "style" for key, _ in card_fields(search))  # a photo is not restyled


from studio.core.chart_checks import relevance  # noqa: E402

OFF_TOPIC = (
    "<imgen>{'source': 'code', 'description': 'bar chart of sales', "
    "'params': {'code': 'plt.bar([1, 2], [3, 4])\\nplt.title(\"Average bicycle commute distance\")'}}</imgen>"
)


class TitledChat(ScriptedChat):
    """The chart writer answers with a chart whose title names the sales."""

    def stream(self, messages: list[Message], options: ChatOptions) -> Iterator[str]:
        system = str(messages[0]["content"])
        if "matplotlib" in system and "draws exactly one chart" in system:
            with self.lock:
                self.asked.append("chart")
            yield '```python\nplt.bar([1, 2], [5, 6])\nplt.title("Sales by quarter")\n```'
            return
        yield from super().stream(messages, options)


def test_polish_repairs_a_chart_that_fails_the_relevance_check(make_services) -> None:
    chat = TitledChat("openai", [WEAK + OFF_TOPIC + "\n\nEnd."])
    services = make_services(chat)
    brief = Brief("A note on sales with a bar chart", wanted_images=1)
    result = collect_with(write_best_article(brief, services, candidates=1, required_tools=("code",)))
    first = result.candidates[0].article.image_blocks()[0]
    assert first.status == "ok" and not relevance(first.description, first.params["code"]).ok  # drew, off topic
    block = result.article.image_blocks()[0]
    assert "chart" in chat.asked and relevance(block.description, block.params["code"]).ok
    assert "Sales by quarter" in block.params["code"] and result.polish["repaired"]
