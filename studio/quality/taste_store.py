"""Taste models on disk: one folder per user, one sub-folder per trained version.

    <data_dir>/taste/<user>/v0003/model.safetensors   bt_head.weight, feature_scale (float32)
                                  config.json         format, embedder, feature layout, L2
                                  report.json         the training report (held-out accuracy, CI)
                                  README.md           the model card: what it was trained on

Each training writes a new version (into a temporary folder, then renamed: a crash never
leaves half a model). Kept: the newest version and the newest *usable* one ("the last good
one"), so a bad retraining never loses a model that worked; older versions are removed.
The folder name of a user is their name made safe plus a short hash of it, so two names
that clean up alike never share a folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from studio.quality.taste import EMBEDDER, EMBEDDER_PACKAGE, FEATURE_LAYOUT, TasteError, TasteModel, TasteReport

WEIGHTS, CONFIG, REPORT, CARD = "model.safetensors", "config.json", "report.json", "README.md"
_VERSION_RE = re.compile(r"^v(\d{4,})$")


def user_folder(user: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", user).strip("._")[:40] or "user"
    return f"{safe}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"


def model_card(model: TasteModel) -> str:
    r = model.report
    lo, hi = r.interval
    accuracy = f"{r.accuracy:.1%} ({r.heldout_correct}/{r.heldout_pairs}), 95% Wilson CI {lo:.1%}-{hi:.1%}"
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(r.kinds.items())) or "none"
    return f"""---
library_name: numpy
tags: [reward-model, bradley-terry, preference, llm-i-studio]
---
# Taste model of {r.user!r} ({r.version})

A reward model of one writer's taste, trained by LLM-I Studio on that writer's own choices
(accept / revert / rewrite pairs from the studio's preference log, the conversational rows of
the preference export). It scores one version of one block of an illustrated article; a higher
score means this writer is more likely to keep it.

- Trained on: {r.train_pairs} pairs of {r.pairs} (pairs per kind: {kinds}); {r.heldout_pairs} held out.
- Held-out pairwise accuracy: {accuracy if r.accuracy is not None else "no held-out split"}.
- Used by the studio: {"yes" if r.usable else "no"}. {r.reason}
- Embedder (frozen): {EMBEDDER} from the PyPI package `{EMBEDDER_PACKAGE}`.
- Head: Bradley-Terry (logistic regression on feature differences, no bias), L2 {r.l2:g},
  fitted in {r.seconds:.1f} s.
- Features: {", ".join(FEATURE_LAYOUT)}.

Score: `s(v) = bt_head.weight . (phi(v) / feature_scale)`, `P(a preferred over b) = sigmoid(s(a) - s(b))`.
Load it with `studio.quality.taste_store.load_model(folder)`; `model.score([BlockView, ...])`.
It knows one person's taste on the articles they worked on; it is not a general quality judge.
"""


def save_model(model: TasteModel, folder: Path) -> None:
    """Write the standard folder (weights, config, report, card) into ``folder`` (which must not exist)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    save_file(model.tensors(), str(folder / WEIGHTS), metadata={"format": model.config["format"]})
    (folder / CONFIG).write_text(json.dumps(model.config, indent=2))
    (folder / REPORT).write_text(json.dumps(model.report.to_dict(), indent=2))
    (folder / CARD).write_text(model_card(model))


def load_report(folder: Path) -> TasteReport:
    try:
        return TasteReport.from_dict(json.loads((folder / REPORT).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise TasteError(f"the taste model in {folder} has no readable report ({exc}): train it again") from exc


def load_model(folder: Path) -> TasteModel:
    """A saved version back as a TasteModel (raises TasteError when it is not readable)."""
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(folder / WEIGHTS))
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, ValueError) as exc:
        raise TasteError(f"the taste model in {folder} cannot be read ({exc}): train it again") from exc
    if config.get("format") != "llmi-taste-bradley-terry" or list(config.get("feature_layout", [])) != list(
        FEATURE_LAYOUT
    ):
        raise TasteError(f"the taste model in {folder} was made by another version of the studio: train it again")
    return TasteModel(tensors["bt_head.weight"], tensors["feature_scale"], config, load_report(folder))


class TasteStore:
    """The versions of one user's taste model under ``root`` (``<data_dir>/taste``)."""

    def __init__(self, root: Path, user: str) -> None:
        self.user = user
        self.folder = Path(root) / user_folder(user)

    def versions(self) -> list[Path]:
        """Saved versions, oldest first."""
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := _VERSION_RE.match(p.name))]
        return [p for _, p in sorted(found) if (p / WEIGHTS).is_file()]

    def latest(self) -> Path | None:
        versions = self.versions()
        return versions[-1] if versions else None

    def last_good(self) -> Path | None:
        """The newest version whose report says it may be used."""
        for path in reversed(self.versions()):
            try:
                if load_report(path).usable:
                    return path
            except TasteError:
                continue
        return None

    def save(self, model: TasteModel) -> Path:
        """A new version; then keep only the newest and the last good one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in self.folder.iterdir() if (m := _VERSION_RE.match(p.name))]
        name = f"v{max(numbers, default=0) + 1:04d}"
        model.report.version = name
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.folder))
        save_model(model, tmp / name)
        target = self.folder / name
        (tmp / name).rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
        keep = {target, self.last_good()}
        for path in self.versions():
            if path not in keep:
                shutil.rmtree(path, ignore_errors=True)
        return target

    def usable_model(self) -> tuple[TasteModel | None, str]:
        """The last good model, or None and the sentence that says why none is used."""
        latest = self.latest()
        if latest is None:
            return None, "no taste model yet: train one on your choices"
        good = self.last_good()
        if good is None:
            try:
                why = load_report(latest).reason
            except TasteError as exc:
                why = str(exc)
            return None, f"your taste model is not used. {why}"
        try:
            return load_model(good), f"your taste model {good.name}"
        except TasteError as exc:
            return None, str(exc)

    def export_to(self, out_dir: Path) -> Path | None:
        """Copy the newest version (and the last good one, when different) next to an export."""
        latest = self.latest()
        if latest is None:
            return None
        target, last_good = out_dir / "taste-model", out_dir / "taste-model-last-good"
        for old in (target, last_good):  # an export written again into the same folder
            shutil.rmtree(old, ignore_errors=True)
        shutil.copytree(latest, target)
        good = self.last_good()
        if good is not None and good != latest:
            shutil.copytree(good, last_good)
        return target
