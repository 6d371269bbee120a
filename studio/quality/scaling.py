"""Quality mode: test-time scaling as in LLM-I (N candidates, rule filter, judge selection, polish).

1. N candidate articles are written (at once on an OpenAI-compatible server, one after the
   other on the embedded llama.cpp, whose slots serve one article and its chart code). Each runs on an
   enhanced engine: search ranks K hits (studio.quality.ranking), diffusion tries K seeds when an image
   judge can choose.
2. Every candidate is scored (studio.quality.reward.score_article). The rule filter keeps candidates
   whose tags are all valid, whose calls all produced an image and whose image count is right;
   among those the judge's reward decides, or, with no judge, the rule reward (and the result
   says so). With the user's usable taste model the taste term is added to that score
   (studio.quality.taste_rank). ``select_candidate`` is a pure function of the scores.
3. Polish: invalid or failed calls are repaired (fixed params, or another available tool) and
   weak text next to an image is rewritten by the chat model; the polished article is kept
   only if its score did not drop.
"""

from __future__ import annotations

import copy
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from models.base import capabilities_of
from models.errors import StudioError
from models.vocab import Source
from studio.core.agent import Brief, article_chunks, build_messages, chat_options, writer_guard
from studio.core.article import Article
from studio.core.engine import Engine
from studio.core.events import ArticleDone, Event
from studio.quality.polish import QualityServices, polish_article, repair_plans
from studio.quality.ranking import BestOfSeedsTool, RankedSearchTool, TextRanker
from studio.quality.taste_rank import TASTE_WEIGHT, article_terms, prefers_sentence
from tools.search import SearchTool

# --------------------------------------------------------------------------- selection (pure)


@dataclass(frozen=True)
class CandidateScore:
    """What selection needs from one candidate's ArticleScore."""

    tag_validity: float  # share of tags that parsed valid (1.0 when there are none)
    execution_success: float  # share of calls (per-source totals) that produced an image (1.0 when none)
    num_score: float  # image-count score, 0..1
    rule_reward: float
    reward: float | None = None  # the paper's R with judge terms; None when no judge answered
    # R without its image term (0.2 * num + 0.5 * llm): what a text-only judge can say when no
    # multimodal judge answered; None when the text judge did not answer either
    text_reward: float | None = None

    @property
    def passes_rules(self) -> bool:
        return self.tag_validity >= 1.0 and self.execution_success >= 1.0 and self.num_score >= 1.0


@dataclass(frozen=True)
class Selection:
    index: int
    by: Literal["judge", "text-judge", "rules"]
    passed: tuple[int, ...]  # candidates that passed the rule filter
    reason: str
    taste: float | None = None  # the chosen candidate's taste term, when a taste model ranked


def select_candidate(scores: Sequence[CandidateScore], taste: Sequence[float] | None = None) -> Selection:
    """The rule filter, then the judge's reward, else the rule reward; ties go to the earlier candidate.

    ``taste``: one taste term per candidate (studio.quality.taste_rank.taste_terms), added to the
    score that decides as ``TASTE_WEIGHT * (taste - 0.5)``; None: no taste model in use.
    """
    if not scores:
        raise ValueError("no candidates to select from")
    if taste is not None and len(taste) != len(scores):
        raise ValueError(f"{len(taste)} taste terms for {len(scores)} candidates")
    passed = tuple(i for i, s in enumerate(scores) if s.passes_rules)
    pool = list(passed) or list(range(len(scores)))
    filter_note = (
        f"{len(passed)} of {len(scores)} passed the rule filter"
        if passed
        else f"none of {len(scores)} passed the rule filter (valid tags, all calls ok, right image count)"
    )

    def plus_taste(i: int, base: float) -> float:
        return base + (TASTE_WEIGHT * (taste[i] - 0.5) if taste is not None else 0.0)

    def done(best: int, by: Literal["judge", "text-judge", "rules"], reason: str) -> Selection:
        if taste is None:
            return Selection(best, by, passed, reason)
        return Selection(best, by, passed, f"{reason}; {prefers_sentence(taste[best])}", taste[best])

    judged = [i for i in pool if scores[i].reward is not None]
    if judged:
        best = max(judged, key=lambda i: (plus_taste(i, scores[i].reward or 0.0), scores[i].rule_reward, -i))
        reason = f"{filter_note}; the judge's reward picked candidate {best + 1} (R={scores[best].reward:.3f})"
        if len(judged) < len(pool):
            reason += f"; the judge did not answer for {len(pool) - len(judged)}"
        return done(best, "judge", reason)
    text_judged = [i for i in pool if scores[i].text_reward is not None]
    if text_judged:
        best = max(text_judged, key=lambda i: (plus_taste(i, scores[i].text_reward or 0.0), scores[i].rule_reward, -i))
        reason = (
            f"{filter_note}; no image judge score, so the text judge's part of the reward "
            f"(0.2*num + 0.5*llm) picked candidate {best + 1} ({scores[best].text_reward:.3f})"
        )
        if len(text_judged) < len(pool):
            reason += f"; the text judge did not answer for {len(pool) - len(text_judged)}"
        return done(best, "text-judge", reason)
    best = max(pool, key=lambda i: (plus_taste(i, scores[i].rule_reward), -i))
    reason = (
        f"{filter_note}; no judge score (none configured or unavailable): "
        f"the rule reward picked candidate {best + 1} ({scores[best].rule_reward:.3f})"
    )
    return done(best, "rules", reason)


