"""The publish check: what a writer should know before an article leaves the studio.

``publish_check(article)`` is a pure function of the article; the UI shows its items beside the
export button (each with a link to its block), the CLI prints them (``export --strict`` fails on
any) and the API returns them with the export. Items, in this order:

1. ``unfinished``: a placeholder, a failed or invalid call, or an image that cannot be embedded
   (left out of every export by default; ``include_unfinished`` keeps a neutral box);
2. ``illustrative``: a chart whose numbers are made up (it carries the "Illustrative numbers" note);
3. ``no_alt``: a picture with no alt text and no caption;
4. ``no_licence``: a web image whose licence is not known;
5. ``cut_off``: the article ended early (token limit or a broken model stream).

Messages are for the writer: they name the picture by its number and caption, never the tool's
error text (the card shows that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.provenance import is_illustrative, origin_of
from studio.core.article import Article, ImageBlock
from studio.export.sources import alt_text, plain, shown

CheckKind = Literal["unfinished", "illustrative", "no_alt", "no_licence", "cut_off"]
_ORDER: tuple[CheckKind, ...] = ("unfinished", "illustrative", "no_alt", "no_licence", "cut_off")
_UNFINISHED = {
    "placeholder": "is a placeholder (its tool was off)",
    "failed": "was not made (its call failed)",
    "invalid": "has an invalid tag",
    "queued": "is not made yet",
    "running": "is not made yet",
}


@dataclass(frozen=True)
class CheckItem:
    """One thing to look at before publishing; ``block_id`` is None for the whole article."""

    kind: CheckKind
    block_id: str | None
    message: str

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "block": self.block_id, "message": self.message}


def _name(number: int, block: ImageBlock) -> str:
    caption = plain(block.description, 80)
    return f"Image {number}" + (f" ({caption})" if caption else "")


def publish_check(article: Article) -> list[CheckItem]:
    """The checklist (empty when the article is ready to publish as it is)."""
    items: list[CheckItem] = []
    for number, block in enumerate(article.image_blocks(), start=1):
        name = _name(number, block)
        if not shown(block):
            why = _UNFINISHED.get(block.status, "cannot be embedded (not a PNG, JPEG, WebP or GIF image)")
            items.append(
                CheckItem("unfinished", block.id, f"{name} {why}: it is left out of the export. Fill or delete it.")
            )
            continue
        origin = origin_of(block.source, block.provenance)
        if origin == "chart" and is_illustrative(block.provenance):
            items.append(
                CheckItem(
                    "illustrative",
                    block.id,
                    f"{name} is a chart with illustrative numbers, not data: give it real numbers with Edit call.",
                )
            )
        if not alt_text(block):
            items.append(CheckItem("no_alt", block.id, f"{name} has no alt text: add one under Caption."))
        if origin == "search" and not plain(block.provenance.get("licence")):
            items.append(
                CheckItem(
                    "no_licence",
                    block.id,
                    f"{name} is a web image whose licence is not known: check its page or replace it.",
                )
            )
    if article.cut_off or article.error:
        items.append(CheckItem("cut_off", None, "The article was cut off: it may end mid-sentence (Continue writing)."))
    rank = {kind: i for i, kind in enumerate(_ORDER)}
    return sorted(items, key=lambda item: rank[item.kind])  # stable: blocks stay in article order per kind


def checklist_text(items: list[CheckItem]) -> str:
    """The checklist as plain lines (the CLI's output)."""
    if not items:
        return "Publish check: nothing to fix."
    lines = [f"Publish check: {len(items)} thing{'s' if len(items) != 1 else ''} to look at before publishing:"]
    lines += [f"  - {item.message}" + (f" [{item.block_id}]" if item.block_id else "") for item in items]
    return "\n".join(lines)
