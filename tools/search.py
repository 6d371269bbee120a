"""The ``search`` tool: find a real photo on the web and download it safely.

Search goes through the ``ddgs`` package (DuckDuckGo/Bing image results) unless a
``searcher`` is injected; the injectable searcher exists because the live web cannot run in
tests, which point it at a real HTTP server on 127.0.0.1 instead. Every candidate is
downloaded with ``tools.download.fetch_image`` (SSRF-guarded, size- and pixel-capped,
Pillow-verified), in search order, until one passes.

Hits are web content: titles and URLs are hostile strings. They are only carried as data in
the provenance (the exporters escape them), never interpreted.
"""

from __future__ import annotations

import copy
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from models.vocab import Source
from tools.base import Availability, Tool, ToolContext, ToolResult, stopwatch
from tools.deadline import call_with_deadline
from tools.download import AllowPrivate, DownloadedImage, DownloadError, fetch_image
from tools.params import SearchParams

LICENCE_HINT = "check the source page's licence before publishing"
T = TypeVar("T")
_MAX_ASK = 50  # never ask the search engine for more hits than this, whatever the offset

# How a failure kind reads in the summary, singular and plural ("3 too small, 2 not images").
_KIND_WORDS: dict[str, tuple[str, str]] = {
    "not an image": ("not an image", "not images"),
    "too small": ("too small", "too small"),
    "too large": ("too large", "too large"),
    "broken image": ("broken image", "broken images"),
    "blocked address": ("blocked address", "blocked addresses"),
    "HTTP error": ("HTTP error", "HTTP errors"),
    "unreachable": ("unreachable", "unreachable"),
    "timed out": ("timed out", "timed out"),
    "too many redirects": ("too many redirects", "too many redirects"),
    "bad URL": ("bad URL", "bad URLs"),
    "duplicate": ("duplicate", "duplicates"),
}


