"""The TASL credit line read from search provenance keys, and the list of search pictures whose
licence is unknown (for the publish checklist)."""

from __future__ import annotations

from studio.core.article import ImageBlock
from studio.export.tasl import images_without_licence, tasl
from tests.studio.export.test_export_html import plain_article

LICENSED = {
    "title": "Lighthouse at dusk",
    "page_url": "https://commons.wikimedia.org/wiki/File:L.jpg",
    "image_url": "https://upload.wikimedia.org/l.jpg",
    "creator": "Ann & Bo",
    "licence": "CC BY 4.0",
    "licence_url": "https://creativecommons.org/licenses/by/4.0",
    "provider": "wikimedia",
    "source": "commons.wikimedia.org",
}


def test_tasl_line_has_title_author_source_and_licence_with_its_url() -> None:
    credit = tasl(LICENSED)
    assert credit.line() == (
        "Source: Lighthouse at dusk (by Ann & Bo, commons.wikimedia.org, "
        "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0))"
    )
    assert credit.page_url == LICENSED["page_url"]


def test_hostile_values_are_plain_and_unsafe_urls_dropped() -> None:
    credit = tasl({**LICENSED, "creator": "Eve\x00\nMallory", "licence_url": "javascript:alert(1)"})
    assert credit.author == "Eve  Mallory" and credit.licence_url is None
    assert "javascript" not in credit.line()


def test_a_hit_without_licence_keeps_the_hint_and_is_listed_for_the_checklist() -> None:
    article = plain_article()  # its search picture has only a licence hint
    assert tasl(article.image_blocks()[0].provenance).line() == "Source: Harbour photo (photos.example, CC BY 4.0)"
    assert [b.id for b in images_without_licence(article)] == ["b2"]
    licensed = ImageBlock("b9", 4, "search", "d", {"query": "q"}, "raw", status="ok", provenance=LICENSED)
    article.blocks.append(licensed)
    assert [b.id for b in images_without_licence(article)] == ["b2"]


def test_the_provider_is_named_when_the_site_is_someone_else() -> None:
    credit = tasl({**LICENSED, "provider": "openverse", "source": "flickr.com"})
    assert credit.source == "flickr.com via openverse"
