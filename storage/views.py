"""Plain, frozen values that the repository hands out (never live ORM objects).

Why: the UI reads these from other threads and long after the session that loaded them is
closed; an ORM object there would lazy-load on a dead session or race another thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.errors import BlockGone
from models.vocab import BlockStatus
from storage.schema import Article, ArticleRating, Block, BlockVersion, Project

TAG_OPEN, TAG_CLOSE = "<imgen>", "</imgen>"


def llmi_tag(source: str | None, description: str, params: dict[str, Any] | None, raw: str | None) -> str:
    """The image call as an LLM-I tag, written like ``studio.core.protocol.format_tag`` does.

    storage/ may not import studio/, so the format (a Python-literal dict between ``<imgen>``
    tags, keys in protocol order) is repeated here; params keep the key order they were stored
    with. A call without a source (an invalid tag) is its raw text.
    """
    if source is None:
        return raw or ""
    payload = {"source": source, "description": description, "params": dict(params or {})}
    return f"{TAG_OPEN}{payload!r}{TAG_CLOSE}"


@dataclass(frozen=True)
class AssetRef:
    sha256: str
    mime: str


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class VersionInfo:
    id: int
    block_key: str
    number: int
    kind: str  # "text" | "image"
    origin: str  # generated | regenerate | rewrite | edit
    parent_number: int | None
    instruction: str | None
    created_at: datetime
    text: str | None
    source: str | None
    description: str | None
    params: dict[str, Any] | None
    raw: str | None
    status: str | None
    error: str | None
    provenance: dict[str, Any] | None
    asset: AssetRef | None
    seconds: float | None

    @property
    def tag(self) -> str:
        """The version in LLM-I format: its text, or its image call as a tag."""
        if self.kind == "text":
            return self.text or ""
        if self.status == BlockStatus.INVALID:
            return self.raw or llmi_tag(self.source, self.description or "", self.params, self.raw)
        return llmi_tag(self.source, self.description or "", self.params, self.raw)


@dataclass(frozen=True)
class BlockInfo:
    key: str
    position: int
    kind: str
    image_index: int | None
    current_version: int
    accepted_version: int | None
    version_count: int
    current: VersionInfo
    candidate: VersionInfo | None = None  # shown beside the current version, awaiting a decision


@dataclass(frozen=True)
class ArticleInfo:
    id: int
    project_id: int
    brief: str
    input_images: tuple[AssetRef, ...]
    settings: dict[str, Any]
    status: str  # running | done | failed | interrupted
    error: str | None
    seconds: float | None
    created_at: datetime
    finished_at: datetime | None
    blocks: tuple[BlockInfo, ...]

    def llmi_text(self) -> str:
        """The article's current versions in the LLM-I response format (text with tags)."""
        return "".join(b.current.tag for b in self.blocks)

    def block(self, key: str) -> BlockInfo:
        for b in self.blocks:
            if b.key == key:
                return b
        raise BlockGone(key)


@dataclass(frozen=True)
class RatingInfo:
    id: int
    article_id: int
    thumbs: int | None
    stars: int | None
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class PreferenceEventInfo:
    id: int
    kind: str
    created_at: datetime
    project_id: int | None
    article_id: int | None
    block_key: str | None
    chosen_version_id: int | None
    rejected_version_id: int | None
    context: dict[str, Any]
    owner: str = "local"  # the user whose event it is (storage.schema.LOCAL_USER)


def project_info(p: Project) -> ProjectInfo:
    return ProjectInfo(p.id, p.name, p.created_at, p.updated_at)


def version_info(v: BlockVersion, block: Block) -> VersionInfo:
    return VersionInfo(
        id=v.id,
        block_key=block.key,
        number=v.number,
        kind=block.kind,
        origin=v.origin,
        parent_number=v.parent_number,
        instruction=v.instruction,
        created_at=v.created_at,
        text=v.text,
        source=v.source,
        description=v.description,
        params=dict(v.params) if v.params is not None else None,
        raw=v.raw,
        status=v.status,
        error=v.error,
        provenance=dict(v.provenance) if v.provenance is not None else None,
        asset=AssetRef(v.asset_sha256, v.mime or "application/octet-stream") if v.asset_sha256 else None,
        seconds=v.seconds,
    )


def block_info(b: Block) -> BlockInfo:
    by_number = {v.number: v for v in b.versions}
    current = by_number[b.current_version]
    candidate = by_number.get(b.candidate_version) if b.candidate_version is not None else None
    return BlockInfo(
        key=b.key,
        position=b.position,
        kind=b.kind,
        image_index=b.image_index,
        current_version=b.current_version,
        accepted_version=b.accepted_version,
        version_count=len(b.versions),
        current=version_info(current, b),
        candidate=version_info(candidate, b) if candidate is not None else None,
    )


def article_info(a: Article) -> ArticleInfo:
    return ArticleInfo(
        id=a.id,
        project_id=a.project_id,
        brief=a.brief,
        input_images=tuple(AssetRef(i["sha256"], i["mime"]) for i in a.input_images),
        settings=dict(a.settings),
        status=a.status,
        error=a.error,
        seconds=a.seconds,
        created_at=a.created_at,
        finished_at=a.finished_at,
        blocks=tuple(block_info(b) for b in a.blocks if b.versions and b.deleted_at is None),
    )


def rating_info(r: ArticleRating) -> RatingInfo:
    return RatingInfo(r.id, r.article_id, r.thumbs, r.stars, r.comment, r.created_at)
