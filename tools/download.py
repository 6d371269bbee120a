"""Fetch one image from the web, treating the server and its bytes as hostile.

``fetch_image(url, ...)`` returns a ``DownloadedImage`` or raises ``DownloadError`` whose
``reason`` is a sentence a person can read and whose ``kind`` is a short category the search
tool counts ("too small", "not an image", ...).

What it guards against, and how:

- SSRF: only http/https. Every connection, the first and every redirect hop, goes through
  ``_GuardedBackend.connect_tcp``, an httpcore network backend: it resolves the host itself,
  refuses the whole host if ANY resolved address is loopback, private, link-local, multicast,
  reserved, unspecified or otherwise not globally routable (IPv4 and IPv6; IPv4-mapped and
  NAT64/6to4-embedded IPv4 are judged by the embedded address), and then connects to exactly
  the address it checked. There is no second DNS lookup between check and connect, so DNS
  rebinding cannot swap the address under us. TLS still uses the URL's host name for SNI and
  certificate checking (httpcore passes ``server_hostname`` from the request origin), and the
  Host header is untouched. Proxies are not supported (``trust_env=False``): a proxy would
  make the connect-time check judge the proxy, not the target.
- Allow-list: ``allowed_hosts`` (STUDIO_DOWNLOAD_ALLOWED_HOSTS, empty by default) names image
  hosts (``host`` or ``host:port``, as the URL spells them) that may be on any address: an
  intranet image host, a test server. The match is on the name the connection is for, at
  connect time (each redirect hop judged anew), so ``localhost`` allowed does not let
  ``127.0.0.1`` through; every other host is judged by its addresses as above.
- Redirects are followed by hand (at most ``MAX_REDIRECTS``), each hop re-validated.
- Size: a declared Content-Length above the cap is refused before reading the body; the
  body is streamed and abandoned the moment it passes the cap (also for chunked bodies and
  lying headers). Content-Encoding other than identity/gzip/deflate is refused; gzip/deflate
  are inflated with a bounded output so a compression bomb cannot blow past the cap.
- Time: explicit httpx timeouts per operation plus one overall deadline that every socket
  operation is cut to (connect, TLS, request, headers, body: ``tools.deadline.DeadlineStream``),
  so a server that trickles its headers or body a byte a second is cut off at the deadline.
- Content: the Content-Type must be image/* (SVG refused: not raster, may carry script);
  Pillow must recognise a raster format we allow, the pixel count is checked from the header
  BEFORE decoding (decompression bombs), then the image is verified and fully decoded. Only
  bytes that passed all of that are returned, unchanged.
"""

from __future__ import annotations

import io
import ipaddress
import socket
import time
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx
from PIL import Image

from tools.deadline import DeadlineStream, call_with_deadline, time_left

MAX_REDIRECTS = 5
ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_USER_AGENT = "Mozilla/5.0 (compatible; LLM-I-Studio/0.1; image fetch)"
_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8"
_REDIRECT_CODES = {301, 302, 303, 307, 308}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
AllowPrivate = bool | Collection[str | IPNetwork]


class DownloadError(Exception):
    """A download was refused or failed. ``reason`` is for people, ``kind`` for counting."""

    def __init__(self, reason: str, kind: str = "failed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True)
class DownloadedImage:
    """A verified raster image: the original bytes, their real type and size."""

    data: bytes
    mime: str
    width: int
    height: int
    final_url: str


# ---------------------------------------------------------------------------- address policy


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, compat), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in ipaddress.IPv6Network("::/96") and int(ip) > 1:  # deprecated IPv4-compatible
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public internet address ("loopback", "private", ...), or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(inner)
            return f"{problem} (embedded in IPv6)" if problem else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    )
    for label, hit in checks:
        if hit:
            return label
    if not ip.is_global:  # e.g. 100.64.0.0/10 shared address space
        return "not publicly routable"
    return None


