"""The preference log as a dataset directory that ``datasets`` loads and TRL trains on as-is.

``export_preferences(store, out_dir, scope=..., keep_identical=False)`` writes::

    out_dir/README.md            dataset card: configs (preferences = default, ratings, vision),
                                 fixed features, how to load and train
    out_dir/preferences-<sha>.parquet  conversational prompt / chosen / rejected (DPO, reward models)
    out_dir/ratings-<sha>.parquet      conversational prompt / completion / label (KTO)
    out_dir/vision-<sha>.parquet       prompt / chosen / rejected + images (vision-language DPO)
    out_dir/*.jsonl              the same rows as JSON lines, images as paths into images/
    out_dir/images/              the images the JSONL names (sha256 file names)

The Parquet files embed every image as bytes (``Image`` features), so the directory is portable
and ``datasets.load_dataset(out_dir)`` needs nothing else; the card declares every feature, so
two exports (even one without any image) load with the same types and concatenate. Files are
0644. Parquet files are named by their content hash: ``datasets`` caches a local directory by
its name and its card, not its content, so a new export under an old name (``prefs/``) would
otherwise load the old rows from the cache. Rows are built by ``storage.pref_rows`` (its docstring has the row format).

Chosen / rejected *images* feed no TRL trainer (TRL has no place for images in completions):
they are there for a custom multimodal reward model. ``vision``'s ``images`` are the user's
input images, the prompt's vision input, which TRL's vision DPO reads.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import StorageError
from storage.assets import sha256_hex
from storage.db import Store
from storage.pref_rows import MAX_ARTICLE_CHARS, ImageRef, Scope, preference_rows, rating_row, vision_rows
from storage.prefs import list_preference_events

_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif", "image/svg+xml": ".svg"}
CONFIGS = ("preferences", "ratings", "vision")
FILE_MODE, DIR_MODE = 0o644, 0o755
ALL = Scope()


@dataclass(frozen=True)
class ExportCounts:
    preferences: int
    ratings: int
    vision: int
    identical_dropped: int  # pairs left out because chosen and rejected were the same

    def summary(self) -> str:
        dropped = f" ({self.identical_dropped} identical pairs left out)" if self.identical_dropped else ""
        return (
            f"{self.preferences} preference pairs{dropped}, {self.ratings} ratings, "
            f"{self.vision} vision pairs (articles with input images)"
        )


@dataclass(frozen=True)
class PreferenceExport:
    out_dir: Path
    counts: ExportCounts


def _features() -> dict[str, Any]:
    from datasets import Features, Image, List, Value

    msgs = List({"role": Value("string"), "content": Value("string")})
    s, i64, b = Value("string"), Value("int64"), Value("bool")
    writer = {
        "writer_backend": s,
        "writer_model": s,
        "written_by": s,
        "generation": {
            "max_tokens": i64,
            "temperature": Value("float64"),
            "top_p": Value("float64"),
            "max_images": i64,
            "max_paragraph_chars": i64,
            "grammar": b,
            "two_phase_code": b,
            "quality": i64,
            "wanted_images": i64,
            "style": s,
            "tools": List(s),
        },
        "user": s,
    }
    preferences = {
        "prompt": msgs,
        "chosen": msgs,
        "rejected": msgs,
        **dict.fromkeys(("brief", "event", "origin", "chosen_origin", "rejected_origin", "created_at"), s),
        "event_id": i64,
        "project_id": i64,
        "article_id": i64,
        **dict.fromkeys(("block_id", "block_kind", "source", "rejected_source", "text_before", "text_after"), s),
        **dict.fromkeys(("chosen_credit", "rejected_credit"), s),
        **dict.fromkeys(("chosen_text", "rejected_text", "chosen_filled_code", "rejected_filled_code"), s),
        "chosen_status": s,
        "rejected_status": s,
        "chosen_image": Image(),
        "rejected_image": Image(),
        "chosen_image_sha256": s,
        "rejected_image_sha256": s,
        "prompt_image_sha256": List(s),
        "same_text": b,
        "identical": b,
        "cut_before": i64,
        "cut_after": i64,
        **writer,
    }
    ratings = {
        "prompt": msgs,
        "completion": msgs,
        "label": b,
        "thumbs": i64,
        "stars": i64,
        "comment": s,
        "brief": s,
        "event_id": i64,
        "created_at": s,
        "project_id": i64,
        "article_id": i64,
        "completion_images": List(Image()),
        "completion_image_sha256": List(s),
        "prompt_image_sha256": List(s),
        **writer,
    }
    vision = {
        "prompt": msgs,
        "chosen": msgs,
        "rejected": msgs,
        "brief": s,
        "event_id": i64,
        "origin": s,
        "article_id": i64,
        "block_id": s,
        "identical": b,
        "images": List(Image()),
    }
    return {"preferences": Features(preferences), "ratings": Features(ratings), "vision": Features(vision)}


def _build(store: Store, scope: Scope, keep_identical: bool, max_chars: int) -> tuple[dict[str, list[Any]], int]:
    events = [e for e in list_preference_events(store) if scope.holds(e)]
    prefs, dropped = preference_rows(events, keep_identical=keep_identical, max_chars=max_chars)
    ratings = [rating_row(e) for e in events if e.kind == "rating"]
    vision = vision_rows(prefs, {e.id: e for e in events})
    return {"preferences": prefs, "ratings": ratings, "vision": vision}, dropped


def _counts(rows: dict[str, list[Any]], dropped: int) -> ExportCounts:
    return ExportCounts(len(rows["preferences"]), len(rows["ratings"]), len(rows["vision"]), dropped)


def count_preferences(
    store: Store, scope: Scope = ALL, *, keep_identical: bool = False, max_chars: int = MAX_ARTICLE_CHARS
) -> ExportCounts:
    """How many rows an export of this scope would hold (shown before the download)."""
    rows, dropped = _build(store, scope, keep_identical, max_chars)
    return _counts(rows, dropped)


def _map_images(value: Any, fn: Callable[[ImageRef], Any]) -> Any:
    if isinstance(value, ImageRef):
        return fn(value)
    if isinstance(value, list):
        return [_map_images(v, fn) for v in value]
    return value


def _file_name(ref: ImageRef) -> str:
    return ref.sha256 + _EXT.get(ref.mime, ".bin")


class _Images:
    """Reads each asset once; copies it into images/ for the JSONL."""

    def __init__(self, store: Store, out_dir: Path) -> None:
        self.store, self.dir = store, out_dir / "images"
        self.dir.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(self.dir, DIR_MODE)

    def embedded(self, ref: ImageRef) -> dict[str, Any] | None:
        if not self.store.assets.exists(ref.sha256):
            return None  # the file is gone: the row keeps its hash and says so with null
        return {"bytes": self.store.assets.read(ref.sha256), "path": _file_name(ref)}

    def path(self, ref: ImageRef) -> str | None:
        if not self.store.assets.exists(ref.sha256):
            return None
        target = self.dir / _file_name(ref)
        if not target.exists():
            shutil.copyfile(self.store.assets.path(ref.sha256), target)
            os.chmod(target, FILE_MODE)
        return f"images/{target.name}"


def sha256_file(path: Path) -> str:
    return sha256_hex(path.read_bytes())


def _replace(tmp: str, path: Path) -> None:
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)  # a reader never sees half a file


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".jsonl", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    _replace(tmp, path)


def _write_parquet(out_dir: Path, name: str, rows: list[dict[str, Any]], features: Any) -> str:
    """Write ``<name>-<sha256 prefix>.parquet``; returns its file name."""
    from datasets import Dataset
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=out_dir)
    os.close(fd)
    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # a bar per file on the app's stderr says nothing
    try:
        Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features).to_parquet(tmp)
    finally:
        if not quiet:
            enable_progress_bars()
    file_name = f"{name}-{sha256_file(Path(tmp))[:16]}.parquet"
    _replace(tmp, out_dir / file_name)
    return file_name


def dataset_card(counts: ExportCounts, features: dict[str, Any], files: dict[str, str]) -> str:
    """README.md: the configs and their fixed features (YAML header), then how to use them.

    A config without rows is left out: ``datasets`` cannot load a split with no data."""
    import yaml  # with datasets: the "prefs" extra, not needed to start the CLI

    present = [name for name in CONFIGS if getattr(counts, name)]
    header = {
        "configs": [
            {
                "config_name": name,
                **({"default": True} if name == present[0] else {}),
                "data_files": [{"split": "train", "path": files[name]}],
            }
            for name in present
        ],
        "dataset_info": [{"config_name": name, "features": features[name]._to_yaml_list()} for name in present],
        "tags": ["trl", "dpo", "kto", "reward-modeling", "llm-i-studio"],
    }
    body = f"""# LLM-I Studio preference data

