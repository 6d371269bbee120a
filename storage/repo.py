"""Repository functions: what the UI and the CLI call. Each call is one short transaction.

Every function takes the ``Store`` first and returns frozen values from ``storage.views``.
Block versions are addressed by ``(article_id, block_key, number)``; ``block_key`` is the
engine's stable block id ("b3"). Regenerate / rewrite / accept / revert each append a
preference event (``storage.prefs``) in the same transaction as the change itself, so the log
and the project can never disagree. There is deliberately no function that edits or deletes
a preference event.

Unknown ids raise ``KeyError``; database failures raise ``StorageError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from storage.db import Store
from storage.prefs import article_context, block_context, log_event, version_snapshot
from storage.schema import Article, ArticleRating, Block, BlockVersion, Project, utcnow
from storage.views import (
    ArticleInfo,
    BlockInfo,
    ProjectInfo,
    RatingInfo,
    VersionInfo,
    article_info,
    block_info,
    project_info,
    rating_info,
    version_info,
)

IMAGE_STATUSES = ("queued", "running", "ok", "failed", "invalid")

# --- projects ----------------------------------------------------------------------------------


def create_project(store: Store, name: str) -> ProjectInfo:
    with store.write() as s:
        project = Project(name=_clean_name(name))
        s.add(project)
        s.flush()
        return project_info(project)


def list_projects(store: Store) -> list[ProjectInfo]:
    """All projects, most recently changed first."""
    with store.read() as s:
        rows = s.scalars(select(Project).order_by(Project.updated_at.desc(), Project.id.desc()))
        return [project_info(p) for p in rows]


def get_project(store: Store, project_id: int) -> ProjectInfo:
    with store.read() as s:
        return project_info(_get(s, Project, project_id))


def rename_project(store: Store, project_id: int, name: str) -> ProjectInfo:
    with store.write() as s:
        project = _get(s, Project, project_id)
        project.name = _clean_name(name)
        project.updated_at = utcnow()
        return project_info(project)


def delete_project(store: Store, project_id: int) -> None:
    """Delete a project with its articles, blocks and versions (the preference log keeps its copy)."""
    with store.write() as s:
        s.delete(_get(s, Project, project_id))


def duplicate_project(store: Store, project_id: int, name: str | None = None) -> ProjectInfo:
    """A deep copy: articles, blocks and every version; assets are shared by hash, ratings not copied."""
    with store.write() as s:
        src = s.scalars(
            select(Project)
            .where(Project.id == project_id)
            .options(selectinload(Project.articles).selectinload(Article.blocks).selectinload(Block.versions))
        ).one_or_none()
        if src is None:
            raise KeyError(f"project {project_id} not found")
        copy = Project(name=_clean_name(name or f"{src.name} (copy)"))
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
        versions=versions,
    )


# --- articles ----------------------------------------------------------------------------------


def list_articles(store: Store, project_id: int) -> list[ArticleInfo]:
    """The project's articles, oldest first, with their blocks."""
    with store.read() as s:
        _get(s, Project, project_id)
        rows = s.scalars(_article_query().where(Article.project_id == project_id).order_by(Article.id))
        return [article_info(a) for a in rows]


def open_article(store: Store, article_id: int) -> ArticleInfo:
    """The article with the current version of every block, in order."""
    with store.read() as s:
        article = s.scalars(_article_query().where(Article.id == article_id)).one_or_none()
        if article is None:
            raise KeyError(f"article {article_id} not found")
        return article_info(article)


def latest_article(store: Store, project_id: int) -> ArticleInfo | None:
    with store.read() as s:
        article_id = s.scalar(select(func.max(Article.id)).where(Article.project_id == project_id))
    return open_article(store, article_id) if article_id is not None else None


def mark_interrupted(store: Store) -> int:
    """At app start: articles left 'running' by a dead process become 'interrupted', and their
    unfinished image calls 'failed'. Returns how many articles. Call only when no writer runs."""
    with store.write() as s:
        ids = list(s.scalars(select(Article.id).where(Article.status == "running")))
        if ids:
            s.execute(
                update(Article)
                .where(Article.id.in_(ids))
                .values(status="interrupted", error="the studio stopped before the article was finished")
            )
            blocks = select(Block.id).where(Block.article_id.in_(ids))
            s.execute(
                update(BlockVersion)
                .where(BlockVersion.block_id.in_(blocks), BlockVersion.status.in_(("queued", "running")))
                .values(status="failed", error="interrupted: the studio stopped while this image was being made")
            )
        return len(ids)