class AddressPolicy:
    """Which addresses a download may connect to.

    ``allow_private=False``: public addresses only. ``True``: anything (trusted intranets).
    A collection of networks (e.g. ``{"127.0.0.0/8"}``): public addresses plus exactly those
    networks, so tests can allow loopback while 10.x, 169.254.x etc. stay refused.
    """

    def __init__(self, allow_private: AllowPrivate = False, allowed_hosts: Collection[str] = ()) -> None:
        self.allow_all = allow_private is True
        self.allowed_hosts = frozenset(h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip())
        self.networks: tuple[IPNetwork, ...] = ()
        if not isinstance(allow_private, bool):
            self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow_private)

    def problem(self, ip: IPAddress) -> str | None:
        """None when ``ip`` may be contacted, else why not."""
        if self.allow_all:
            return None
        problem = address_problem(ip)
        if problem is None:
            return None
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        if any(c in net for c in candidates for net in self.networks if c.version == net.version):
            return None
        return problem

    def host_allowed(self, host: str, port: int) -> bool:
        """The operator named this image host (``host`` or ``host:port``) in the allow-list."""
        name = host.strip("[]").lower().rstrip(".")
        return name in self.allowed_hosts or f"{name}:{port}" in self.allowed_hosts


def _resolve(host: str, port: int, timeout_s: float) -> list[IPAddress]:
    """getaddrinfo with a deadline (it has none of its own; a dead resolver can stall ~20 s)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = call_with_deadline(
            lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s, name="resolve"
        )
    except TimeoutError:  # before OSError: TimeoutError is one
        raise DownloadError(f"looking up {host} took longer than {timeout_s:.3g} s", "unreachable") from None
    except OSError as exc:
        raise DownloadError(f"cannot resolve {host}: {exc}", "unreachable") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise DownloadError(f"cannot resolve {host}: no addresses", "unreachable")
    return addresses


def check_host(host: str, port: int, policy: AddressPolicy, timeout_s: float) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses, or raise if any of them is refused."""
    addresses = _resolve(host, port, timeout_s)
    if policy.host_allowed(host, port):  # STUDIO_DOWNLOAD_ALLOWED_HOSTS: exactly this host, any address
        return addresses
    for ip in addresses:
        problem = policy.problem(ip)
        if problem is not None:
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise DownloadError(f"refused to connect to {shown}: {problem} address", "blocked address")
    return addresses


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolve + check + connect to the checked address, in one step (no rebinding window)."""

    def __init__(self, policy: AddressPolicy, resolve_timeout_s: float, deadline: float | None = None) -> None:
        self._policy = policy
        self._resolve_timeout_s = resolve_timeout_s
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        resolve_s = time_left(self._deadline, self._resolve_timeout_s) or self._resolve_timeout_s
        addresses = check_host(host, port, self._policy, resolve_s)
        last: Exception | None = None
        for ip in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(ip), port, time_left(self._deadline, timeout), local_address, socket_options
                )
                return DeadlineStream(stream, self._deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise DownloadError("unix sockets are not allowed", "blocked address")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with its connection pool rebuilt on the guarded backend.

    httpx 0.28 has no public hook for a network backend, so we replace ``_pool`` (httpx is
    pinned in requirements.txt; tests/tools/test_download.py fails loudly if this breaks).
    """

    def __init__(self, policy: AddressPolicy, resolve_timeout_s: float, deadline: float | None = None) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=4,
            max_keepalive_connections=2,
            network_backend=_GuardedBackend(policy, resolve_timeout_s, deadline),
        )


# ---------------------------------------------------------------------------- the download


def _validate_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise DownloadError(f"not a valid URL: {url!r} ({exc})", "bad URL") from exc
    if parsed.scheme not in ("http", "https"):
        raise DownloadError(f"only http and https URLs are allowed, not {parsed.scheme or 'none'!r}", "bad URL")
    if not parsed.host:
        raise DownloadError(f"URL has no host: {url!r}", "bad URL")
    return parsed


