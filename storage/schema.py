"""The ORM schema (SQLAlchemy 2, typed). Alembic migrations under ``storage/migrations`` create it.

    projects 1-n articles 1-n blocks 1-n block_versions
    articles 1-n article_ratings
    preference_events (append-only, self-contained: no foreign keys on purpose)
    asset_owners (which user may read which content-hash asset), app_processes (live writers)
    articles 1-n history_steps (the article's undo history, ``storage.history``)

Design notes (why, not what):
- A block's current and accepted versions are *version numbers* on the block, not foreign keys
  to ``block_versions``: a foreign key in each direction would be a cycle that SQLite cannot
  add after the fact and that makes deletes order-dependent. ``(block_id, number)`` is unique.
- Images are files named by SHA-256 (see ``storage.assets``); rows hold the hash and the MIME.
- ``preference_events`` holds its whole context as JSON (brief, neighbouring text, both versions
  with their calls and asset hashes), so deleting or editing a project never changes reward
  data already logged, and the export reads this table alone. Updates and deletes on it are
  refused by a trigger (created by the migration) as well as by the repository API.
- Timestamps are UTC, set by Python, so SQLite and PostgreSQL agree.
- Ownership (revision 0002): a project has an ``owner`` (the account name; ``LOCAL_USER`` for
  the single-user app); its articles, blocks, versions and ratings belong to that owner through
  the project. Preference events carry their own ``owner`` (they outlive projects), and
  ``asset_owners`` lists who referenced each content-hash file (files are shared by hash, so
  one file may have several owners). An article records its ``writer`` (the app process that
  records it, see ``storage.processes``) so another process can tell a dead writer's article.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from models.vocab import ArticleStatus, BlockStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sql_list(values: type[ArticleStatus] | type[BlockStatus]) -> str:
    """The enum's values as an SQL list for a CHECK constraint (the same text migration 0001 wrote)."""
    return ", ".join(f"'{v.value}'" for v in values)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite keeps no zone and hands back naive values, so
    without this a value read back would not compare with one just written."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use storage.schema.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime()}


LOCAL_USER = "local"  # the owner of everything in a single-user studio (accounts off)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # soft delete: hidden from lists, restorable until purged (migration 0004)
    deleted_at: Mapped[datetime | None] = mapped_column()

    articles: Mapped[list[Article]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True, order_by="Article.id"
    )


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    brief: Mapped[str] = mapped_column(Text, default="")
    # [{"sha256": ..., "mime": ...}, ...] in img_index order (user images come first).
    input_images: Mapped[list[Any]] = mapped_column(default=list)
    # How it was written (studio.app.store_adapter.writer_record): backend, model, tools, style,
    # wanted_images, written_by, system_prompt, user_prompt, generation {...}, user.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.RUNNING.value)
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    writer: Mapped[str | None] = mapped_column(String(128))  # storage.processes.process_token()

    project: Mapped[Project] = relationship(back_populates="articles")
    blocks: Mapped[list[Block]] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True, order_by="Block.position"
    )
    ratings: Mapped[list[ArticleRating]] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True, order_by="ArticleRating.id"
    )

    __table_args__ = (CheckConstraint(f"status IN ({_sql_list(ArticleStatus)})", name="ck_articles_status"),)


class Block(Base):
    __tablename__ = "blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))  # the engine's stable block id ("b3")
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    image_index: Mapped[int | None] = mapped_column(Integer)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    accepted_version: Mapped[int | None] = mapped_column(Integer)
    # a version shown beside the current one, awaiting a decision: a failed regeneration (which
    # never replaces a working image) or a rewrite (shown as a diff to accept or discard)
    candidate_version: Mapped[int | None] = mapped_column(Integer)
    deleted_at: Mapped[datetime | None] = mapped_column()  # a block removed in the editor (undoable)

    article: Mapped[Article] = relationship(back_populates="blocks")
    versions: Mapped[list[BlockVersion]] = relationship(
        back_populates="block", cascade="all, delete-orphan", passive_deletes=True, order_by="BlockVersion.number"
    )

    __table_args__ = (
        UniqueConstraint("article_id", "key", name="uq_blocks_article_key"),
        CheckConstraint("kind IN ('text', 'image')", name="ck_blocks_kind"),
        Index("ix_blocks_article_position", "article_id", "position"),
    )