def _article_query() -> Any:
    return select(Article).options(selectinload(Article.blocks).selectinload(Block.versions))


# --- block versions ----------------------------------------------------------------------------


def list_versions(store: Store, article_id: int, block_key: str) -> list[VersionInfo]:
    with store.read() as s:
        block = _block(s, article_id, block_key)
        return [version_info(v, block) for v in block.versions]


def add_text_version(
    store: Store, article_id: int, block_key: str, text: str, *, instruction: str | None = None
) -> VersionInfo:
    """A rewrite of a text block: the new version becomes current; logs a 'rewrite' event."""
    with store.write() as s:
        block = _block(s, article_id, block_key)
        if block.kind != "text":
            raise ValueError(f"block {block_key} is an image block; use add_image_version")
        version = _append_version(s, block, origin="rewrite", instruction=instruction, text=text)
        return version_info(version, block)


def add_image_version(
    store: Store,
    article_id: int,
    block_key: str,
    *,
    source: str,
    description: str,
    params: Mapping[str, Any],
    status: str = "queued",
    error: str | None = None,
    image: bytes | None = None,
    mime: str = "image/png",
    provenance: Mapping[str, Any] | None = None,
    seconds: float | None = None,
    instruction: str | None = None,
) -> VersionInfo:
    """A regeneration of an image block (same call with a new seed, edited params, another tool).

    Typically added as 'queued' and completed by ``finish_image_version`` when the tool is done;
    a finished result can also be passed at once. It becomes current; logs a 'regenerate' event.
    """
    _check_status(status)
    sha = store.assets.put(image) if image else None  # file first: a row never points at nothing
    with store.write() as s:
        block = _block(s, article_id, block_key)
        if block.kind != "image":
            raise ValueError(f"block {block_key} is a text block; use add_text_version")
        version = _append_version(
            s,
            block,
            origin="regenerate",
            instruction=instruction,
            source=source,
            description=description,
            params=dict(params),
            status=status,
            error=error,
            provenance=dict(provenance or {}),
            asset_sha256=sha,
            mime=mime if sha else None,
            seconds=seconds,
        )
        return version_info(version, block)


def finish_image_version(
    store: Store,
    version_id: int,
    *,
    status: str,
    error: str | None = None,
    image: bytes | None = None,
    mime: str = "image/png",
    provenance: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    seconds: float | None = None,
) -> VersionInfo:
    """Record a tool's progress or result on a version ('running', then 'ok' / 'failed')."""
    _check_status(status)
    sha = store.assets.put(image) if image else None
    with store.write() as s:
        version = _get(s, BlockVersion, version_id)
        version.status = status
        version.error = error
        if sha:
            version.asset_sha256, version.mime = sha, mime
        if provenance is not None:
            version.provenance = dict(provenance)
        if params:
            version.params = dict(params)
        if seconds is not None:
            version.seconds = seconds
        return version_info(version, version.block)


def accept_version(
    store: Store, article_id: int, block_key: str, number: int | None = None, *, rejected: int | None = None
) -> BlockInfo:
    """Accept a version (default: the current one); it becomes current and accepted.

    Logs an 'accept' event: chosen = that version, rejected = ``rejected`` if given, else the
    version that was current before (when different), else the one it was regenerated from,
    else the newest other version (None for a block with one version).
    """
    with store.write() as s:
        block = _block(s, article_id, block_key)
        chosen = _version(block, number or block.current_version)
        if rejected is None:
            rejected = _default_rejected(block, chosen)
        loser = _version(block, rejected) if rejected is not None and rejected != chosen.number else None
        _log_choice(s, "accept", block, chosen, loser)
        block.current_version = block.accepted_version = chosen.number
        _touch(s, block)
        s.flush()
        return block_info(block)


def revert_version(store: Store, article_id: int, block_key: str, number: int) -> BlockInfo:
    """Go back to an earlier version: it becomes current (an acceptance of another version is
    cleared). Logs a 'revert' event: chosen = that version, rejected = the one that was current."""
    with store.write() as s:
        block = _block(s, article_id, block_key)
        chosen = _version(block, number)
        if chosen.number != block.current_version:
            _log_choice(s, "revert", block, chosen, _version(block, block.current_version))
            block.current_version = chosen.number
            if block.accepted_version not in (None, chosen.number):
                block.accepted_version = None
            _touch(s, block)
            s.flush()
        return block_info(block)


