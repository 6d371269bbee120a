"""Training a user's taste model from the store, and finding the one to use.

The app layer's part of studio.quality.taste: read *this user's* preference events (never
another user's: ``list_preference_events(owner=user)``), turn them into the exported
conversational rows (storage.pref_rows, the same rows the TRL export writes), fetch each
version's image from the asset store, train, save a new version under
``<data_dir>/taste/<user>/``. Used by ``python -m studio taste train``, the UI's *Train on my
choices* button (a queued job with a progress bar) and the bench.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import StorageError
from storage.db import Store
from storage.pref_rows import preference_rows
from storage.prefs import list_preference_events
from studio.quality.taste import MIN_PAIRS, Progress, TasteModel, TasteReport, train_taste
from studio.quality.taste_features import BlockView, views_from_row
from studio.quality.taste_store import TasteStore

log = logging.getLogger(__name__)
_TRAINING: set[str] = set()  # users whose model is being trained in this process
_TRAINING_LOCK = threading.Lock()


def taste_root(data_dir: Path) -> Path:
    return Path(data_dir) / "taste"


def _image(store: Store, sha256: Any) -> bytes | None:
    if not isinstance(sha256, str) or not sha256:
        return None
    try:
        return store.assets.read(sha256)
    except StorageError:  # a missing asset: the pair still counts by its call and text
        return None


def user_rows(store: Store, user: str) -> list[dict[str, Any]]:
    """This user's preference rows (accept / revert / manual edit pairs), as exported."""
    events = list_preference_events(store, owner=user)
    rows, _ = preference_rows(events)
    return rows


def user_pairs(store: Store, user: str) -> tuple[list[tuple[BlockView, BlockView]], list[int]]:
    """(chosen, rejected) views of this user's rows, and each row's event id."""
    pairs, ids = [], []
    for row in user_rows(store, user):
        chosen = _image(store, row.get("chosen_image_sha256"))
        rejected = _image(store, row.get("rejected_image_sha256"))
        pairs.append(views_from_row(row, chosen, rejected))
        ids.append(int(row["event_id"]))
    return pairs, ids


@dataclass(frozen=True)
class TrainResult:
    report: TasteReport
    folder: Path


def train_user_model(
    store: Store,
    data_dir: Path,
    user: str,
    *,
    min_pairs: int = MIN_PAIRS,
    progress: Progress | None = None,
    seed: int = 0,
) -> TrainResult:
    """Train and save a new version of ``user``'s taste model (one training per user at a time)."""
    with _TRAINING_LOCK:
        if user in _TRAINING:
            raise ValueError("your taste model is already being trained: wait until that run ends")
        _TRAINING.add(user)
    try:
        pairs, ids = user_pairs(store, user)
        model = train_taste(pairs, user=user, event_ids=ids, min_pairs=min_pairs, progress=progress, seed=seed)
        folder = TasteStore(taste_root(data_dir), user).save(model)
        log.info("taste model of %s saved in %s: %s", user, folder, model.report.sentence())
        return TrainResult(model.report, folder)
    finally:
        with _TRAINING_LOCK:
            _TRAINING.discard(user)


def usable_taste(data_dir: Path, user: str) -> tuple[TasteModel | None, str]:
    """The user's last good taste model, or None and why none is used."""
    return TasteStore(taste_root(data_dir), user).usable_model()


def eta_line(share: float, message: str, started: float) -> str:
    """'42% read 120 of 300 texts, about 12 s left' (no ETA before anything is done)."""
    elapsed = time.monotonic() - started
    left = f", about {elapsed * (1 - share) / share:.0f} s left" if 0.02 < share < 1 else ""
    return f"{share:4.0%} {message}{left}"


def rank_views(model: TasteModel, views: Sequence[BlockView]) -> list[float]:
    """Scores of the views (higher = this user prefers it)."""
    return [float(s) for s in model.score(views)]
