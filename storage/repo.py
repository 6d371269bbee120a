"""Repository functions: what the UI and the CLI call. Each call is one short transaction.

Every function takes the ``Store`` first and returns frozen values from ``storage.views``.
Block versions are addressed by ``(article_id, block_key, number)``; ``block_key`` is the
engine's stable block id ("b3"). Regenerate / rewrite / accept / revert each append a
preference event (``storage.prefs``) in the same transaction as the change itself, so the log
and the project can never disagree. There is deliberately no function that edits or deletes
a preference event.

Ownership: projects are created for an ``owner`` (``LOCAL_USER`` by default) and every
function that takes an id also takes ``owner``: given, the row must be that user's, else the
call raises the same ``NotFound`` as for an unknown id. ``None`` means any owner (the admin
CLI). ``studio.app.session.Session`` always passes its user, so every UI and API endpoint
inherits the check.

Unknown ids raise ``NotFound``; database failures raise ``StorageError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from models.errors import NotFound, Refused
from models.vocab import IN_FLIGHT, ArticleStatus, BlockStatus
from storage.db import Store
from storage.edits import (  # noqa: F401 - re-exported: repo is the one facade callers use
    article_title,
    delete_block,
    delete_project,
    insert_text_block,
    move_block,
    purge_deleted_projects,
    restore_block,
    restore_project,
)
from storage.history import history_state, list_steps, redo, undo  # noqa: F401 - re-exported (the facade)
from storage.prefs import article_context, log_event
from storage.revisions import insert_image_block, log_revision  # noqa: F401 - re-exported (the facade)
from storage.rows import (  # noqa: F401 - IMAGE_STATUSES is part of the facade
    IMAGE_STATUSES,
    check_article_owner,
    listed_status,
    project_row,
)
from storage.schema import LOCAL_USER, Article, ArticleRating, AssetOwner, Block, BlockVersion, Project, utcnow
from storage.versions import (  # noqa: F401 - re-exported: repo is the one facade callers use
    accept_version,
    add_image_version,
    add_text_version,
    article_versions,
    discard_candidate,
    finish_image_version,
    list_versions,
    revert_version,
)
from storage.views import (
    ArticleInfo,
    ProjectInfo,
    RatingInfo,
    article_info,
    project_info,
    rating_info,
)

# --- projects ----------------------------------------------------------------------------------


def create_project(store: Store, name: str, owner: str = LOCAL_USER) -> ProjectInfo:
    with store.write() as s:
        project = Project(name=_clean_name(name), owner=owner)
        s.add(project)
        s.flush()
        return project_info(project)


def list_projects(store: Store, owner: str | None = None) -> list[ProjectInfo]:
    """The owner's projects (all projects for ``None``) not deleted, most recently changed first."""
    with store.read() as s:
        query = select(Project).where(Project.deleted_at.is_(None))
        if owner is not None:
            query = query.where(Project.owner == owner)
        rows = s.scalars(query.order_by(Project.updated_at.desc(), Project.id.desc()))
        return [project_info(p) for p in rows]


def get_project(store: Store, project_id: int, owner: str | None = None) -> ProjectInfo:
    """A project; NotFound when there is none, it was deleted or it is another user's."""
    with store.read() as s:
        project = project_row(s, project_id, owner)
        if project.deleted_at is not None:
            raise NotFound(f"project {project_id} was deleted")
        return project_info(project)


def rename_project(store: Store, project_id: int, name: str, owner: str | None = None) -> ProjectInfo:
    with store.write() as s:
        project = project_row(s, project_id, owner)
        project.name = _clean_name(name)
        project.updated_at = utcnow()
        return project_info(project)


def duplicate_project(store: Store, project_id: int, name: str | None = None, owner: str | None = None) -> ProjectInfo:
    """A deep copy for the same owner: articles, blocks and every version; assets are shared by
    hash, ratings not copied."""
    with store.write() as s:
        src = s.scalars(
            select(Project)
            .where(Project.id == project_id)
            .options(selectinload(Project.articles).selectinload(Article.blocks).selectinload(Block.versions))
        ).one_or_none()
        if src is None or (owner is not None and src.owner != owner):
            raise NotFound(f"project {project_id} not found")
        copy = Project(name=_clean_name(name or f"{src.name} (copy)"), owner=src.owner)
        for a in src.articles:
            copy.articles.append(
                Article(
                    brief=a.brief,
                    input_images=list(a.input_images),
                    settings=dict(a.settings),
                    status=a.status,
                    error=a.error,
                    seconds=a.seconds,
                    created_at=a.created_at,
                    finished_at=a.finished_at,
                    blocks=[_copy_block(b) for b in a.blocks],
                )
            )
        s.add(copy)
        s.flush()
        return project_info(copy)


def _copy_block(b: Block) -> Block:
    skip = {"id", "block_id"}
    versions = [
        BlockVersion(**{c.key: getattr(v, c.key) for c in BlockVersion.__table__.columns if c.key not in skip})
        for v in b.versions
    ]
    return Block(
        key=b.key,
        position=b.position,
        kind=b.kind,
        image_index=b.image_index,
        current_version=b.current_version,
        accepted_version=b.accepted_version,
        candidate_version=b.candidate_version,
        deleted_at=b.deleted_at,
        versions=versions,
    )