Exported from the studio's preference log: {counts.summary()}.

```python
from datasets import load_dataset
pairs = load_dataset(DIR, split="train")                    # preferences: DPOTrainer, RewardTrainer
ratings = load_dataset(DIR, "ratings", split="train")       # prompt / completion / label: KTOTrainer
vision = load_dataset(DIR, "vision", split="train")         # + images: vision-language DPOTrainer
```

All configs are conversational: `prompt` is the writer's system prompt and user message as
sent; `chosen` / `rejected` / `completion` are the whole article (LLM-I format, tags as the
writer wrote them) with the judged block's version in place. `origin` says what produced a pair
(accept, revert, rewrite, manual edit); `writer_model`, `writer_backend`, `generation` and `user`
say who wrote it and how (`writer_backend` "pasted response": a response pasted into the studio,
`writer_model` then the source its user gave). Where the writer left chart code empty and a second call filled it
in, the code that ran is in `chosen_filled_code` / `rejected_filled_code`. Long articles are cut
at block boundaries only (`cut_before` / `cut_after` count the blocks left out; the title is
kept).

`chosen_image` / `rejected_image` are the images of the two versions. No TRL trainer reads
images in completions: they are for a custom multimodal reward model. `vision`'s `images` are
the user's input images (the prompt's vision input), as TRL's vision DPO expects.
"""
    missing = [name for name in CONFIGS if name not in present]
    if missing:
        body += f"\nNo rows, so no config (and no Parquet file): {', '.join(missing)}.\n"
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def export_preferences(
    store: Store,
    out_dir: Path,
    scope: Scope = ALL,
    *,
    keep_identical: bool = False,
    max_chars: int = MAX_ARTICLE_CHARS,
) -> PreferenceExport:
    """Write the dataset directory (format above) for all events, a project or an article."""
    out_dir = Path(out_dir)
    try:
        import datasets  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        raise StorageError(
            f"the preference export needs datasets and pyyaml ({exc}): pip install -r requirements.txt "
            "(or pip install 'llmi-studio[prefs]')"
        ) from exc
    try:
        out_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        rows, dropped = _build(store, scope, keep_identical, max_chars)
        counts = _counts(rows, dropped)
        features = _features()
        images = _Images(store, out_dir)
        files: dict[str, str] = {}
        for name in CONFIGS:
            for old in out_dir.glob(f"{name}*.parquet"):  # from an earlier export into this directory
                old.unlink()
            if not rows[name]:
                _write_jsonl(out_dir / f"{name}.jsonl", [])
                continue
            embedded = [{k: _map_images(v, images.embedded) for k, v in r.items()} for r in rows[name]]
            files[name] = _write_parquet(out_dir, name, embedded, features[name])
            plain = [{k: _map_images(v, images.path) for k, v in r.items()} for r in rows[name]]
            _write_jsonl(out_dir / f"{name}.jsonl", plain)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".md", dir=out_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dataset_card(counts, features, files))
        _replace(tmp, out_dir / "README.md")
    except OSError as exc:
        raise StorageError(f"cannot write the preference export to {out_dir}: {exc}") from exc
    return PreferenceExport(out_dir, counts)
