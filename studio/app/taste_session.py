"""A session's taste model (mixed into ``Session``): train it, find the usable one, rank
Regenerate's K candidates with it.

Always this session's user: the model is trained on ``owner == user`` events only and saved in
that user's folder (studio.app.taste_jobs), so in team mode no user's choices reach another's
model, and an admin's model is trained on the admin's own choices like anyone's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.vocab import BlockStatus
from studio.app.regenerate import Regenerated
from studio.app.taste_jobs import TrainResult, taste_root, train_user_model, usable_taste
from studio.core.article import Article, ImageBlock
from studio.quality.taste import Progress, TasteModel
from studio.quality.taste_features import view_of_block
from studio.quality.taste_rank import prefers_sentence, taste_terms
from studio.quality.taste_store import TasteStore, load_report

if TYPE_CHECKING:
    from studio.app.session import Studio


class TasteActions:
    """Taste-model actions; the host (``Session``) provides the studio and the user."""

    studio: Studio
    user: str

    def _data_dir(self) -> Path:
        return Path(self.studio.settings.data_dir)

    def taste_store(self) -> TasteStore:
        return TasteStore(taste_root(self._data_dir()), self.user)

    def train_taste(self, progress: Progress | None = None) -> TrainResult:
        """Train a new version of this user's taste model on this user's choices."""
        return train_user_model(
            self.studio.store,
            self._data_dir(),
            self.user,
            min_pairs=self.studio.settings.taste_min_pairs,
            progress=progress,
        )

    def taste_model(self) -> tuple[TasteModel | None, str]:
        """This user's usable taste model, or None and the sentence that says why none is used."""
        return usable_taste(self._data_dir(), self.user)

    def taste_status(self) -> str:
        """One line for the UI: the newest model's report, or that there is none yet."""
        latest = self.taste_store().latest()
        if latest is None:
            return "No taste model yet: choose between versions (accept / revert), then train."
        report = load_report(latest)
        status = f"Taste model {report.version}: {report.sentence()}"
        if not report.usable and (good := self.taste_store().last_good()) is not None:
            status += f" The last good one ({good.name}) stays in use."
        return status

    def ranked_regenerations(
        self, article: Article, block_id: str, run: Callable[[int], Regenerated], first_seed: int
    ) -> tuple[list[Regenerated], str]:
        """Regenerate's K candidates (``STUDIO_TASTE_CANDIDATES``), ordered worst first so the
        best-ranked is recorded last and shows; the others stay in the history. One candidate
        (today's behaviour) when K is 1 or no taste model is usable. Returns (attempts, note)."""
        k = self.studio.settings.taste_candidates
        model, why = self.taste_model() if k > 1 else (None, "")
        if model is None:
            return [run(first_seed)], (f"one candidate: {why}" if k > 1 else "")
        attempts = [run(first_seed + step) for step in range(k)]
        ok = [a for a in attempts if a.status == BlockStatus.OK]
        failed = [a for a in attempts if a.status != BlockStatus.OK]
        if len(ok) < 2:
            return failed + ok, f"{len(ok)} of {k} candidates came out: nothing to rank"
        views = [view_of_block(article, _as_block(article, block_id, a)) for a in ok]
        terms = taste_terms([float(s) for s in model.score(views)])
        order = sorted(range(len(ok)), key=lambda i: terms[i])
        best = ok[order[-1]]
        note = f"{prefers_sentence(terms[order[-1]])}; {len(attempts) - 1} other candidates are in the history"
        ranked = [ok[i] for i in order[:-1]] + [_with_taste(best, terms[order[-1]], len(attempts), model)]
        return failed + ranked, note


def _as_block(article: Article, block_id: str, attempt: Regenerated) -> ImageBlock:
    """The block as it would be with this attempt in place (for its view)."""
    block = article.block(block_id)
    assert isinstance(block, ImageBlock)
    r = attempt.result
    return dataclasses.replace(
        block,
        source=attempt.source,
        description=attempt.description,
        params=dict(attempt.params),
        status=attempt.status,
        image=r.image,
        mime=r.mime,
    )


def _with_taste(attempt: Regenerated, term: float, k: int, model: TasteModel) -> Regenerated:
    provenance: dict[str, Any] = {
        # two decimals, as every message shows it: a stored 0.745 would read "0.74" beside a "0.75"
        **attempt.result.provenance,
        "taste": {"prefers": round(term, 2), "candidates": k, "model": model.report.version},
    }
    return dataclasses.replace(attempt, result=dataclasses.replace(attempt.result, provenance=provenance))
