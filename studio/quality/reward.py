"""The paper's hybrid reward (see docs/protocol.md, "After execution" / "Reward and judging").

Rule part: image-count score against the wanted count, tool reward over the tools a task needs,
tag validity and per-source execution success. Judge part: the LLM judge's text and tag scores
and the multimodal judge's three image scores, combined into the paper's

    R = 0.2 * num + 0.3 * mllm * num + 0.5 * llm

``reward`` is only set when both judges really gave scores; without judges ``rule_reward`` is the
number to rank by (defined below). Judges read the *processed* text, where each tag is
``<image>`` or ``<fail_to_generate_image>``.

Rules the judges cannot see (they read the processed text, not the tags) are applied here, as the
paper's judge instructions ask: any invalid tag (a formatting violation) sets the tag score to 1,
and an answer with no tag gets tag score 5. The latter is a known loophole of the paper's reward
(an answer that ignores the images scores full marks on tags); ``close_no_tag_loophole=True``
instead gives 1 when images were wanted (wanted count other than -1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from models.judge import ImageJudgement, Judge, JudgeUnavailable, RubricJudgement, TextJudgement
from models.vocab import BlockStatus
from studio.core.article import Article, TextBlock

TOOL_WEIGHTS = {"code": 0.4, "edit": 0.3, "search": 0.2, "diffusion": 0.1}  # harder tools weigh more
NO_IMAGES = -1  # wanted count: the answer must have no image
ANY_COUNT = 0  # wanted count: no constraint
AT_LEAST_ONE = 99  # wanted count: at least one image
OVER_PENALTY = 0.3  # per image beyond the wanted count (training variant)


# ------------------------------------------------------------------------------ rule terms
def image_count_score(count: int, wanted: int, *, evaluation: bool = False) -> float:
    """The paper's image-count score of ``count`` images against ``wanted``.

    -1: 1 if no image else 0; 0: always 1; 99: 1 if any image else 0; N > 0: count/N when short,
    1 when exact, max(0, 1 - 0.3 * excess) when over. ``evaluation``: exact match only (1 or 0)
    for N > 0; the special values score the same in both variants.
    """
    if count < 0:
        raise ValueError(f"image count must be >= 0, got {count}")
    if wanted == NO_IMAGES:
        return 1.0 if count == 0 else 0.0
    if wanted == ANY_COUNT:
        return 1.0
    if wanted == AT_LEAST_ONE:
        return 1.0 if count > 0 else 0.0
    if wanted < 0:
        raise ValueError(f"wanted image count must be -1, 0, 99 or a positive number, got {wanted}")
    if count == wanted:
        return 1.0
    if evaluation:
        return 0.0
    if count < wanted:
        return count / wanted
    return max(0.0, 1.0 - OVER_PENALTY * (count - wanted))


def tool_reward(required: Collection[str], attempted: Mapping[str, int], succeeded: Mapping[str, int]) -> float:
    """0.5 * weighted share of required tools that succeeded at least once
    + 0.5 * weighted share of required tools attempted at least once (weights: TOOL_WEIGHTS).

    ``attempted`` / ``succeeded`` count calls per source; tools that were not required do not count.
    """
    tools = set(required)
    unknown = tools - TOOL_WEIGHTS.keys()
    if unknown:
        raise ValueError(f"unknown tools {sorted(unknown)}; known: {sorted(TOOL_WEIGHTS)}")
    if not tools:
        raise ValueError("tool_reward needs at least one required tool (no requirement: no tool reward)")
    total = sum(TOOL_WEIGHTS[t] for t in tools)
    done = sum(TOOL_WEIGHTS[t] for t in tools if succeeded.get(t, 0) > 0) / total
    tried = sum(TOOL_WEIGHTS[t] for t in tools if attempted.get(t, 0) > 0) / total
    return 0.5 * done + 0.5 * tried


def llm_term(text_score: float, tag_score: float) -> float:
    """The LLM judge's term in [0, 1]: ((1.4 * text + 0.6 * tag) / 2 - 1) / 4."""
    return ((1.4 * text_score + 0.6 * tag_score) / 2 - 1) / 4


def mllm_term(quality: float, task: float, text_image: float) -> float:
    """The multimodal judge's term in [0, 1]: (mean of the three - 1) / 4."""
    return ((quality + task + text_image) / 3 - 1) / 4


def final_reward(num: float, llm: float, mllm: float) -> float:
    """R = 0.2 * num + 0.3 * mllm * num + 0.5 * llm (images only count as far as their number fits)."""
    return 0.2 * num + 0.3 * mllm * num + 0.5 * llm


def rule_reward_of(num_score: float, tag_validity: float, tool: float | None) -> float:
    """Our judge-free score (not the paper's): the mean of the image-count score, the tag validity
    and, when the task requires tools, the tool reward. All three lie in [0, 1]."""
    terms = [num_score, tag_validity] + ([tool] if tool is not None else [])
    return sum(terms) / len(terms)


# ------------------------------------------------------------------------------ the article
Judgement = TextJudgement | ImageJudgement | RubricJudgement | JudgeUnavailable