def _default_rejected(block: Block, chosen: BlockVersion) -> int | None:
    if block.current_version != chosen.number:
        return block.current_version
    if chosen.parent_number is not None:
        return chosen.parent_number
    others = [v.number for v in block.versions if v.number != chosen.number]
    return max(others) if others else None


def _append_version(s: Session, block: Block, *, origin: str, **values: Any) -> BlockVersion:
    previous = _version(block, block.current_version)
    number = max(v.number for v in block.versions) + 1
    version = BlockVersion(number=number, parent_number=previous.number, origin=origin, **values)
    block.versions.append(version)
    block.current_version = number
    s.flush()
    log_event(
        s,
        "rewrite" if block.kind == "text" else "regenerate",
        block=block,
        chosen=None,
        rejected=previous,
        context={
            **block_context(s, block),
            "from": version_snapshot(previous),
            "to": version_snapshot(version),
            "kept": None,  # not decided yet: the accept / revert that follows says which
        },
    )
    _touch(s, block)
    return version


def _log_choice(s: Session, kind: str, block: Block, chosen: BlockVersion, rejected: BlockVersion | None) -> None:
    context = {
        **block_context(s, block),
        "chosen": version_snapshot(chosen),
        "rejected": version_snapshot(rejected) if rejected is not None else None,
        "kept": chosen.number,
    }
    log_event(s, kind, block=block, chosen=chosen, rejected=rejected, context=context)


# --- ratings -----------------------------------------------------------------------------------


def rate_article(
    store: Store, article_id: int, *, thumbs: int | None = None, stars: int | None = None, comment: str = ""
) -> RatingInfo:
    """Thumbs (+1/-1) and/or 1-5 stars with a comment; also logged as a 'rating' event."""
    if thumbs is None and stars is None:
        raise ValueError("give thumbs (+1 or -1) or stars (1-5)")
    if thumbs not in (None, 1, -1) or (stars is not None and not 1 <= stars <= 5):
        raise ValueError(f"thumbs must be +1 or -1 and stars 1-5, got thumbs={thumbs} stars={stars}")
    with store.write() as s:
        article = s.scalars(_article_query().where(Article.id == article_id)).one_or_none()
        if article is None:
            raise KeyError(f"article {article_id} not found")
        rating = ArticleRating(article_id=article_id, thumbs=thumbs, stars=stars, comment=comment)
        s.add(rating)
        s.flush()
        context = {**article_context(s, article), "thumbs": thumbs, "stars": stars, "comment": comment}
        log_event(s, "rating", article=article, context=context)
        return rating_info(rating)


def list_ratings(store: Store, article_id: int) -> list[RatingInfo]:
    with store.read() as s:
        rows = s.scalars(select(ArticleRating).where(ArticleRating.article_id == article_id).order_by(ArticleRating.id))
        return [rating_info(r) for r in rows]


# --- helpers -----------------------------------------------------------------------------------


def _get(s: Session, model: Any, row_id: int) -> Any:
    row = s.get(model, row_id)
    if row is None:
        raise KeyError(f"{model.__tablename__} row {row_id} not found")
    return row


def _block(s: Session, article_id: int, block_key: str) -> Block:
    block = s.scalars(
        select(Block)
        .where(Block.article_id == article_id, Block.key == block_key)
        .options(selectinload(Block.versions))
    ).one_or_none()
    if block is None:
        raise KeyError(f"block {block_key!r} not found in article {article_id}")
    return block


def _version(block: Block, number: int) -> BlockVersion:
    for v in block.versions:
        if v.number == number:
            return v
    raise KeyError(f"block {block.key!r} has no version {number}")


def _touch(s: Session, block: Block) -> None:
    project_id = select(Article.project_id).where(Article.id == block.article_id).scalar_subquery()
    s.execute(update(Project).where(Project.id == project_id).values(updated_at=utcnow()))


def _clean_name(name: str) -> str:
    name = " ".join(name.split())[:200]
    if not name:
        raise ValueError("a project needs a name")
    return name


def _check_status(status: str) -> None:
    if status not in IMAGE_STATUSES:
        raise ValueError(f"status must be one of {IMAGE_STATUSES}, got {status!r}")
