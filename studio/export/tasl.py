"""The TASL credit of a search image: Title, Author, Source, Licence, from its provenance keys.

Search provenance (tools.search) carries ``title``, ``page_url``, ``image_url``, ``creator``,
``licence`` ("CC BY-SA 4.0"), ``licence_url``, ``provider`` and ``source`` (the site); older
rows and unlicensed providers have only ``licence_hint``. Every exporter and the card call
``tasl`` so the credit reads the same everywhere. Values are UNTRUSTED web strings: returned as
plain text (control characters dropped, lengths capped); the formats escape them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.vocab import BlockStatus, Source
from studio.core.article import Article, ImageBlock
from studio.export.sources import plain, safe_url


@dataclass(frozen=True)
class Tasl:
    title: str
    author: str
    source: str  # the site ("commons.wikimedia.org"), with the provider when it differs
    licence: str  # "CC BY-SA 4.0", or "" when unknown
    licence_url: str | None  # only a safe http(s) URL
    page_url: str | None
    hint: str  # the generic licence hint when the licence is unknown

    @property
    def extra(self) -> str:
        """What follows the (linked) title: "by A, site, CC BY 4.0 <url>" or the licence hint."""
        licence = self.licence or self.hint  # unlicensed providers: the hint, as before
        if self.licence and self.licence_url:
            licence = f"{self.licence} ({self.licence_url})"
        parts = [f"by {self.author}" if self.author else "", self.source, licence]
        return ", ".join(p for p in parts if p)

    def line(self) -> str:
        """One plain-text credit line: Title, Author, Source, Licence."""
        return f"Source: {self.title}" + (f" ({self.extra})" if self.extra else "")


def tasl(prov: Mapping[str, Any]) -> Tasl:
    """The TASL parts of a search image's provenance."""
    site = plain(prov.get("source"), 200)
    provider = plain(prov.get("provider"), 40)
    if provider and provider != "ddgs" and provider not in site:
        site = f"{site} via {provider}" if site else provider
    return Tasl(
        title=plain(prov.get("title"), 300) or plain(prov.get("source"), 200) or "web image",
        author=plain(prov.get("creator"), 200),
        source=site,
        licence=plain(prov.get("licence"), 200),
        licence_url=safe_url(prov.get("licence_url")),
        page_url=safe_url(prov.get("page_url")) or safe_url(prov.get("image_url")),
        hint=plain(prov.get("licence_hint"), 200),
    )


def images_without_licence(article: Article) -> list[ImageBlock]:
    """Search pictures shown in ``article`` whose licence is unknown (for the publish checklist:
    a writer must check these before publishing). Generated, edited and chart pictures are the
    user's own and are not listed."""
    return [
        block
        for block in article.image_blocks()
        if block.source == Source.SEARCH
        and block.status == BlockStatus.OK
        and not plain((block.provenance or {}).get("licence"))
    ]
