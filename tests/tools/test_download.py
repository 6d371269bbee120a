"""The image downloader against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import io
import ipaddress
import struct
import time
import zlib

import pytest
from PIL import Image

from tests.httpserver import LocalServer
from tools.download import AddressPolicy, DownloadError, address_problem, fetch_image

LOOPBACK = {"127.0.0.0/8"}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(buf, format=fmt)
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def srv():
    with LocalServer() as server:
        yield server


def fetch(url: str, **kwargs):
    kwargs.setdefault("timeout_s", 5.0)
    kwargs.setdefault("allow_private", LOOPBACK)
    return fetch_image(url, **kwargs)


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_good_image_downloads_unchanged(srv, fmt, mime):
    data = image_bytes(fmt)
    srv.route("/pic", headers={"Content-Type": mime}, body=data)
    got = fetch(srv.url("/pic"), min_side=32)
    assert (got.data, got.mime, got.width, got.height) == (data, mime, 64, 48)
    assert got.final_url == srv.url("/pic")


def test_mime_comes_from_the_bytes_not_the_header(srv):
    data = image_bytes("JPEG")
    srv.route("/pic.png", headers={"Content-Type": "image/png"}, body=data)
    assert fetch(srv.url("/pic.png")).mime == "image/jpeg"


def test_redirect_chain_is_followed(srv):
    data = image_bytes()
    srv.route("/a", status=301, headers={"Location": "/b"})
    srv.route("/b", status=302, headers={"Location": srv.url("/c")})
    srv.route("/c", status=307, headers={"Location": "final.png"})
    srv.route("/final.png", headers={"Content-Type": "image/png"}, body=data)
    got = fetch(srv.url("/a"))
    assert got.data == data and got.final_url == srv.url("/final.png")
    assert srv.requests == ["/a", "/b", "/c", "/final.png"]


def test_too_many_redirects_refused(srv):
    for i in range(10):
        srv.route(f"/r{i}", status=302, headers={"Location": f"/r{i + 1}"})
    with pytest.raises(DownloadError, match="too many redirects") as err:
        fetch(srv.url("/r0"))
    assert err.value.kind == "too many redirects"
    assert len(srv.requests) == 6  # the first request plus five redirects, no more


def test_loopback_refused_by_default_before_any_request(srv):
    srv.route("/pic", headers={"Content-Type": "image/png"}, body=image_bytes())
    with pytest.raises(DownloadError, match="loopback") as err:
        fetch_image(srv.url("/pic"), timeout_s=5)
    assert err.value.kind == "blocked address"
    with pytest.raises(DownloadError, match="loopback"):
        fetch_image(f"http://localhost:{srv.port}/pic", timeout_s=5)  # a name resolving to loopback
    assert srv.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/x.png",
        "http://[::ffff:10.0.0.1]/x.png",
        "http://[fe80::1]/x.png",
        "http://0.0.0.0/x.png",
    ],
)
def test_redirect_to_private_address_refused_even_when_loopback_allowed(srv, target):
    srv.route("/go", status=302, headers={"Location": target})
    start = time.monotonic()
    with pytest.raises(DownloadError, match="refused to connect") as err:
        fetch(srv.url("/go"))
    assert err.value.kind == "blocked address"
    assert time.monotonic() - start < 2  # refused, not a connect attempt that times out
    assert srv.requests == ["/go"]


def test_non_http_schemes_refused(srv):
    srv.route("/go", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(DownloadError, match="only http and https"):
        fetch(srv.url("/go"))
    with pytest.raises(DownloadError, match="only http and https"):
        fetch("ftp://example.com/a.png")


def test_declared_huge_content_length_refused(srv):
    srv.route("/big", headers={"Content-Type": "image/png", "Content-Length": str(10**9)}, body=b"")
    with pytest.raises(DownloadError, match="too large") as err:
        fetch(srv.url("/big"), max_bytes=100_000)
    assert err.value.kind == "too large"


def test_endless_chunked_body_aborted_at_cap(srv):
    sent = []

    def endless():
        while True:
            sent.append(1)
            yield b"\x89PNG" + b"x" * 65532

    srv.route("/stream", headers={"Content-Type": "image/png"}, body=endless())
    with pytest.raises(DownloadError, match="more than 200,000 bytes"):
        fetch(srv.url("/stream"), max_bytes=200_000)
    time.sleep(0.2)
    assert len(sent) < 100  # the server stopped soon after we hung up: we did not drain it


def test_trickling_server_hits_the_overall_deadline(srv):
    def trickle():
        yield b"\x89PNG\r\n\x1a\n"
        for _ in range(100):
            time.sleep(0.1)
            yield b"x"

    srv.route("/slow.png", headers={"Content-Type": "image/png"}, body=trickle())
    start = time.monotonic()
    with pytest.raises(DownloadError, match="took longer than 1 s") as err:
        fetch(srv.url("/slow.png"), timeout_s=1.0)
    assert err.value.kind == "timed out"
    assert time.monotonic() - start < 2  # each read was quick, yet the whole download was cut off


def test_gzip_bomb_is_capped(srv):
    gz = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    body = gz.compress(b"\0" * 20_000_000) + gz.flush()
    assert len(body) < 100_000
    srv.route("/gz", headers={"Content-Type": "image/png", "Content-Encoding": "gzip"}, body=body)
    with pytest.raises(DownloadError, match="too large"):
        fetch(srv.url("/gz"), max_bytes=1_000_000)


def test_html_refused(srv):
    srv.route("/page", headers={"Content-Type": "text/html; charset=utf-8"}, body=b"<html>hi</html>")
    with pytest.raises(DownloadError, match="text/html, not an image") as err:
        fetch(srv.url("/page"))
    assert err.value.kind == "not an image"


def test_image_content_type_with_garbage_body_refused(srv):
    srv.route("/fake.jpg", headers={"Content-Type": "image/jpeg"}, body=b"<html>not really</html>" * 20)
    with pytest.raises(DownloadError, match="not a readable image") as err:
        fetch(srv.url("/fake.jpg"))
    assert err.value.kind == "not an image"


def test_truncated_image_refused(srv):
    data = image_bytes("PNG", (300, 300))
    srv.route("/cut.png", headers={"Content-Type": "image/png"}, body=data[: len(data) // 2])
    with pytest.raises(DownloadError) as err:
        fetch(srv.url("/cut.png"))
    assert err.value.kind in {"broken image", "not an image"}


def test_svg_refused(srv):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="500" height="500"><script>alert(1)</script></svg>'
    srv.route("/a.svg", headers={"Content-Type": "image/svg+xml"}, body=svg)
    with pytest.raises(DownloadError, match="SVG"):
        fetch(srv.url("/a.svg"))


def test_too_small_image_refused(srv):
    srv.route("/tiny.png", headers={"Content-Type": "image/png"}, body=image_bytes("PNG", (300, 40)))
    with pytest.raises(DownloadError, match="300x40 px, need at least 100") as err:
        fetch(srv.url("/tiny.png"), min_side=100)
    assert err.value.kind == "too small"


@pytest.mark.parametrize(
    ("side", "message"), [(8000, "8000x8000 px, over the 20,000,000-pixel limit"), (40_000, "bomb")]
)
def test_decompression_bomb_refused_before_decoding(srv, side, message):
    bomb = png_claiming(side, side)
    assert len(bomb) < 10_000
    srv.route("/bomb.png", headers={"Content-Type": "image/png"}, body=bomb)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=message) as err:
        fetch(srv.url("/bomb.png"), max_pixels=20_000_000)
    assert err.value.kind == "too large"
    assert time.monotonic() - start < 2  # refused from the header, nothing decoded


def test_http_error_status_reported(srv):
    with pytest.raises(DownloadError, match="HTTP 404") as err:
        fetch(srv.url("/missing.png"))
    assert err.value.kind == "HTTP error"


def test_closed_port_is_unreachable_not_a_crash():
    with LocalServer() as server:
        url = server.url("/x.png")
    with pytest.raises(DownloadError, match="cannot fetch") as err:
        fetch(url)
    assert err.value.kind == "unreachable"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not publicly routable"),
        ("::ffff:127.0.0.1", "loopback (embedded in IPv6)"),
        ("::ffff:169.254.169.254", "link-local (embedded in IPv6)"),
        ("64:ff9b::a00:1", "private (embedded in IPv6)"),
        ("2002:a00:1::", "private (embedded in IPv6)"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_address_classification(address, problem):
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_policy_allows_only_the_listed_networks():
    policy = AddressPolicy({"127.0.0.0/8"})
    assert policy.problem(ipaddress.ip_address("127.0.0.2")) is None
    assert policy.problem(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert policy.problem(ipaddress.ip_address("::1")) == "loopback"
    assert policy.problem(ipaddress.ip_address("10.0.0.1")) == "private"
    assert AddressPolicy(True).problem(ipaddress.ip_address("10.0.0.1")) is None
    assert AddressPolicy(False).problem(ipaddress.ip_address("127.0.0.1")) == "loopback"


def test_slow_headers_server_is_cut_off_at_the_deadline():
    """A real TCP server on 127.0.0.1 that sends its status line, then one header byte every
    0.1 s for 60 s: each read is quick, so only the overall deadline can end the download."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sent: list[int] = []
    done = threading.Event()

    def serve_until_hangup() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n")
            conn.settimeout(0.1)
            for _ in range(600):
                try:
                    conn.sendall(b"X")
                except OSError:
                    break
                sent.append(1)
                try:
                    if conn.recv(1) == b"":
                        break  # the client hung up
                except TimeoutError:
                    continue
                except OSError:
                    break
        done.set()

    thread = threading.Thread(target=serve_until_hangup, daemon=True)
    thread.start()
    try:
        with pytest.raises(DownloadError) as err:
            fetch(f"http://127.0.0.1:{port}/slow-headers.png", timeout_s=1.0)
        assert err.value.kind == "timed out"
        assert done.wait(30)
        assert 0 < len(sent) < 600  # the server saw us hang up long before it finished its headers
    finally:
        listener.close()
