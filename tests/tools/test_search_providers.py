"""Licensed search providers against scripted Openverse / Wikimedia / SearXNG endpoints on
127.0.0.1 (their documented JSON), with images from an allow-listed test host (``localhost``)
fetched by the real SSRF-guarded downloader."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from models.errors import ConfigError
from studio.app.services import build_tools
from studio.app.settings import Settings
from tests.httpserver import LocalServer
from tests.search_providers_server import RunningProviders, serve_providers
from tools.base import ToolContext
from tools.download import DownloadError, fetch_image
from tools.params import SearchParams
from tools.search import SearchTool, ddgs_searcher
from tools.search_providers import build_searcher, is_commercial, is_open, licence_name


def png(size: tuple[int, int] = (400, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def images() -> Iterator[LocalServer]:
    with LocalServer() as server:
        for name in ("fox.png", "unlicensed.png", "lighthouse.png", "harbour.png"):
            server.route(f"/{name}", headers={"Content-Type": "image/png"}, body=png())
        yield server


@pytest.fixture
def providers(images: LocalServer) -> Iterator[RunningProviders]:
    with serve_providers(f"http://localhost:{images.port}") as running:
        yield running


def tool_for(providers: RunningProviders, names: list[str], licences: str | None = None, **kw: str) -> SearchTool:
    settings = Settings(
        tools_enabled=["search"],
        search_provider=names,
        search_licences=licences,
        openverse_url=providers.base + "/v1",
        wikimedia_url=providers.base + "/w/api.php",
        searxng_url=providers.base,
        download_allowed_hosts=["localhost"],
        download_min_side=100,
        **kw,  # type: ignore[arg-type]
    )
    tool = build_tools(settings)["search"]
    assert isinstance(tool, SearchTool)
    return tool


def test_openverse_hit_carries_its_licence_creator_and_page(providers: RunningProviders, images: LocalServer) -> None:
    tool = tool_for(providers, ["openverse"])
    assert tool.availability().ok  # the probe reaches the provider's (operator-configured) host
    result = tool.run(SearchParams(query="red fox"), ToolContext())
    assert result.ok, result.error
    prov = result.provenance
    assert prov["licence"] == "CC BY-SA 4.0" and prov["creator"] == "Jane Doe"
    assert prov["licence_url"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert prov["page_url"] == "https://www.flickr.com/photos/someone/123" and prov["provider"] == "openverse"
    assert prov["image_url"] == f"http://localhost:{images.port}/fox.png" and prov["source"] == "flickr.com"
    assert "licence_hint" not in prov and prov["licences"] == "reusable"
    path, query = providers.queries[-1]
    assert path == "/v1/images/" and query["q"] == ["red fox"]


def test_reusable_is_the_default_and_filters_out_hits_without_a_licence(providers: RunningProviders) -> None:
    tool = tool_for(providers, ["openverse"])
    skipped = tool.run(SearchParams(query="fox"), ToolContext(result_offset=1))  # the second hit had no licence
    assert not skipped.ok and "no more image results" in (skipped.error or "") and "gave 1" in (skipped.error or "")
    anything = tool_for(providers, ["openverse"], "any")
    second = anything.run(SearchParams(query="fox"), ToolContext(result_offset=1))
    assert second.ok and "licence" not in second.provenance and second.provenance["licence_hint"]


def test_wikimedia_reads_extmetadata_in_search_order(providers: RunningProviders) -> None:
    result = tool_for(providers, ["wikimedia"]).run(SearchParams(query="lighthouse"), ToolContext())
    assert result.ok, result.error
    prov = result.provenance
    assert prov["title"] == "Lighthouse at dusk" and prov["creator"] == "Ann & Bo"  # Artist HTML made plain
    assert prov["licence"] == "CC BY 4.0" and prov["licence_url"] == "https://creativecommons.org/licenses/by/4.0"
    assert prov["page_url"] == "https://commons.wikimedia.org/wiki/File:Lighthouse_at_dusk.jpg"
    _path, query = providers.queries[-1]
    assert query["generator"] == ["search"] and query["gsrnamespace"] == ["6"]
    assert query["iiprop"] == ["url|size|extmetadata"]


def test_searxng_asks_for_json_images_and_keeps_a_licence_it_is_given(providers: RunningProviders) -> None:
    result = tool_for(providers, ["searxng"], "reusable").run(SearchParams(query="harbour"), ToolContext())
    assert result.ok, result.error
    assert result.provenance["licence"] == "CC0 1.0" and result.provenance["creator"] == "Cal Harbour"
    path, query = providers.queries[-1]
    assert path == "/search" and query["format"] == ["json"] and query["categories"] == ["images"]
    # searxng alone is not a licensed provider: by default every hit is used
    assert tool_for(providers, ["searxng"]).licence_mode == "any"


def test_several_providers_are_asked_in_order(providers: RunningProviders) -> None:
    tool = tool_for(providers, ["wikimedia", "openverse"])
    first = tool.run(SearchParams(query="x"), ToolContext())
    second = tool.run(SearchParams(query="x"), ToolContext(result_offset=1))
    assert first.provenance["provider"] == "wikimedia" and second.provenance["provider"] == "openverse"
    assert [p for p, _ in providers.queries] == ["/w/api.php", "/v1/images/"] * 2


def test_a_loopback_image_url_that_is_not_allow_listed_is_still_refused(images: LocalServer) -> None:
    allowed = fetch_image(f"http://localhost:{images.port}/fox.png", allowed_hosts=["localhost"])
    assert allowed.width == 400
    with pytest.raises(DownloadError) as refused:
        fetch_image(f"http://127.0.0.1:{images.port}/fox.png", allowed_hosts=["localhost"])
    assert refused.value.kind == "blocked address"
    with pytest.raises(DownloadError):
        fetch_image(f"http://localhost:{images.port}/fox.png")  # empty allow-list: refused
    assert images.requests == ["/fox.png"]  # the refused ones never reached the server


def test_a_provider_pointing_at_a_loopback_image_fails_the_block_with_blocked_address(
    providers: RunningProviders, images: LocalServer
) -> None:
    with serve_providers(f"http://127.0.0.1:{images.port}") as other:
        result = tool_for(other, ["openverse"]).run(SearchParams(query="fox"), ToolContext())
    assert not result.ok and "blocked address" in (result.error or "")


def test_licence_names_and_classes() -> None:
    assert licence_name("by-nc-sa", "2.0") == "CC BY-NC-SA 2.0" and licence_name("cc0", "1.0") == "CC0 1.0"
    assert licence_name("pdm", "1.0") == "Public Domain Mark 1.0"
    assert is_open("CC BY-SA 4.0") and is_open("Public domain") and not is_open("") and not is_open("All rights")
    assert is_commercial("CC BY 4.0") and not is_commercial("CC BY-NC-SA 2.0")


def test_configuration_mistakes_say_what_to_set() -> None:
    common = {
        "timeout_s": 1.0,
        "openverse_url": "",
        "wikimedia_url": "",
        "searxng_url": "",
        "serpapi_url": "",
        "serpapi_key": "",
        "ddgs": lambda: ddgs_searcher(1.0),
    }
    with pytest.raises(ConfigError, match="unknown bing"):
        build_searcher(["bing"], licences=None, **common)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="STUDIO_SEARXNG_URL"):
        build_searcher(["searxng"], licences=None, **common)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="STUDIO_SERPAPI_KEY"):
        build_searcher(["serpapi"], licences=None, **common)  # type: ignore[arg-type]


def test_an_allow_listed_host_cannot_redirect_to_a_loopback_address_it_does_not_name(images: LocalServer) -> None:
    images.route("/hop", status=302, headers={"Location": f"http://127.0.0.1:{images.port}/fox.png"})
    with pytest.raises(DownloadError) as refused:
        fetch_image(f"http://localhost:{images.port}/hop", allowed_hosts=["localhost"])
    assert refused.value.kind == "blocked address"
    assert images.requests == ["/hop"]


def test_serpapi_google_images_with_its_key(providers: RunningProviders) -> None:
    tool = tool_for(providers, ["serpapi"], serpapi_url=providers.base + "/search.json", serpapi_key="serp-key")
    assert tool.licence_mode == "any"  # no licences in google_images answers
    result = tool.run(SearchParams(query="harbour"), ToolContext())
    assert result.ok, result.error
    assert result.provenance["provider"] == "serpapi" and result.provenance["page_url"].endswith("harbour-page")
    assert "licence" not in result.provenance and result.provenance["licence_hint"]
    path, query = providers.queries[-1]
    assert path == "/search.json" and query["engine"] == ["google_images"] and query["api_key"] == ["serp-key"]
    reusable = tool_for(
        providers, ["serpapi"], "reusable", serpapi_url=providers.base + "/search.json", serpapi_key="serp-key"
    ).run(SearchParams(query="harbour"), ToolContext())
    assert not reusable.ok and "reusable licence" in (reusable.error or "")