def candidate_score(score: Any) -> CandidateScore:
    """Read an ArticleScore (studio.quality.reward) into the selection's view."""
    per = score.per_source or {}
    total = sum(int(v.get("total", 0)) for v in per.values())
    success = sum(int(v.get("success", 0)) for v in per.values())
    reward = score.reward if isinstance(score.reward, int | float) else None
    llm = getattr(score, "llm", None)
    text_reward = 0.2 * float(score.num_score) + 0.5 * float(llm) if isinstance(llm, int | float) else None
    return CandidateScore(
        tag_validity=float(score.tag_validity),
        execution_success=success / total if total else 1.0,
        num_score=float(score.num_score),
        rule_reward=float(score.rule_reward),
        reward=reward,
        text_reward=text_reward,
    )


# --------------------------------------------------------------------------- events and result


@dataclass(frozen=True)
class CandidateEvent:
    """An engine event of one candidate (0-based)."""

    candidate: int
    event: Event


@dataclass(frozen=True)
class ScalingNote:
    message: str


@dataclass
class Candidate:
    index: int
    article: Article
    score: Any  # studio.quality.reward.ArticleScore
    summary: CandidateScore


@dataclass
class ScalingResult:
    candidates: list[Candidate]
    selection: Selection
    article: Article  # the chosen article, polished when polish helped
    score: Any  # its ArticleScore
    polish: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.selection.index,
            "selected_by": self.selection.by,
            "reason": self.selection.reason,
            "taste": self.selection.taste,
            "passed_rules": list(self.selection.passed),
            "candidates": [{"index": c.index, **c.score.to_dict()} for c in self.candidates],
            "polish": self.polish,
            "final": self.score.to_dict(),
        }


@dataclass(frozen=True)
class ScalingDone:
    result: ScalingResult


ScalingEvent = CandidateEvent | ScalingNote | ScalingDone


# --------------------------------------------------------------------------- the engine and scoring


def enhanced_engine(
    brief: Brief, services: QualityServices, *, k: int, image_judge: Any = None, ranker: TextRanker | None = None
) -> Engine:
    """The studio's engine with search ranking K hits and diffusion trying K seeds (judge permitting)."""
    engine = services.engine(style=brief.style, plan=brief.plan)
    tools: dict[str, Any] = dict(engine.runner.tools)
    if k > 1 and isinstance(tools.get(Source.SEARCH), SearchTool):
        tools[Source.SEARCH] = RankedSearchTool(
            tools[Source.SEARCH], ranker or TextRanker(), k=k, image_judge=image_judge, prompt=brief.text
        )
    if k > 1 and Source.DIFFUSION in tools:
        tools[Source.DIFFUSION] = BestOfSeedsTool(
            tools[Source.DIFFUSION], k=k, image_judge=image_judge, prompt=brief.text
        )
    engine.runner = engine.runner.with_tools(tools)
    return engine


def score(article: Article, brief: Brief, *, required_tools: Sequence[str], judge: Any, image_judge: Any) -> Any:
    from studio.quality.reward import score_article

    wanted = brief.wanted_images if brief.wanted_images is not None else 0  # 0: no constraint
    return score_article(
        article,
        prompt=brief.text,
        wanted_images=wanted,
        required_tools=tuple(required_tools),
        text_judge=judge,
        image_judge=image_judge,
    )


def _write_one(brief: Brief, services: QualityServices, engine: Engine) -> Iterator[Event]:
    article = Article(brief=brief.text, user_images=list(brief.user_images))
    messages = build_messages(brief, services)
    # the writer's chunks as write_article has them (outline first for a brief of many sections)
    chunks = article_chunks(brief, services, article, messages, chat_options(brief, services))
    return engine.run(chunks, article, guard=writer_guard(messages, brief, services, article))