class _Inflater:
    """gzip/deflate decoding whose output can never exceed ``limit`` + 1 bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)
        self._limit = limit

    def feed(self, chunk: bytes) -> bytes:
        try:
            out = self._z.decompress(chunk, self._limit + 1)
        except zlib.error as exc:
            raise DownloadError(f"corrupt compressed body: {exc}", "broken image") from exc
        if self._z.unconsumed_tail:  # more output pending than the cap allows
            out += b"\0" * (self._limit + 1)
        return out


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float, timeout_s: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise DownloadError(f"image is too large ({int(declared):,} bytes, limit {max_bytes:,})", "too large")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "deflate"):
        raise DownloadError(f"unsupported Content-Encoding {encoding!r}", "not an image")
    inflater = _Inflater(encoding, max_bytes) if encoding in ("gzip", "deflate") else None
    buffer = bytearray()
    for chunk in response.iter_raw():
        buffer += inflater.feed(chunk) if inflater else chunk
        if len(buffer) > max_bytes:
            raise DownloadError(f"image is too large (more than {max_bytes:,} bytes)", "too large")
        if time.monotonic() > deadline:
            raise DownloadError(f"download took longer than {timeout_s:.3g} s", "timed out")
    return bytes(buffer)


def decode_image(data: bytes, max_pixels: int, min_side: int) -> tuple[str, int, int]:
    """Check ``data`` is a sane raster image; return (mime, width, height).

    The pixel limit is checked from the header before anything is decoded. (Pillow's own
    global ``MAX_IMAGE_PIXELS`` guard still applies on top; we do not touch that global or
    the warnings filters, because tools run in several threads at once.)
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
    except Image.DecompressionBombError as exc:
        raise DownloadError(f"image refused as a decompression bomb ({exc})", "too large") from exc
    except Exception as exc:  # Pillow raises many types for hostile input
        raise DownloadError(f"body is not a readable image ({type(exc).__name__})", "not an image") from exc
    if fmt not in ALLOWED_FORMATS:
        allowed = ", ".join(ALLOWED_FORMATS)
        raise DownloadError(f"image format {fmt} is not allowed (only {allowed})", "not an image")
    if width * height > max_pixels:
        raise DownloadError(
            f"image is {width}x{height} px, over the {max_pixels:,}-pixel limit (decompression bomb?)", "too large"
        )
    if min(width, height) < min_side:
        raise DownloadError(f"image is {width}x{height} px, need at least {min_side} px per side", "too small")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # verify() does not decode pixel data for every format; load() does
    except Exception as exc:
        raise DownloadError(f"image data is corrupt ({type(exc).__name__}: {exc})", "broken image") from exc
    return ALLOWED_FORMATS[fmt], width, height


def _check_content_type(response: httpx.Response, host: str) -> None:
    ctype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not ctype.startswith("image/"):
        raise DownloadError(f"{host} sent {ctype or 'no content type'}, not an image", "not an image")
    if ctype.startswith("image/svg"):
        raise DownloadError("SVG is not a raster image", "not an image")


def fetch_image(
    url: str,
    *,
    timeout_s: float = 10.0,
    max_bytes: int = 15 * 1024 * 1024,
    max_pixels: int = 25_000_000,
    min_side: int = 1,
    allow_private: AllowPrivate = False,
    allowed_hosts: Collection[str] = (),
) -> DownloadedImage:
    """Download and verify one raster image. Raises ``DownloadError`` with a readable reason.

    ``timeout_s`` bounds each network operation and the whole download (redirects included).
    ``min_side``: both width and height must be at least this many pixels.
    ``allow_private``: see ``AddressPolicy``. ``allowed_hosts``: image hosts (``host`` or
    ``host:port``, as the URL names them) let through whatever their address (an intranet image
    host, a test server); every other host is judged by its addresses as above.
    """
    policy = AddressPolicy(allow_private, allowed_hosts)
    deadline = time.monotonic() + timeout_s
    current = _validate_url(url)
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
    headers = {"User-Agent": _USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "identity"}
    transport = _GuardedTransport(policy, resolve_timeout_s=min(timeout_s, 5.0), deadline=deadline)
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            host = current.host
            if time.monotonic() > deadline:
                raise DownloadError(f"download took longer than {timeout_s:.3g} s", "timed out")
            try:
                with client.stream("GET", current, headers=headers) as response:
                    if response.status_code in _REDIRECT_CODES:
                        location = response.headers.get("location")
                        if not location:
                            raise DownloadError(f"redirect without a Location from {host}", "HTTP error")
                        current = _validate_url(urljoin(str(current), location))
                        continue
                    if response.status_code != 200:
                        raise DownloadError(f"HTTP {response.status_code} from {host}", "HTTP error")
                    _check_content_type(response, host)
                    data = _read_capped(response, max_bytes, deadline, timeout_s)
            except httpx.TimeoutException as exc:
                if time.monotonic() >= deadline:
                    raise DownloadError(f"download took longer than {timeout_s:.3g} s", "timed out") from exc
                raise DownloadError(f"{host} timed out ({type(exc).__name__})", "timed out") from exc
            except httpx.HTTPError as exc:
                raise DownloadError(f"cannot fetch from {host}: {exc or type(exc).__name__}", "unreachable") from exc
            mime, width, height = decode_image(data, max_pixels, min_side)
            return DownloadedImage(data, mime, width, height, str(current))
    raise DownloadError(f"too many redirects (more than {MAX_REDIRECTS})", "too many redirects")
