"""The taste model as one more term of the candidate score (quality mode, Regenerate).

Combined score of candidate i (documented in README "Your taste model"):

    combined_i = base_i + TASTE_WEIGHT * (taste_i - 0.5)

``base_i`` is what selection used before: the judge's reward R, else the text judge's part,
else the rule reward, after the rule filter (candidates with broken tags, failed calls or the
wrong image count are still filtered out first). ``taste_i`` is the mean probability, under the
Bradley-Terry model, that the user prefers candidate i over each other candidate
(``sigmoid(s_i - s_j)`` averaged over j), so it lies in (0, 1) and is 0.5 for a lone candidate.
As the research's hybrid reward adds judge terms to rule terms, this adds the user's taste;
with equal rule rewards (the common case) the taste decides. An article's taste score is the
mean over its image blocks (its text blocks when it has none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from studio.core.article import Article, ImageBlock, TextBlock
from studio.quality.taste import TasteModel, sigmoid
from studio.quality.taste_features import view_of_block

TASTE_WEIGHT = 0.5  # like the LLM judge's weight in R = 0.2 num + 0.3 mllm num + 0.5 llm


def taste_terms(scores: Sequence[float]) -> list[float]:
    """Mean win probability of each candidate against the others (0.5 alone)."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) < 2:
        return [0.5] * len(s)
    wins = sigmoid(s[:, None] - s[None, :])
    np.fill_diagonal(wins, 0.0)
    return [float(v) for v in wins.sum(axis=1) / (len(s) - 1)]


def article_score(model: TasteModel, article: Article) -> float:
    """The taste model's score of a whole candidate article (mean over its blocks)."""
    blocks: list[ImageBlock | TextBlock] = list(article.image_blocks())
    if not blocks:
        blocks = [b for b in article.blocks if isinstance(b, TextBlock) and b.text.strip()]
    if not blocks:
        return 0.0
    return float(np.mean(model.score([view_of_block(article, b) for b in blocks])))


def article_terms(model: TasteModel, articles: Sequence[Article]) -> list[float]:
    return taste_terms([article_score(model, a) for a in articles])


def prefers_sentence(probability: float) -> str:
    return f"your taste model prefers this ({probability:.2f})"
