"""Image search providers with licences: Openverse, Wikimedia Commons, SearXNG, SerpAPI.

Each provider is a ``Searcher`` (``(query, n) -> list[SearchHit]``) reading the provider's own
documented JSON into hits that carry title, page, creator, licence name and licence URL where the
provider gives them. The provider's API URL is operator-configured (it may be an intranet
SearXNG), so it is called with plain httpx and explicit timeouts; the image URLs in the hits are
web content and go through the SSRF-safe downloader (tools.download) like every other hit.

Licence filter (``licence_filter``): ``reusable`` keeps hits with a known open licence (CC0,
Public Domain Mark, any CC BY variant), ``commercial`` keeps those of them without NC, ``any``
keeps all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import httpx

from models.errors import ConfigError
from tools.search import Searcher, SearchHit, positive_int

PROVIDERS: tuple[str, ...] = ("ddgs", "openverse", "wikimedia", "searxng", "serpapi")
LICENSED: frozenset[str] = frozenset({"openverse", "wikimedia"})  # providers whose hits carry licences
LICENCE_FILTERS: tuple[str, ...] = ("reusable", "commercial", "any")
_TAG_RE = re.compile(r"<[^>]+>")
_USER_AGENT = "LLM-I-Studio/0.1 (image search; https://github.com/)"


def licence_name(code: str, version: str = "") -> str:
    """Openverse's ``license`` + ``license_version`` as people write it: "CC BY-SA 4.0", "CC0 1.0",
    "Public Domain Mark 1.0"."""
    code = code.strip().lower()
    if not code:
        return ""
    name = {"cc0": "CC0", "pdm": "Public Domain Mark"}.get(code, f"CC {code.upper()}")
    return f"{name} {version}".strip()


def is_open(licence: str) -> bool:
    """A licence that lets anyone reuse the picture with credit (CC0, public domain, CC BY-*)."""
    name = " ".join(licence.lower().replace("-", " ").split())
    return bool(name) and (
        name.startswith(("cc0", "cc by", "public domain", "pdm", "cc pdm"))
        or name in {"attribution", "no restrictions"}
    )


def is_commercial(licence: str) -> bool:
    """Open, and without the NonCommercial term."""
    return is_open(licence) and " nc" not in " " + " ".join(licence.lower().replace("-", " ").split())


def licence_filter(hits: list[SearchHit], mode: str) -> list[SearchHit]:
    """The hits the licence setting lets through (see the module docstring)."""
    if mode == "any":
        return hits
    keep = is_commercial if mode == "commercial" else is_open
    return [hit for hit in hits if keep(hit.licence)]


def _text(value: Any, limit: int = 500) -> str:
    """A provider string as plain text (Commons' Artist is HTML): tags dropped, entities decoded."""
    if value is None:
        return ""
    text = html.unescape(_TAG_RE.sub(" ", str(value)))
    return " ".join(text.split())[:limit]


def _get_json(url: str, params: dict[str, Any], timeout_s: float) -> Any:
    headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
    response = httpx.get(url, params=params, headers=headers, timeout=timeout, follow_redirects=True)
    if response.status_code != 200:
        raise OSError(f"HTTP {response.status_code} from {response.url.host}: {response.text[:200]}")
    return response.json()


# --- Openverse ---------------------------------------------------------------------------------


def hits_from_openverse(payload: dict[str, Any]) -> list[SearchHit]:
    """``GET /v1/images/?q=`` results: url, foreign_landing_url, title, creator, license,
    license_version, license_url, source, width, height."""
    found = (
        SearchHit.from_row(
            row.get("url"),
            row.get("foreign_landing_url"),
            _text(row.get("title"), 300),
            row.get("width"),
            row.get("height"),
            creator=_text(row.get("creator"), 200),
            licence=licence_name(str(row.get("license") or ""), str(row.get("license_version") or "")),
            licence_url=str(row.get("license_url") or ""),
            provider="openverse",
        )
        for row in payload.get("results") or []
    )
    return [hit for hit in found if hit is not None]


def openverse_searcher(base_url: str, timeout_s: float, mode: str = "any") -> Searcher:
    def search(query: str, max_results: int) -> list[SearchHit]:
        params: dict[str, Any] = {"q": query, "page_size": min(max_results, 50), "mature": "false"}
        if mode == "commercial":
            params["license_type"] = "commercial"
        return hits_from_openverse(_get_json(base_url.rstrip("/") + "/images/", params, timeout_s))

    return search


# --- Wikimedia Commons -------------------------------------------------------------------------


def hits_from_wikimedia(payload: dict[str, Any]) -> list[SearchHit]:
    """MediaWiki ``action=query&generator=search&prop=imageinfo&iiprop=url|size|extmetadata``:
    pages in search order (``index``), licence and artist from ``extmetadata``."""
    pages = list(((payload.get("query") or {}).get("pages") or {}).values())
    pages.sort(key=lambda page: page.get("index", 0))
    hits = []
    for page in pages:
        info = (page.get("imageinfo") or [{}])[0]
        meta = info.get("extmetadata") or {}

        def field(name: str, meta: dict[str, Any] = meta) -> str:
            return _text((meta.get(name) or {}).get("value"), 300)

        image_url = str(info.get("thumburl") or info.get("url") or "")
        if not image_url:
            continue
        title = field("ObjectName") or str(page.get("title") or "").removeprefix("File:").rsplit(".", 1)[0]
        hits.append(
            SearchHit(
                image_url=image_url,
                page_url=str(info.get("descriptionurl") or ""),
                title=_text(title, 300),
                width=positive_int(info.get("thumbwidth") or info.get("width")),
                height=positive_int(info.get("thumbheight") or info.get("height")),
                creator=field("Artist"),
                licence=field("LicenseShortName"),
                licence_url=str((meta.get("LicenseUrl") or {}).get("value") or ""),
                provider="wikimedia",
                source="commons.wikimedia.org",
            )
        )
    return hits


def wikimedia_searcher(api_url: str, timeout_s: float) -> Searcher:
    def search(query: str, max_results: int) -> list[SearchHit]:
        params = {
            "action": "query",
            "format": "json",
            "generator": "search",
            "gsrsearch": query,
            "gsrnamespace": 6,  # File:
            "gsrlimit": min(max_results, 50),
            "prop": "imageinfo",
            "iiprop": "url|size|extmetadata",
            "iiurlwidth": 1280,
        }
        return hits_from_wikimedia(_get_json(api_url, params, timeout_s))

    return search


# --- SearXNG -------------------------------------------------------------------------------------


def hits_from_searxng(payload: dict[str, Any]) -> list[SearchHit]:
    """``/search?format=json&categories=images`` results: img_src, url, title, resolution
    ("1920x1080"), author; no licence (SearXNG passes on what its engines know)."""
    hits = []
    for row in payload.get("results") or []:
        image_url = str(row.get("img_src") or "")
        if not image_url:
            continue
        width, height = None, None
        parts = str(row.get("resolution") or "").lower().replace("×", "x").replace(" ", "").split("x")
        if len(parts) == 2:
            width, height = positive_int(parts[0]), positive_int(parts[1])
        hits.append(
            SearchHit(
                image_url=image_url,
                page_url=str(row.get("url") or ""),
                title=_text(row.get("title"), 300),
                width=width,
                height=height,
                creator=_text(row.get("author"), 200),
                licence=_text(row.get("license"), 100),
                provider="searxng",
            )
        )
    return hits


def searxng_searcher(base_url: str, timeout_s: float) -> Searcher:
    def search(query: str, max_results: int) -> list[SearchHit]:
        params = {"q": query, "format": "json", "categories": "images", "safesearch": 1}
        return hits_from_searxng(_get_json(base_url.rstrip("/") + "/search", params, timeout_s))[:max_results]

    return search


# --- SerpAPI -------------------------------------------------------------------------------------


def hits_from_serpapi(payload: dict[str, Any]) -> list[SearchHit]:
    """``engine=google_images`` ``images_results``: original, link, title, source,
    original_width, original_height; no licence."""
    if payload.get("error"):
        raise OSError(f"SerpAPI: {_text(payload['error'], 200)}")
    found = (
        SearchHit.from_row(
            row.get("original"),
            row.get("link"),
            _text(row.get("title"), 300),
            row.get("original_width"),
            row.get("original_height"),
            provider="serpapi",
        )
        for row in payload.get("images_results") or []
    )
    return [hit for hit in found if hit is not None]


def serpapi_searcher(url: str, api_key: str, timeout_s: float) -> Searcher:
    def search(query: str, max_results: int) -> list[SearchHit]:
        params = {"engine": "google_images", "q": query, "api_key": api_key}
        return hits_from_serpapi(_get_json(url, params, timeout_s))[:max_results]

    return search


# --- several providers -------------------------------------------------------------------------


def combined(searchers: list[tuple[str, Searcher]], mode: str) -> Searcher:
    """One searcher over several providers: their hits in the configured order, filtered by the
    licence setting. A provider that fails is skipped while another answers; when all fail, the
    first failure is raised (the search tool turns it into the block's reason)."""

    def search(query: str, max_results: int) -> list[SearchHit]:
        hits: list[SearchHit] = []
        errors: list[BaseException] = []
        for _name, searcher in searchers:
            try:
                hits += searcher(query, max_results)
            except Exception as exc:  # noqa: BLE001 - reported below when nothing answered
                errors.append(exc)
        if errors and not hits and len(errors) == len(searchers):
            raise errors[0]
        return licence_filter(hits, mode)

    return search


def build_searcher(
    providers: list[str],
    *,
    timeout_s: float,
    licences: str | None,
    openverse_url: str,
    wikimedia_url: str,
    searxng_url: str,
    serpapi_url: str,
    serpapi_key: str,
    ddgs: Callable[[], Searcher],
) -> tuple[Searcher, str, list[str]]:
    """(searcher, licence mode in force, the API URLs to probe) for STUDIO_SEARCH_PROVIDER.
    Raises ConfigError for an unknown provider or one that lacks its URL or key."""
    names = [p.strip().lower() for p in providers if p.strip()] or ["ddgs"]
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown:
        raise ConfigError(f"STUDIO_SEARCH_PROVIDER: unknown {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}")
    mode = licences or ("reusable" if LICENSED & set(names) else "any")
    if mode not in LICENCE_FILTERS:
        raise ConfigError(f"STUDIO_SEARCH_LICENCES={mode!r} is not one of {', '.join(LICENCE_FILTERS)}")
    searchers: list[tuple[str, Searcher]] = []
    probes: list[str] = []
    for name in names:
        if name == "ddgs":
            searchers.append((name, ddgs()))
            probes.append("https://duckduckgo.com/")
        elif name == "openverse":
            searchers.append((name, openverse_searcher(openverse_url, timeout_s, mode)))
            probes.append(openverse_url)
        elif name == "wikimedia":
            searchers.append((name, wikimedia_searcher(wikimedia_url, timeout_s)))
            probes.append(wikimedia_url)
        elif name == "searxng":
            if not searxng_url:
                raise ConfigError("STUDIO_SEARCH_PROVIDER has searxng: set STUDIO_SEARXNG_URL to your instance")
            searchers.append((name, searxng_searcher(searxng_url, timeout_s)))
            probes.append(searxng_url)
        else:
            if not serpapi_key:
                raise ConfigError("STUDIO_SEARCH_PROVIDER has serpapi: set STUDIO_SERPAPI_KEY")
            searchers.append((name, serpapi_searcher(serpapi_url, serpapi_key, timeout_s)))
            probes.append(serpapi_url)
    if len(searchers) == 1 and mode == "any":
        return searchers[0][1], mode, probes
    return combined(searchers, mode), mode, probes
