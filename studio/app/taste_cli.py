"""`python -m studio taste train [--user NAME]` and `python -m studio taste status [--user NAME]`.

``train`` reads that user's preference pairs from the store, trains a new version of their
taste model (studio.quality.taste), prints progress with an ETA on stderr and the held-out
report at the end, and saves it under ``<data_dir>/taste/``. ``status`` prints the newest
model's report and whether the studio uses it. The default user is the single-user studio's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from models.errors import StudioError
from storage import open_store
from storage.schema import LOCAL_USER
from studio.app.settings import load_settings

# The training stack (numpy, safetensors, sentence-transformers) is an optional extra: it is
# imported when a taste command runs, so `llmi-studio --help` starts on a bare install.
INSTALL_HINT = "pip install 'llmi-studio[taste]' (bash setup.sh installs it)"


class TasteUnavailable(StudioError):
    """The taste model's libraries are not installed."""


def _taste_modules() -> tuple[Any, Any]:
    try:
        from studio.app import taste_jobs
        from studio.quality import taste_store
    except ImportError as exc:
        raise TasteUnavailable(f"the taste model needs {exc.name or 'a missing library'}: {INSTALL_HINT}") from exc
    return taste_jobs, taste_store


def add_taste_parser(subparsers: argparse._SubParsersAction) -> None:
    taste = subparsers.add_parser("taste", help="your taste model: a reward model trained on your own choices")
    taste_sub = taste.add_subparsers(dest="taste_command", required=True)
    train = taste_sub.add_parser(
        "train",
        help="train a new version on the user's accept / revert / rewrite choices",
        description="Train the user's taste model; it is used only when it beats chance on held-out pairs.",
    )
    train.add_argument("--user", default=LOCAL_USER, help=f"whose choices (default: {LOCAL_USER!r}, no accounts)")
    train.set_defaults(func=cmd_taste_train)
    status = taste_sub.add_parser("status", help="the newest model's report and whether the studio uses it")
    status.add_argument("--user", default=LOCAL_USER)
    status.set_defaults(func=cmd_taste_status)


def cmd_taste_train(args: argparse.Namespace) -> int:
    taste_jobs, _ = _taste_modules()
    settings = load_settings()
    store = open_store(settings.database_url, Path(settings.data_dir))
    started = time.monotonic()

    def progress(share: float, message: str) -> None:
        print("\r" + taste_jobs.eta_line(share, message, started).ljust(70), end="", file=sys.stderr, flush=True)

    try:
        result = taste_jobs.train_user_model(
            store, Path(settings.data_dir), args.user, min_pairs=settings.taste_min_pairs, progress=progress
        )
    finally:
        print(file=sys.stderr)
        store.close()
    print(result.report.sentence())
    print(f"saved: {result.folder}")
    return 0


def cmd_taste_status(args: argparse.Namespace) -> int:
    taste_jobs, taste_store = _taste_modules()
    settings = load_settings()
    taste = taste_store.TasteStore(taste_jobs.taste_root(Path(settings.data_dir)), args.user)
    latest = taste.latest()
    if latest is None:
        print(f"no taste model for {args.user!r} yet: python -m studio taste train --user {args.user}")
        return 0
    print(f"{latest.name}: {taste_store.load_report(latest).sentence()}")
    good = taste.last_good()
    print(f"in use: {good}" if good else "in use: none")
    return 0
