"""`python -m studio prefs export --out DIR [--project ID_OR_NAME | --article ID] [--user NAME] [--keep-identical]`.

Writes the preference log as a dataset directory that ``datasets.load_dataset(DIR)`` loads and
TRL trains on (see storage.pref_export), for every project, one project or one article. The
counts are printed first; ``--count`` prints them and writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from storage import Scope, Store, count_preferences, export_preferences, open_store, repo
from studio.app.settings import load_settings
from studio.core.errors import NotFound, StudioError


def add_prefs_parser(subparsers: argparse._SubParsersAction) -> None:
    prefs = subparsers.add_parser("prefs", help="the preference log (regenerate / accept / revert / ratings)")
    prefs_sub = prefs.add_subparsers(dest="prefs_command", required=True)
    export = prefs_sub.add_parser(
        "export",
        help="write a TRL dataset directory: preferences (DPO / reward), ratings (KTO), vision (VLM DPO)",
        description="Write the preference log as a dataset directory: load it with datasets.load_dataset(DIR).",
    )
    export.add_argument("--out", help="output directory (required unless --count)")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--project", help="only this project (its id or name)")
    which.add_argument("--article", type=int, help="only this article (its id)")
    export.add_argument(
        "--keep-identical", action="store_true", help="keep pairs whose chosen and rejected are the same (flagged)"
    )
    export.add_argument("--user", default=None, help="only this user's events and projects (default: every user's)")
    export.add_argument("--count", action="store_true", help="print how many rows an export would hold; write nothing")
    export.set_defaults(func=cmd_prefs_export)


def _scope(store: Store, args: argparse.Namespace) -> Scope:
    owner = args.user
    if args.article is not None:
        repo.open_article(store, args.article, owner)  # KeyError when there is none (or not theirs)
        return Scope(article_id=args.article, owner=owner)
    if args.project is None:
        return Scope(owner=owner)
    projects = repo.list_projects(store, owner)
    matches = [p for p in projects if str(p.id) == args.project or p.name == args.project]
    if not matches:
        known = ", ".join(f"{p.id} {p.name!r}" for p in projects) or "none"
        raise StudioError(f"no project {args.project!r}; projects: {known}")
    return Scope(project_id=matches[0].id, owner=owner)


def cmd_prefs_export(args: argparse.Namespace) -> int:
    if not args.count and not args.out:
        raise StudioError("give --out DIR (or --count to only count the rows)")
    settings = load_settings()
    store = open_store(settings.database_url, Path(settings.data_dir))
    try:
        try:
            scope = _scope(store, args)
        except NotFound as exc:
            raise StudioError(f"no such article: {exc}") from exc
        counts = count_preferences(store, scope, keep_identical=args.keep_identical)
        print(counts.summary())
        if args.count:
            return 0
        result = export_preferences(store, Path(args.out), scope, keep_identical=args.keep_identical)
    finally:
        store.close()
    print(result.out_dir)
    return 0