class BlockVersion(Base):
    """One version of a block: a text, or an image call with its result."""

    __tablename__ = "block_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the block
    parent_number: Mapped[int | None] = mapped_column(Integer)  # the version this one was regenerated from
    origin: Mapped[str] = mapped_column(String(16), default="generated")  # generated|regenerate|rewrite|edit
    instruction: Mapped[str | None] = mapped_column(Text)  # the user's rewrite / edit instruction
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # text blocks
    text: Mapped[str | None] = mapped_column(Text)
    # image blocks: the call ...
    source: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any] | None] = mapped_column()
    raw: Mapped[str | None] = mapped_column(Text)  # the tag as the model wrote it (code maybe still empty)
    # ... and its result
    status: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[dict[str, Any] | None] = mapped_column()
    asset_sha256: Mapped[str | None] = mapped_column(String(64))
    mime: Mapped[str | None] = mapped_column(String(64))
    seconds: Mapped[float | None] = mapped_column(Float)

    block: Mapped[Block] = relationship(back_populates="versions")

    __table_args__ = (
        UniqueConstraint("block_id", "number", name="uq_block_versions_number"),
        CheckConstraint(
            f"status IS NULL OR status IN ({_sql_list(BlockStatus)})",
            name="ck_block_versions_status",
        ),
    )


class ArticleRating(Base):
    __tablename__ = "article_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    thumbs: Mapped[int | None] = mapped_column(Integer)  # +1 / -1
    stars: Mapped[int | None] = mapped_column(Integer)  # 1..5
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="ratings")

    __table_args__ = (
        CheckConstraint("thumbs IS NULL OR thumbs IN (-1, 1)", name="ck_article_ratings_thumbs"),
        CheckConstraint("stars IS NULL OR stars BETWEEN 1 AND 5", name="ck_article_ratings_stars"),
        CheckConstraint("thumbs IS NOT NULL OR stars IS NOT NULL", name="ck_article_ratings_some"),
    )


# "undo" / "redo": a step of the article's history taken back or done again; they refer to the
# events of that step (``context["undoes"]`` / ``["redoes"]``) instead of deleting them (revision 0005)
PREFERENCE_KINDS = ("regenerate", "accept", "revert", "rewrite", "rating", "undo", "redo")


class PreferenceEvent(Base):
    """Append-only. Ids are plain integers (no foreign keys) so the log outlives its project."""

    __tablename__ = "preference_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64), index=True)  # the user whose choice this was
    project_id: Mapped[int | None] = mapped_column(Integer)
    article_id: Mapped[int | None] = mapped_column(Integer)
    block_key: Mapped[str | None] = mapped_column(String(32))
    chosen_version_id: Mapped[int | None] = mapped_column(Integer)  # the version the user kept
    rejected_version_id: Mapped[int | None] = mapped_column(Integer)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in PREFERENCE_KINDS)})", name="ck_preference_events_kind"),
    )


class AssetOwner(Base):
    """A user referenced the asset with this hash (an upload, a generated image): they may read it."""

    __tablename__ = "asset_owners"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppProcess(Base):
    """A running app process (``storage.processes``): its heartbeat tells others it is alive."""

    __tablename__ = "app_processes"

    token: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


class HistoryStep(Base):
    """One step of an article's undo history (``storage.history``, revision 0005).

    ``before`` / ``after``: the state of each block the step changed, by key ({"current",
    "accepted", "candidate", "deleted", "position"}; ``null``: the block did not exist yet).
    Versions are append-only, so a step only moves these pointers: undo writes ``before``, redo
    ``after``. ``events``: the preference events the step logged (an undo logs an ``undo`` event
    that refers to them). ``undone`` steps are the redo list; a new step drops them.
    """

    __tablename__ = "history_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the article: the order of the steps
    kind: Mapped[str] = mapped_column(String(32))  # edit_text, accept, move, insert, ...
    label: Mapped[str] = mapped_column(String(200))  # for people: "accept version 2 of b4"
    merge_key: Mapped[str | None] = mapped_column(String(64))  # steps of one action merge (K candidates)
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
    events: Mapped[list[Any]] = mapped_column(default=list)
    undone: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("article_id", "seq", name="uq_history_steps_seq"),)