def _candidates(brief: Brief, services: QualityServices, engine: Engine, n: int) -> Iterator[CandidateEvent]:
    """All candidates' events; at once where the backend serves requests concurrently."""
    if not capabilities_of(services.backend).serves_concurrently or n == 1:
        for i in range(n):
            for event in _write_one(brief, services, engine):
                yield CandidateEvent(i, event)
        return
    events: queue.Queue[CandidateEvent | None] = queue.Queue()

    def work(i: int) -> None:
        try:
            for event in _write_one(brief, services, engine):
                events.put(CandidateEvent(i, event))
        finally:
            events.put(None)

    with ThreadPoolExecutor(n, thread_name_prefix="candidate") as pool:
        for i in range(n):
            pool.submit(work, i)
        finished = 0
        while finished < n:
            item = events.get()
            if item is None:
                finished += 1
            else:
                yield item


def write_best_article(
    brief: Brief,
    services: QualityServices,
    *,
    candidates: int,
    judge: Any = None,
    image_judge: Any = None,
    enhance: bool = True,
    polish: bool = True,
    k: int = 4,
    required_tools: Sequence[str] = (),
    ranker: TextRanker | None = None,
    taste: Any = None,
) -> Iterator[ScalingEvent]:
    """Quality mode. ``judge`` / ``image_judge``: models.judge.Judge for the text and the images
    (``Services.judges()`` gives both); None leaves that judge out. ``taste``: the user's usable
    studio.quality.taste.TasteModel (one more term of the score, studio.quality.taste_rank), or None.

    Yields CandidateEvent while candidates stream, ScalingNote at each stage, ScalingDone last.
    """
    n = max(1, candidates)
    if enhance:
        engine = enhanced_engine(brief, services, k=k, image_judge=image_judge, ranker=ranker)
    else:
        engine = services.engine(style=brief.style, plan=brief.plan)
    mode = "at once" if capabilities_of(services.backend).serves_concurrently and n > 1 else "one after the other"
    yield ScalingNote(f"writing {n} candidate{'s' if n > 1 else ''} {mode}")
    articles: dict[int, Article] = {}
    for item in _candidates(brief, services, engine, n):
        if isinstance(item.event, ArticleDone):
            articles[item.candidate] = item.event.article
        yield item
    scored: list[Candidate] = []
    for i in range(n):
        article_score = score(articles[i], brief, required_tools=required_tools, judge=judge, image_judge=image_judge)
        scored.append(Candidate(i, articles[i], article_score, candidate_score(article_score)))
    terms = article_terms(taste, [c.article for c in scored]) if taste is not None else None
    selection = select_candidate([c.summary for c in scored], terms)
    yield ScalingNote(selection.reason)
    chosen = scored[selection.index]
    result = ScalingResult(scored, selection, chosen.article, chosen.score)
    if polish:
        polished = copy.deepcopy(chosen.article)
        report = polish_article(polished, brief, services, engine)
        if report["repaired"] or report["rewritten"]:
            after = score(polished, brief, required_tools=required_tools, judge=judge, image_judge=image_judge)
            kept = _not_worse(candidate_score(after), chosen.summary)
            report["kept"] = kept
            report["rule_reward"] = {"before": chosen.summary.rule_reward, "after": candidate_score(after).rule_reward}
            if kept:
                result.article, result.score = polished, after
        else:
            report["kept"] = False
        result.polish = report
        yield ScalingNote(_polish_note(report))
    yield ScalingDone(result)


def _not_worse(after: CandidateScore, before: CandidateScore) -> bool:
    if after.reward is not None and before.reward is not None and after.reward < before.reward:
        return False
    return after.rule_reward >= before.rule_reward


def _polish_note(report: dict[str, Any]) -> str:
    what = f"polish repaired {len(report['repaired'])} call(s), rewrote {len(report['rewritten'])} paragraph(s)"
    return what + ("" if report.get("kept") or not (report["repaired"] or report["rewritten"]) else "; not kept")


# --------------------------------------------------------------------------- polish


def collect_with(
    events: Iterator[ScalingEvent], on_event: Callable[[ScalingEvent], object] | None = None
) -> ScalingResult:
    """Drain a quality-mode run (handing each event to ``on_event``) and return its result."""
    for event in events:
        if on_event is not None:
            on_event(event)
        if isinstance(event, ScalingDone):
            return event.result
    raise StudioError("quality mode ended without a result")


__all__ = [
    "Candidate",
    "CandidateEvent",
    "CandidateScore",
    "ScalingDone",
    "ScalingEvent",
    "ScalingNote",
    "ScalingResult",
    "Selection",
    "collect_with",
    "enhanced_engine",
    "polish_article",
    "repair_plans",
    "select_candidate",
    "write_best_article",
]