# --- articles ----------------------------------------------------------------------------------


def article_summaries(
    store: Store, project_id: int, owner: str | None = None
) -> list[tuple[int, str, str, str | None]]:
    """(article id, brief, status, error) of each article of a project, oldest first: a cheap list.
    A finished article the model ended at its token limit has the status 'cut off'."""
    with store.read() as s:
        project_row(s, project_id, owner)
        rows = s.execute(
            select(Article.id, Article.brief, Article.status, Article.error, Article.settings)
            .where(Article.project_id == project_id)
            .order_by(Article.id)
        )
        return [(r[0], r[1], listed_status(r[2], r[4]), r[3]) for r in rows]


def list_articles(store: Store, project_id: int, owner: str | None = None) -> list[ArticleInfo]:
    """The project's articles, oldest first, with their blocks."""
    with store.read() as s:
        project_row(s, project_id, owner)
        rows = s.scalars(_article_query().where(Article.project_id == project_id).order_by(Article.id))
        return [article_info(a) for a in rows]


def open_article(store: Store, article_id: int, owner: str | None = None) -> ArticleInfo:
    """The article with the current version of every block, in order."""
    with store.read() as s:
        check_article_owner(s, article_id, owner)
        article = s.scalars(_article_query().where(Article.id == article_id)).one_or_none()
        if article is None:
            raise NotFound(f"article {article_id} not found")
        return article_info(article)


def latest_article(store: Store, project_id: int, owner: str | None = None) -> ArticleInfo | None:
    with store.read() as s:
        project_row(s, project_id, owner)
        article_id = s.scalar(select(func.max(Article.id)).where(Article.project_id == project_id))
    return open_article(store, article_id) if article_id is not None else None


def mark_interrupted(store: Store, writers: Iterable[str | None] | None = None) -> int:
    """Articles left 'running' by a dead process become 'interrupted', and their unfinished image
    calls 'failed'. Returns how many articles. ``writers``: only articles of these writers
    (``storage.processes`` finds the dead ones; None in it: articles without a writer); None:
    every running article (call that only when no writer runs)."""
    with store.write() as s:
        query = select(Article.id).where(Article.status == ArticleStatus.RUNNING)
        if writers is not None:
            names = [w for w in writers if w is not None]
            cond = Article.writer.in_(names)
            query = query.where(or_(cond, Article.writer.is_(None)) if None in writers else cond)
        ids = list(s.scalars(query))
        if ids:
            s.execute(
                update(Article)
                .where(Article.id.in_(ids))
                .values(status=ArticleStatus.INTERRUPTED, error="the studio stopped before the article was finished")
            )
            blocks = select(Block.id).where(Block.article_id.in_(ids))
            s.execute(
                update(BlockVersion)
                .where(BlockVersion.block_id.in_(blocks), BlockVersion.status.in_(IN_FLIGHT))
                .values(
                    status=BlockStatus.FAILED, error="interrupted: the studio stopped while this image was being made"
                )
            )
        return len(ids)


def _article_query() -> Any:
    return select(Article).options(selectinload(Article.blocks).selectinload(Block.versions))


# --- ratings -----------------------------------------------------------------------------------


def rate_article(
    store: Store,
    article_id: int,
    *,
    thumbs: int | None = None,
    stars: int | None = None,
    comment: str = "",
    owner: str | None = None,
) -> RatingInfo:
    """Thumbs (+1/-1) and/or 1-5 stars with a comment; also logged as a 'rating' event."""
    if thumbs is None and stars is None:
        raise Refused("give thumbs (+1 or -1) or stars (1-5)")
    if thumbs not in (None, 1, -1) or (stars is not None and not 1 <= stars <= 5):
        raise Refused(f"thumbs must be +1 or -1 and stars 1-5, got thumbs={thumbs} stars={stars}")
    with store.write() as s:
        check_article_owner(s, article_id, owner)
        article = s.scalars(_article_query().where(Article.id == article_id)).one_or_none()
        if article is None:
            raise NotFound(f"article {article_id} not found")
        rating = ArticleRating(article_id=article_id, thumbs=thumbs, stars=stars, comment=comment)
        s.add(rating)
        s.flush()
        context = {**article_context(s, article), "thumbs": thumbs, "stars": stars, "comment": comment}
        log_event(s, "rating", article=article, context=context)
        return rating_info(rating)


def list_ratings(store: Store, article_id: int, owner: str | None = None) -> list[RatingInfo]:
    with store.read() as s:
        check_article_owner(s, article_id, owner)
        rows = s.scalars(select(ArticleRating).where(ArticleRating.article_id == article_id).order_by(ArticleRating.id))
        return [rating_info(r) for r in rows]


# --- assets ------------------------------------------------------------------------------------


def asset_readable(store: Store, sha256: str, owner: str | None) -> bool:
    """May ``owner`` read this asset (it is in one of their articles or uploads)? None: anyone."""
    with store.read() as s:
        query = select(AssetOwner.sha256).where(AssetOwner.sha256 == sha256)
        if owner is not None:
            query = query.where(AssetOwner.owner == owner)
        return s.scalar(query.limit(1)) is not None


# --- helpers -----------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join(name.split())[:200]
    if not name:
        raise Refused("a project needs a name")
    return name
