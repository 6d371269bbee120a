"""Scripted image search providers on 127.0.0.1, answering their documented JSON.

One server answers all three, by path:
- ``GET /v1/images/`` Openverse (``results``: url, foreign_landing_url, title, creator, license,
  license_version, license_url, source, provider, width, height);
- ``GET /w/api.php`` MediaWiki for Wikimedia Commons (``query.pages.*.imageinfo[0]`` with url,
  thumburl, descriptionurl, sizes and ``extmetadata`` LicenseShortName / LicenseUrl / Artist /
  ObjectName);
- ``GET /search`` SearXNG with ``format=json`` (``results``: url, img_src, title, resolution,
  engine);
- ``GET /search.json`` SerpAPI's ``engine=google_images`` (``images_results``: original, link,
  title, source, original_width, original_height; no licence).

The image URLs point at ``image_host`` (``http://localhost:PORT``: an allow-listed test host). Each
provider gives one licensed hit and one without a licence, so the licence filter has work to do.
``queries`` logs (path, query parameters) of every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.scripted_http import ScriptedHandler, ScriptedServer, Serving


def openverse_payload(host: str) -> dict[str, Any]:
    return {
        "result_count": 2,
        "page_count": 1,
        "page_size": 20,
        "page": 1,
        "results": [
            {
                "id": "4bc43a04-ef46-4544-a0c1-63c63f56e276",
                "title": "Red fox <script>alert(1)</script> in snow",
                "foreign_landing_url": "https://www.flickr.com/photos/someone/123",
                "url": f"{host}/fox.png",
                "creator": "Jane Doe",
                "creator_url": "https://www.flickr.com/photos/someone",
                "license": "by-sa",
                "license_version": "4.0",
                "license_url": "https://creativecommons.org/licenses/by-sa/4.0/",
                "provider": "flickr",
                "source": "flickr",
                "width": 400,
                "height": 300,
            },
            {
                "id": "no-licence",
                "title": "Fox without a licence",
                "foreign_landing_url": "https://example.org/fox",
                "url": f"{host}/unlicensed.png",
                "creator": "",
                "license": "",
                "license_version": "",
                "license_url": "",
                "source": "example",
                "width": 400,
                "height": 300,
            },
        ],
    }


def wikimedia_payload(host: str) -> dict[str, Any]:
    def page(index: int, name: str, path: str, meta: dict[str, str]) -> dict[str, Any]:
        return {
            "pageid": 1000 + index,
            "ns": 6,
            "title": f"File:{name}.jpg",
            "index": index,
            "imageinfo": [
                {
                    "url": f"{host}/{path}",
                    "descriptionurl": f"https://commons.wikimedia.org/wiki/File:{name}.jpg",
                    "width": 400,
                    "height": 300,
                    "extmetadata": {k: {"value": v, "source": "commons-desc-page"} for k, v in meta.items()},
                }
            ],
        }

    licensed = {
        "ObjectName": "Lighthouse at dusk",
        "Artist": '<a href="//commons.wikimedia.org/wiki/User:Ann">Ann &amp; Bo</a>',
        "LicenseShortName": "CC BY 4.0",
        "LicenseUrl": "https://creativecommons.org/licenses/by/4.0",
    }
    return {
        "batchcomplete": "",
        "query": {
            "pages": {
                "1002": page(2, "Lighthouse_unknown", "unlicensed.png", {"ObjectName": "Lighthouse, licence unclear"}),
                "1001": page(1, "Lighthouse_at_dusk", "lighthouse.png", licensed),
            }
        },
    }


def searxng_payload(host: str) -> dict[str, Any]:
    return {
        "query": "harbour",
        "number_of_results": 2,
        "results": [
            {
                "url": "https://example.org/harbour",
                "img_src": f"{host}/harbour.png",
                "thumbnail_src": f"{host}/harbour.png",
                "title": "Harbour at noon",
                "engine": "wikicommons.images",
                "resolution": "400 x 300",
                "author": "Cal Harbour",
                "license": "CC0 1.0",
                "template": "images.html",
            },
            {
                "url": "https://example.org/harbour2",
                "img_src": f"{host}/unlicensed.png",
                "title": "Harbour, licence unknown",
                "engine": "bing images",
                "resolution": "400x300",
                "template": "images.html",
            },
        ],
    }


def serpapi_payload(host: str) -> dict[str, Any]:
    return {
        "search_metadata": {"status": "Success"},
        "images_results": [
            {
                "position": 1,
                "thumbnail": f"{host}/harbour.png",
                "original": f"{host}/harbour.png",
                "original_width": 400,
                "original_height": 300,
                "title": "Harbour from above",
                "link": "https://example.org/harbour-page",
                "source": "Example",
            }
        ],
    }


class ProvidersServer(ScriptedServer):
    def __init__(self, image_host: str) -> None:
        super().__init__(ProvidersHandler)
        self.image_host = image_host
        self.queries: list[tuple[str, dict[str, list[str]]]] = []


class ProvidersHandler(ScriptedHandler):
    server: ProvidersServer

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        parts = urlsplit(self.path)
        with self.server.lock:
            self.server.queries.append((parts.path, parse_qs(parts.query)))
        host = self.server.image_host
        if parts.path == "/v1/images/":
            self.send_json(200, openverse_payload(host))
        elif parts.path == "/w/api.php":
            self.send_json(200, wikimedia_payload(host))
        elif parts.path == "/search":
            self.send_json(200, searxng_payload(host))
        elif parts.path == "/search.json":
            self.send_json(200, serpapi_payload(host))
        else:
            self.send_json(404, {"detail": "Not found."})


class RunningProviders(Serving):
    def __init__(self, server: ProvidersServer) -> None:
        super().__init__(server, "search-providers")
        self.server = server

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def queries(self) -> list[tuple[str, dict[str, list[str]]]]:
        with self.server.lock:
            return list(self.server.queries)


@contextmanager
def serve_providers(image_host: str) -> Iterator[RunningProviders]:
    with RunningProviders(ProvidersServer(image_host)) as running:
        yield running