def domain_of(url: str) -> str:
    """The host of ``url`` without a leading ``www.`` ("" when there is none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


@dataclass(frozen=True)
class SearchHit:
    """One image search result. ``source`` (the page's domain) is derived when left empty."""

    image_url: str
    page_url: str = ""
    title: str = ""
    width: int | None = None
    height: int | None = None
    source: str = ""
    # licensed providers (tools.search_providers) fill these where they know them
    creator: str = ""
    licence: str = ""  # "CC BY-SA 4.0"; "" when unknown
    licence_url: str = ""
    provider: str = "ddgs"

    def __post_init__(self) -> None:
        if not self.source:
            object.__setattr__(self, "source", domain_of(self.page_url) or domain_of(self.image_url))

    @classmethod
    def from_row(
        cls, image_url: Any, page_url: Any, title: str, width: Any, height: Any, **facts: Any
    ) -> SearchHit | None:
        """A hit from a provider's row: URLs as text, sizes as positive ints (else None); None
        when the row has no image URL (providers list pages and videos among images)."""
        image = str(image_url or "")
        if not image:
            return None
        return cls(image, str(page_url or ""), title, positive_int(width), positive_int(height), **facts)


Searcher = Callable[[str, int], list[SearchHit]]


def positive_int(value: Any) -> int | None:
    """A provider's size field ("640", 640, " 640 ", None, "n/a") as a positive int, else None."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def hits_from_ddgs(rows: list[dict[str, Any]]) -> list[SearchHit]:
    """Turn ddgs ``images()`` rows (keys image, url, title, width, height) into hits."""
    found = (
        SearchHit.from_row(
            row.get("image"), row.get("url"), str(row.get("title") or ""), row.get("width"), row.get("height")
        )
        for row in rows
    )
    return [hit for hit in found if hit is not None]


def ddgs_searcher(timeout_s: float, proxy: str | None = None) -> Searcher:
    """The production searcher: ``DDGS().images(query, max_results=n)`` with a timeout."""

    def search(query: str, max_results: int) -> list[SearchHit]:
        from ddgs import DDGS  # imported lazily: ddgs pulls in its HTTP stack at import

        rows = DDGS(proxy=proxy, timeout=max(1, math.ceil(timeout_s))).images(
            query, max_results=max_results, safesearch="moderate"
        )
        return hits_from_ddgs(rows)

    return search


class SearchFailed(Exception):
    """A search could not produce hits; the message is the reason for the block."""


def describe_search_error(exc: BaseException, query: str, timeout_s: float) -> str:
    """Translate a searcher's exception (ddgs or other) into one readable sentence."""
    from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    if isinstance(exc, RatelimitException):
        return f"image search is rate-limited by the provider; try again in a minute ({text})"
    if isinstance(exc, TimeoutError):  # our own hard deadline
        return f"image search timed out after {timeout_s:g} s"
    if isinstance(exc, TimeoutException):
        return f"image search timed out after {timeout_s:g} s ({text})"
    if isinstance(exc, DDGSException) and "no results found" in text.lower():
        return f"no image results for {query!r}"
    if isinstance(exc, DDGSException | OSError):
        return f"image search is unreachable (offline?): {text}"
    return f"image search failed: {type(exc).__name__}: {text}"


def _probe(host: str, port: int, timeout_s: float) -> str | None:
    """None when ``host:port`` accepts a TCP connection within ``timeout_s``, else why not."""

    def connect() -> None:
        socket.create_connection((host, port), timeout=timeout_s).close()

    try:
        call_with_deadline(connect, timeout_s, name="probe")
    except TimeoutError:
        return f"no connection to {host}:{port} within {timeout_s:g} s"
    except OSError as exc:
        return f"cannot reach {host}:{port} ({exc})"
    return None


class SearchTool(Tool[SearchParams]):
    """Web image search (ddgs) + safe download of the first usable hit.

    Timeouts are seconds. ``min_side``: both sides of the image must be at least this many
    pixels. ``allow_private``: False (public addresses only), True, or a set of networks such as
    ``{"127.0.0.0/8"}`` (see ``tools.download.AddressPolicy``). ``searcher(query, n)`` replaces
    the ddgs search (tests point it at 127.0.0.1). ``proxy`` is handed to ddgs only; downloads
    never use a proxy. ``total_timeout_s`` bounds all downloads of one run together.

    Regenerate: the success provenance carries ``hit_index`` (position of the used hit in the
    search results); ``ToolContext(result_offset=hit_index + 1)`` gives the next hit.
    """

    name = Source.SEARCH
    Params = SearchParams

    def __init__(
        self,
        *,
        search_timeout_s: float = 10.0,
        max_results: int = 8,
        download_timeout_s: float = 10.0,
        max_bytes: int = 15 * 1024 * 1024,
        max_pixels: int = 25_000_000,
        min_side: int = 200,
        allow_private: AllowPrivate = False,
        searcher: Searcher | None = None,
        proxy: str | None = None,
        total_timeout_s: float = 45.0,
        probe_address: tuple[str, int] | None = None,
        probe_timeout_s: float = 2.0,
        availability_ttl_s: float = 300.0,
        allowed_hosts: Collection[str] = (),
        licence_mode: str = "any",
    ) -> None:
        self.search_timeout_s = search_timeout_s
        self.max_results = max_results
        self.download_timeout_s = download_timeout_s
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.min_side = min_side
        self.allow_private = allow_private
        self.allowed_hosts = tuple(allowed_hosts)  # image hosts let through on private addresses
        self.total_timeout_s = total_timeout_s  # bounds all downloads of one run together
        self.licence_mode = licence_mode  # what the searcher lets through (recorded on each hit)
        # an injected searcher with no address to probe: reachability is the searcher's business
        self._injected = searcher is not None and probe_address is None
        self._searcher: Searcher = searcher or ddgs_searcher(search_timeout_s, proxy)
        self._probe_address = probe_address or ("duckduckgo.com", 443)
        web = searcher is None or probe_address is None
        self._offline_words = "image search needs internet access" if web else "image search cannot reach its provider"
        self._probe_timeout_s = probe_timeout_s
        self._availability_ttl_s = availability_ttl_s
        self._availability: tuple[float, Availability] | None = None
        self._lock = threading.Lock()

    @property
    def searcher(self) -> Searcher:
        """The function that finds hits (ddgs, or the injected one)."""
        return self._searcher

    def with_searcher(self, searcher: Searcher) -> SearchTool:
        """A copy of this tool (same limits and address policy) that finds hits with ``searcher``;
        used by quality mode to rank candidates before the safe download."""
        clone = copy.copy(self)
        clone._searcher = searcher
        clone._lock = threading.Lock()
        return clone

    def availability(self) -> Availability:
        """Off when the search provider cannot be reached (checked with one TCP connect, cached).

        With an injected searcher the tool is on: reachability is then the searcher's business.
        """
        if self._injected:
            return Availability.on()
        with self._lock:
            cached = self._availability
            if cached is not None and time.monotonic() - cached[0] < self._availability_ttl_s:
                return cached[1]
            problem = _probe(*self._probe_address, self._probe_timeout_s)
            result = Availability.on() if problem is None else Availability.off(f"{self._offline_words}: {problem}")
            self._availability = (time.monotonic(), result)
            return result

    def run(self, params: SearchParams, context: ToolContext) -> ToolResult:
        with stopwatch() as elapsed:
            try:
                result = self._run(params, context)
            except Exception as exc:  # last resort: a tool failure is data on the block, never a crash
                result = ToolResult.failure(f"image search broke unexpectedly: {type(exc).__name__}: {exc}")
        return result.with_seconds(elapsed[0])

    def _search(self, query: str, wanted: int) -> list[SearchHit]:
        try:
            return call_with_deadline(
                lambda: self._searcher(query, wanted), self.search_timeout_s + min(2.0, self.search_timeout_s)
            )
        except Exception as exc:
            raise SearchFailed(describe_search_error(exc, query, self.search_timeout_s)) from exc

    def _run(self, params: SearchParams, context: ToolContext) -> ToolResult:
        query = " ".join(params.query.split())
        if not query:
            return ToolResult.failure("the search query is empty")
        offset = max(0, context.result_offset)
        base: dict[str, Any] = {"query": query, "licence_hint": LICENCE_HINT}
        if self.licence_mode != "any":
            base["licences"] = self.licence_mode
        try:
            hits = self._search(query, min(_MAX_ASK, self.max_results + offset))
        except SearchFailed as exc:
            return ToolResult.failure(str(exc), {**base, "candidates_tried": 0})
        if not hits:
            reason = f"no image results for {query!r}"
            if self.licence_mode != "any":
                reason = (
                    f"no image results with a {self.licence_mode} licence for {query!r} "
                    "(STUDIO_SEARCH_LICENCES=any also takes pictures whose licence is unknown)"
                )
            return ToolResult.failure(reason, {**base, "candidates_tried": 0})
        if offset >= len(hits):
            reason = f"no more image results for {query!r} (skipped {offset}, the search gave {len(hits)})"
            return ToolResult.failure(reason, {**base, "candidates_tried": 0})
        return self._first_usable(hits, offset, base)

    def _first_usable(self, hits: list[SearchHit], offset: int, base: dict[str, Any]) -> ToolResult:
        kinds: Counter[str] = Counter()
        failures: list[dict[str, str]] = []
        seen: set[str] = set()
        tried = 0
        candidates = hits[offset : offset + self.max_results]
        deadline = time.monotonic() + self.total_timeout_s
        out_of_time = False
        for index, hit in enumerate(candidates, start=offset):
            remaining = deadline - time.monotonic()
            if remaining <= 0.05:
                out_of_time = True
                break
            tried += 1
            try:
                image = self._fetch(hit, seen, min(self.download_timeout_s, remaining))
            except DownloadError as exc:
                kinds[exc.kind] += 1
                failures.append({"image_url": hit.image_url, "reason": exc.reason})
                continue
            provenance = {
                **base,
                **licence_facts(hit),
                "image_url": hit.image_url,
                "final_url": image.final_url,
                "page_url": hit.page_url,
                "title": hit.title,
                "source": hit.source,
                "width": image.width,
                "height": image.height,
                "candidates_tried": tried,
                "hit_index": index,
            }
            if hit.licence:
                provenance.pop("licence_hint", None)
            return ToolResult.success(image.data, provenance, mime=image.mime)
        summary = ", ".join(_count_phrase(kind, n) for kind, n in kinds.most_common())
        reason = f"no usable image among {tried} result{'' if tried == 1 else 's'}: {summary}"
        if out_of_time:
            reason = f"{reason}; stopped after {self.total_timeout_s:g} s with {len(candidates) - tried} left"
        if failures:
            reason += f" (first: {failures[0]['reason']})"
        return ToolResult.failure(reason, {**base, "candidates_tried": tried, "failures": failures})

    def _fetch(self, hit: SearchHit, seen: set[str], timeout_s: float) -> DownloadedImage:
        """Download one hit, refusing what the search already tells us is unusable."""
        if hit.image_url in seen:
            raise DownloadError(f"same image as an earlier result: {hit.image_url}", "duplicate")
        seen.add(hit.image_url)
        known = [side for side in (hit.width, hit.height) if side is not None]
        if known and min(known) < self.min_side:
            raise DownloadError(
                f"listed as {hit.width}x{hit.height} px, need at least {self.min_side} px per side", "too small"
            )
        return fetch_image(
            hit.image_url,
            timeout_s=timeout_s,
            max_bytes=self.max_bytes,
            max_pixels=self.max_pixels,
            min_side=self.min_side,
            allow_private=self.allow_private,
            allowed_hosts=self.allowed_hosts,
        )


def licence_facts(hit: SearchHit) -> dict[str, str]:
    """The credit keys of a hit (creator, licence, licence_url, provider) for its provenance; a
    hit whose licence is known drops the generic licence hint."""
    facts = {"provider": hit.provider}
    for key in ("creator", "licence", "licence_url"):
        value = getattr(hit, key)
        if value:
            facts[key] = value
    return facts


def _count_phrase(kind: str, count: int) -> str:
    singular, plural = _KIND_WORDS.get(kind, (kind, kind))
    return f"{count} {singular if count == 1 else plural}"