@dataclass(frozen=True)
class ArticleScore:
    tags_total: int
    tags_valid: int
    tag_validity: float  # tags_valid / tags_total; 1.0 when there is no tag
    per_source: dict[str, dict[str, float]]  # source -> {total, success, success_rate}
    image_count: int  # tags written (valid or not): what the model chose, as the paper counts
    wanted_images: int
    num_score: float
    tool_reward: float | None  # None when the task requires no tool
    rule_reward: float  # rule_reward_of(...): for runs without judges
    text: TextJudgement | JudgeUnavailable | None = None  # None: no text judge configured
    images: ImageJudgement | JudgeUnavailable | None = None  # None: no image judge configured
    rubric: RubricJudgement | JudgeUnavailable | None = None  # None: no rubric or no judge
    reward: float | None = None  # the paper's R; only when both judges gave scores
    llm: float | None = None  # llm_term of the text judgement
    mllm: float | None = None  # mllm_term of the image judgement
    processed_text: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)  # rule adjustments made to judge scores

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags_total": self.tags_total,
            "tags_valid": self.tags_valid,
            "tag_validity": self.tag_validity,
            "per_source": self.per_source,
            "image_count": self.image_count,
            "wanted_images": self.wanted_images,
            "num_score": self.num_score,
            "tool_reward": self.tool_reward,
            "rule_reward": self.rule_reward,
            "text": self.text.to_dict() if self.text else None,
            "images": self.images.to_dict() if self.images else None,
            "rubric": self.rubric.to_dict() if self.rubric else None,
            "reward": self.reward,
            "llm": self.llm,
            "mllm": self.mllm,
            "notes": list(self.notes),
        }


def processed_article_text(article: Article) -> str:
    """The article as the judges read it: each image block becomes ``<image>`` when its tool gave
    an image, ``<fail_to_generate_image>`` otherwise (failed and invalid alike), as the reference does.
    Built from the blocks rather than by re-matching tags, so an unclosed invalid tag cannot shift
    the placeholders."""
    return "".join(
        b.text
        if isinstance(b, TextBlock)
        else ("<image>" if b.status == BlockStatus.OK else "<fail_to_generate_image>")
        for b in article.blocks
    )


def score_article(
    article: Article,
    *,
    prompt: str,
    wanted_images: int,
    required_tools: Collection[str] = (),
    text_judge: Judge | None = None,
    image_judge: Judge | None = None,
    rubric: Sequence[str] = (),
    evaluation: bool = False,
    close_no_tag_loophole: bool = False,
) -> ArticleScore:
    """Rule scores always; judge scores with whichever judges are given (asked in parallel).

    The rubric goes to the image judge (with the images) when there is one, else to the text judge.
    """
    blocks = article.image_blocks()
    total = len(blocks)
    valid = sum(b.status != BlockStatus.INVALID for b in blocks)
    validity = valid / total if total else 1.0
    num = image_count_score(total, wanted_images, evaluation=evaluation)
    tools: float | None = None
    if required_tools:
        attempted = Counter(b.source for b in blocks if b.source)
        succeeded = Counter(b.source for b in blocks if b.source and b.status == BlockStatus.OK)
        tools = tool_reward(required_tools, attempted, succeeded)
    processed = processed_article_text(article)
    images = [b.image if b.status == BlockStatus.OK and b.image else None for b in blocks]
    mimes = [b.mime for b in blocks]

    text: TextJudgement | JudgeUnavailable | None = None
    pictures: ImageJudgement | JudgeUnavailable | None = None
    graded: RubricJudgement | JudgeUnavailable | None = None
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="judge") as pool:
        text_f = pool.submit(text_judge.judge_text, prompt, processed) if text_judge else None
        image_f = pool.submit(image_judge.judge_images, prompt, processed, images, mimes) if image_judge else None
        rubric_f = None
        if rubric and image_judge:
            rubric_f = pool.submit(image_judge.judge_rubric, prompt, processed, list(rubric), images, mimes)
        elif rubric and text_judge:
            rubric_f = pool.submit(text_judge.judge_rubric, prompt, processed, list(rubric))
        text = text_f.result() if text_f else None
        pictures = image_f.result() if image_f else None
        graded = rubric_f.result() if rubric_f else None

    notes: list[str] = []
    if isinstance(text, TextJudgement):
        text, note = _tag_rules(text, total, valid, wanted_images, close_no_tag_loophole)
        if note:
            notes.append(note)
    llm = llm_term(text.text, text.tags) if isinstance(text, TextJudgement) else None
    mllm = None
    if isinstance(pictures, ImageJudgement):
        mllm = mllm_term(pictures.quality, pictures.task, pictures.text_image)
    return ArticleScore(
        tags_total=total,
        tags_valid=valid,
        tag_validity=validity,
        per_source=article.source_stats(),
        image_count=total,
        wanted_images=wanted_images,
        num_score=num,
        tool_reward=tools,
        rule_reward=rule_reward_of(num, validity, tools),
        text=text,
        images=pictures,
        rubric=graded,
        reward=final_reward(num, llm, mllm) if llm is not None and mllm is not None else None,
        llm=llm,
        mllm=mllm,
        processed_text=processed,
        notes=tuple(notes),
    )


def _tag_rules(
    text: TextJudgement, total: int, valid: int, wanted: int, close_loophole: bool
) -> tuple[TextJudgement, str]:
    """The tag-score rules the judge cannot apply itself (it never sees the raw tags)."""
    if valid < total:
        note = f"tag score {text.tags} -> 1: {total - valid} of {total} tags break the format"
        return replace(text, tags=1), note
    if total == 0:
        tags = 1 if close_loophole and wanted != NO_IMAGES else 5
        if tags != text.tags:
            why = "images were wanted (loophole closed)" if tags == 1 else "the paper's rule for an answer without tags"
            return replace(text, tags=tags), f"tag score {text.tags} -> {tags}: no tag; {why}"
    return text, ""
