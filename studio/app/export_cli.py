"""`python -m studio export PROJECT_OR_DIR --format html|pdf|md|docx --out PATH`.

studio/cli.py wires it with ``add_export_parser(subparsers)``; the handler is stored as the
sub-command's ``func`` default (studio.app.cli's convention). ``python -m studio.app.export_cli`` runs
the same command on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.core.article import Article
from studio.core.errors import StudioError
from studio.export import FORMATS, export_article
from studio.export.load import load_article_dir
from studio.export.publish_check import checklist_text, publish_check


def add_export_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` sub-command to an argparse sub-parser set."""
    parser = subparsers.add_parser(
        "export",
        help="export an article to HTML, PDF, a Markdown zip or DOCX",
        description="Export an article directory (written by `write`) or a stored project to one file.",
    )
    _configure(parser)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="PROJECT_OR_DIR",
        help="an article directory holding article.json, or a stored project (its id or name): its latest article",
    )
    parser.add_argument("--format", "-f", choices=sorted(FORMATS), default="html", help="output format")
    parser.add_argument("--out", "-o", type=Path, help="output file (default: DIR/article.<ext>)")
    parser.add_argument("--title", help="title to show instead of the first heading")
    parser.add_argument("--no-appendix", action="store_true", help="leave out the list of tool calls")
    parser.add_argument(
        "--include-unfinished",
        action="store_true",
        help="keep placeholders and failed images as neutral 'Figure missing.' boxes (default: left out)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="write nothing and exit with status 3 when the publish check finds anything",
    )
    parser.set_defaults(func=handle_export)


def handle_export(args: argparse.Namespace) -> int:
    """Run the export; print the publish check (stderr), then the written path (stdout) or the
    reason it failed (stderr)."""
    target = Path(args.target)
    try:
        if (target / "article.json").is_file():
            article = load_article_dir(target)
            out = args.out or target / f"article{FORMATS[args.format]}"
        elif target.is_dir():
            raise StudioError(f"{target} is not an article directory (no article.json)")
        else:
            article = _load_from_store(args.target)
            out = args.out or Path(f"article{FORMATS[args.format]}")
        checklist = publish_check(article)
        print(checklist_text(checklist), file=sys.stderr)
        if checklist and args.strict:
            print("export refused (--strict): fix the items above, or export without --strict", file=sys.stderr)
            return 3
        path = export_article(
            article,
            args.format,
            out,
            appendix=not args.no_appendix,
            title=args.title,
            include_unfinished=args.include_unfinished,
        )
    except StudioError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _load_from_store(target: str) -> Article:
    """The latest article of a stored project named by id or name (the studio's project store)."""
    from storage import open_store, repo
    from studio.app.settings import load_settings
    from studio.app.store_adapter import load_article

    settings = load_settings()
    store = open_store(settings.database_url, Path(settings.data_dir))
    try:
        projects = repo.list_projects(store)
        matches = [p for p in projects if str(p.id) == target or p.name == target]
        if not matches:
            raise StudioError(
                f"{target!r} is neither an article directory (no article.json) nor a project in "
                f"{settings.data_dir}; projects: {', '.join(f'{p.id} {p.name!r}' for p in projects) or 'none'}"
            )
        latest = repo.latest_article(store, matches[0].id)
        if latest is None:
            raise StudioError(f"project {matches[0].name!r} has no article yet")
        return load_article(store, latest.id)[1]
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.app.export_cli")
    _configure(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
