"""Where an image version came from, and the credit that follows from it: one decision.

Every image version records its origin in its provenance:

- ``search``: a search hit (``title``, ``page_url``, ``image_url``, ``source`` (the site),
  ``creator``, ``licence``, ``licence_url``, ``provider``);
- ``generated``: a diffusion picture (``model``, ``seed``);
- ``edited``: an edit of another image (``model``, ``parent_sha256``);
- ``chart``: drawn from code (the code; ``data_from`` says where its numbers came from);
- ``upload``: the user's own image (``uploaded``: the file name);
- ``url``: an image the user gave by URL (``url``).

``origin_of`` reads the explicit ``origin`` key and falls back to older records (``uploaded``
marks an upload; otherwise the block's tool). ``credit_for`` turns the version's record into
the card label and the credit line that the UI, every export, the appendix and the preference
rows show, so no two of them can disagree about who made a picture.

This module lives in the bottom layer because the store's preference rows (``storage``) and the
studio both read it; it only reads plain dicts (untrusted strings: callers escape for their format).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Origin = Literal["search", "generated", "edited", "chart", "upload", "url", ""]
ORIGINS: tuple[str, ...] = ("search", "generated", "edited", "chart", "upload", "url")
_BY_TOOL: dict[str, Origin] = {"search": "search", "diffusion": "generated", "edit": "edited", "code": "chart"}
LABELS: dict[str, str] = {
    "search": "web image",
    "generated": "generated picture",
    "edited": "edited image",
    "chart": "chart",
    "upload": "your image",
    "url": "image from a URL",
    "": "invalid tag",
}
UPLOAD_CREDIT = "Image: supplied by the author"
# Where a chart's numbers came from (``data_from`` in a chart's provenance).
DATA_FROM = {
    "brief": "numbers from the brief",
    "response": "numbers from the pasted response",
    "text": "numbers from the article text",
    "illustrative": "illustrative numbers, not data",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(value: object, limit: int = 300) -> str:
    """A provenance value as one plain line (control characters dropped, length capped)."""
    text = _CONTROL.sub(" ", "" if value is None else str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def public_model_name(value: object) -> str:
    """A model as a reader may see it: a hub id stays ("org/name"), a local folder gives only its
    last part (an operator's paths never leave the studio)."""
    text = one_line(value, 200)
    if text.startswith(("/", "~", ".")) or "\\" in text or re.match(r"^[A-Za-z]:", text):
        parts = [p for p in re.split(r"[\\/]+", text) if p and p not in (".", "..", "~")]
        return parts[-1] if parts else ""
    return text


def origin_of(source: str | None, provenance: Mapping[str, Any] | None) -> Origin:
    """Where the version came from (see the module docstring)."""
    prov = provenance or {}
    explicit = prov.get("origin")
    if isinstance(explicit, str) and explicit in ORIGINS:
        return explicit  # type: ignore[return-value]
    if prov.get("uploaded"):
        return "upload"
    return _BY_TOOL.get(source or "", "")


def is_illustrative(provenance: Mapping[str, Any] | None) -> bool:
    """A chart whose numbers are made up (drawn with the "Illustrative numbers" note)."""
    prov = provenance or {}
    return bool(prov.get("illustrative")) or prov.get("data_from") == "illustrative"


def chart_numbers(provenance: Mapping[str, Any] | None) -> str:
    """Where a chart's numbers came from, in words ("" when the record does not say)."""
    prov = provenance or {}
    if is_illustrative(prov):
        return DATA_FROM["illustrative"]
    return DATA_FROM.get(str(prov.get("data_from") or ""), "")


@dataclass(frozen=True)
class Credit:
    """What a reader is told about where a picture came from (plain, untrusted text)."""

    origin: Origin
    label: str  # the card's short label ("web image", "your image", ...)
    line: str  # the figure's credit line ("" for none)
    link_title: str | None = None  # search / url: the text of the link
    link_url: str | None = None  # search / url: the link, NOT yet checked (exporters check it)
    extra: str = ""  # search: "by creator, site, licence" after the linked title


def credit_for(source: str | None, provenance: Mapping[str, Any] | None) -> Credit:
    """The credit of the version whose tool is ``source`` and whose record is ``provenance``."""
    prov = provenance or {}
    origin = origin_of(source, prov)
    label = LABELS[origin]
    if origin == "upload":
        return Credit(origin, label, UPLOAD_CREDIT)
    if origin == "url":
        url = one_line(prov.get("url") or prov.get("image_url"), 2048)
        host = re.sub(r"^[a-z]+://", "", url).split("/")[0]
        return Credit(origin, label, f"Image: {host or 'from a URL'}", host or url, url or None)
    if origin == "search":  # the TASL credit: title, author, source (site via provider), licence
        title = one_line(prov.get("title")) or one_line(prov.get("source"), 200) or "web image"
        creator = one_line(prov.get("creator"), 200)
        site = one_line(prov.get("source"), 200)
        provider = one_line(prov.get("provider"), 40)
        if provider and provider != "ddgs" and provider not in site:
            site = f"{site} via {provider}" if site else provider
        licence = one_line(prov.get("licence"), 200)
        licence_url = one_line(prov.get("licence_url"), 2048)
        shown = licence or one_line(prov.get("licence_hint"))  # unlicensed providers: the generic hint
        if licence and licence_url:
            shown = f"{licence} ({licence_url})"
        extra = ", ".join(x for x in (f"by {creator}" if creator else "", site, shown) if x)
        url = one_line(prov.get("page_url"), 2048) or one_line(prov.get("image_url"), 2048)
        line = f"Source: {title}" + (f" ({extra})" if extra else "")
        return Credit(origin, label, line, title, url or None, extra)
    if origin == "generated":
        model = public_model_name(prov.get("model")) or "a diffusion model"
        seed = prov.get("seed")
        seed_text = f", seed {one_line(seed)}" if seed is not None else ""
        return Credit(origin, label, f"Generated with {model}{seed_text}")
    if origin == "edited":
        model = public_model_name(prov.get("model"))
        return Credit(origin, label, "Edited image" + (f" ({model})" if model else ""))
    if origin == "chart":
        data = chart_numbers(prov)
        return Credit(origin, label, "Chart drawn from code" + (f"; {data}" if data else "") + " (see the appendix)")
    return Credit(origin, label, "")
