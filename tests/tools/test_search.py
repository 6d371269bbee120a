"""The search tool end to end: an injected searcher (the live web cannot run here) whose hits
point at a real HTTP server on 127.0.0.1, and the real ddgs search failing offline."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest
from ddgs.exceptions import RatelimitException
from PIL import Image

from tests.httpserver import LocalServer
from tools.base import ToolContext
from tools.params import SearchParams
from tools.search import LICENCE_HINT, SearchHit, SearchTool, hits_from_ddgs

LOOPBACK = {"127.0.0.0/8"}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def srv():
    with LocalServer() as server:
        server.route("/good.jpg", headers={"Content-Type": "image/jpeg"}, body=image_bytes("JPEG"))
        server.route("/good2.png", headers={"Content-Type": "image/png"}, body=image_bytes("PNG", (400, 300)))
        server.route("/tiny.png", headers={"Content-Type": "image/png"}, body=image_bytes("PNG", (50, 50)))
        server.route("/page.html", headers={"Content-Type": "text/html"}, body=b"<html>a page</html>")
        server.route("/fake.png", headers={"Content-Type": "image/png"}, body=b"GIF89a but not really")
        yield server


def hit(srv: LocalServer, path: str, **kwargs) -> SearchHit:
    return SearchHit(image_url=srv.url(path), page_url=f"https://www.example.org/articles{path}", **kwargs)


class Recorder:
    """A searcher that returns fixed hits and remembers what it was asked."""

    def __init__(self, hits: list[SearchHit]) -> None:
        self.hits = hits
        self.calls: list[tuple[str, int]] = []

    def __call__(self, query: str, max_results: int) -> list[SearchHit]:
        self.calls.append((query, max_results))
        return self.hits[:max_results]


def tool_for(searcher, **kwargs) -> SearchTool:
    kwargs.setdefault("allow_private", LOOPBACK)
    kwargs.setdefault("min_side", 100)
    kwargs.setdefault("download_timeout_s", 5)
    return SearchTool(searcher=searcher, **kwargs)


def test_first_hit_broken_second_good(srv):
    searcher = Recorder([hit(srv, "/missing.jpg"), hit(srv, "/good.jpg", title="A <b>tower</b>")])
    tool = tool_for(searcher, max_results=5)
    result = tool.run(SearchParams(query="  eiffel   tower "), ToolContext())
    assert result.ok, result.error
    assert result.image == image_bytes("JPEG") and result.mime == "image/jpeg"
    prov = result.provenance
    assert prov["query"] == "eiffel tower"
    assert prov["image_url"] == srv.url("/good.jpg")
    assert prov["page_url"] == "https://www.example.org/articles/good.jpg"
    assert prov["title"] == "A <b>tower</b>"  # carried as data, never interpreted
    assert prov["source"] == "example.org"
    assert prov["licence_hint"] == LICENCE_HINT
    assert prov["candidates_tried"] == 2 and prov["hit_index"] == 1
    assert (prov["width"], prov["height"]) == (320, 240)
    assert result.seconds > 0
    assert searcher.calls == [("eiffel tower", 5)]
    assert srv.requests == ["/missing.jpg", "/good.jpg"]


def test_all_hits_fail_with_counted_reasons(srv):
    paths = ["/tiny.png", "/page.html", "/tiny.png?2", "/fake.png", "/tiny.png?3"]
    tool = tool_for(Recorder([hit(srv, p) for p in paths]))
    result = tool.run(SearchParams(query="x"), ToolContext())
    assert not result.ok
    assert result.error.startswith("no usable image among 5 results: 3 too small, 2 not images (first: image is 50x50")
    assert result.provenance["candidates_tried"] == 5
    assert len(result.provenance["failures"]) == 5


def test_result_offset_gives_the_next_hit(srv):
    searcher = Recorder([hit(srv, "/good.jpg"), hit(srv, "/tiny.png"), hit(srv, "/good2.png")])
    tool = tool_for(searcher, max_results=3)
    first = tool.run(SearchParams(query="q"), ToolContext())
    assert first.provenance["hit_index"] == 0
    again = tool.run(SearchParams(query="q"), ToolContext(result_offset=first.provenance["hit_index"] + 1))
    assert again.ok and again.mime == "image/png"
    assert again.provenance["image_url"] == srv.url("/good2.png")
    assert again.provenance["hit_index"] == 2 and again.provenance["candidates_tried"] == 2
    assert searcher.calls[-1] == ("q", 4)  # asked for enough hits to skip one and still have max_results


def test_offset_past_the_results(srv):
    result = tool_for(Recorder([hit(srv, "/good.jpg")])).run(SearchParams(query="q"), ToolContext(result_offset=3))
    assert not result.ok and "no more image results" in result.error
    assert srv.requests == []


def test_hits_listed_too_small_or_repeated_are_not_downloaded(srv):
    hits = [hit(srv, "/good.jpg", width=40, height=30), hit(srv, "/page.html"), hit(srv, "/page.html")]
    result = tool_for(Recorder(hits)).run(SearchParams(query="q"), ToolContext())
    assert result.error == (
        "no usable image among 3 results: 1 too small, 1 not an image, 1 duplicate"
        " (first: listed as 40x30 px, need at least 100 px per side)"
    )
    assert srv.requests == ["/page.html"]


def test_private_addresses_refused_by_default(srv):
    result = SearchTool(searcher=Recorder([hit(srv, "/good.jpg")]), min_side=10).run(
        SearchParams(query="q"), ToolContext()
    )
    assert not result.ok and "1 blocked address" in result.error and "loopback" in result.error
    assert srv.requests == []


def test_downloads_share_one_time_budget(srv):
    def trickle():
        for _ in range(100):
            time.sleep(0.1)
            yield b"x"

    for i in range(4):
        srv.route(f"/slow{i}.png", headers={"Content-Type": "image/png"}, body=trickle())
    tool = tool_for(Recorder([hit(srv, f"/slow{i}.png") for i in range(4)]), total_timeout_s=1.0)
    start = time.monotonic()
    result = tool.run(SearchParams(query="q"), ToolContext())
    assert time.monotonic() - start < 2.5
    assert result.error.startswith("no usable image among 1 result: 1 timed out; stopped after 1 s with 3 left")
    assert "download took longer than 1 s" in result.error


def test_no_hits():
    result = tool_for(Recorder([])).run(SearchParams(query="nothing"), ToolContext())
    assert result.error == "no image results for 'nothing'"


def test_empty_query_and_wrong_params():
    searcher = Recorder([])
    assert tool_for(searcher).run(SearchParams(query="   "), ToolContext()).error == "the search query is empty"
    assert searcher.calls == []


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (RatelimitException("202 Ratelimit"), "image search is rate-limited by the provider"),
        (ConnectionRefusedError(111, "Connection refused"), "image search is unreachable (offline?)"),
        (ValueError("odd"), "image search failed: ValueError: odd"),
    ],
)
def test_searcher_exceptions_are_translated(exc, message):
    def broken(query: str, n: int) -> list[SearchHit]:
        raise exc

    result = tool_for(broken).run(SearchParams(query="q"), ToolContext())
    assert not result.ok and result.error.startswith(message)
    assert result.provenance["candidates_tried"] == 0


def test_stalled_searcher_times_out():
    release = threading.Event()

    def stalled(query: str, n: int) -> list[SearchHit]:
        release.wait(30)
        return []

    start = time.monotonic()
    result = tool_for(stalled, search_timeout_s=0.2).run(SearchParams(query="q"), ToolContext())
    release.set()
    assert time.monotonic() - start < 5
    assert result.error.startswith("image search timed out after 0.2 s")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_ddgs_unreachable_fails_fast():
    """The real ddgs search, made unreachable on any machine by a proxy on a closed local port."""
    tool = SearchTool(proxy=f"http://127.0.0.1:{closed_port()}", search_timeout_s=5)
    start = time.monotonic()
    result = tool.run(SearchParams(query="eiffel tower"), ToolContext())
    assert time.monotonic() - start < 15
    assert not result.ok
    assert result.error.startswith("image search is unreachable (offline?): "), result.error


def test_real_ddgs_offline_here_fails_fast():
    tool = SearchTool(search_timeout_s=5)
    if tool.availability().ok:
        pytest.skip("this machine can reach the search provider; the offline path is covered above")
    start = time.monotonic()
    result = tool.run(SearchParams(query="eiffel tower"), ToolContext())
    assert time.monotonic() - start < 15
    assert not result.ok and result.error.startswith("image search is unreachable (offline?): "), result.error


def test_availability_probe_and_cache():
    with LocalServer() as server:
        tool = SearchTool(probe_address=("127.0.0.1", server.port))
        assert tool.availability().ok
    assert tool.availability().ok  # cached: the server is gone but the answer is reused
    down = SearchTool(probe_address=("127.0.0.1", closed_port()))
    off = down.availability()
    assert not off.ok and off.reason.startswith("image search needs internet access: cannot reach 127.0.0.1:")


def test_availability_default_is_quick():
    start = time.monotonic()
    availability = SearchTool(probe_timeout_s=2).availability()
    assert time.monotonic() - start < 5
    if not availability.ok:  # the normal case on this offline machine
        assert availability.reason.startswith("image search needs internet access: ")


def test_injected_searcher_is_available():
    assert tool_for(Recorder([])).availability().ok


def test_hits_from_ddgs_rows():
    rows = [
        {
            "title": "T",
            "image": "https://img.example.com/a.jpg",
            "url": "https://www.site.org/p",
            "width": "1024",
            "height": 768,
        },
        {"title": "no image", "image": "", "url": "https://x.org"},
        {"image": "https://cdn.net/b.png", "width": "?", "height": None},
    ]
    hits = hits_from_ddgs(rows)
    assert hits == [
        SearchHit("https://img.example.com/a.jpg", "https://www.site.org/p", "T", 1024, 768, "site.org"),
        SearchHit("https://cdn.net/b.png", "", "", None, None, "cdn.net"),
    ]
