"""Which model server a user may point the studio at, and URLs shown without their credentials.

- The configured ``STUDIO_OPENAI_BASE_URL`` is always allowed.
- Another base URL (the Settings box, ``Test connection``, a per-article server): an admin may
  use any (the single local user of a studio without accounts is its admin); with
  ``STUDIO_ALLOW_CUSTOM_BASE_URL=1`` every user may use one whose host resolves only to public
  addresses (loopback, private, link-local and other non-public addresses are refused: no
  colleague can make the studio's network position read an internal service); otherwise
  nobody else may.
- ``Test connection`` to another URL never shows what the server answered (only whether it
  works), so the studio cannot be used to read an internal page.
- ``redact_url`` drops ``user:password@`` from a URL wherever one is shown (the page's config,
  the model line, logs).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from models.errors import ModelError, ModelTimeout, ModelUnreachable, StudioError
from models.openai_compat import redact_url
from tools.download import address_problem


class BaseUrlRefused(StudioError):
    """A base URL this user may not use; the message says why and what to do."""


def same_server(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def is_configured(url: str, configured: str) -> bool:
    """The configured URL, as configured or as the page shows it (credentials removed)."""
    return same_server(url, configured) or same_server(url, redact_url(configured))


def check_base_url(url: str, configured: str, *, admin: bool, allow_custom: bool) -> None:
    """Raise BaseUrlRefused where this user may not use ``url`` (see the module's docstring)."""
    if not url or is_configured(url, configured) or admin:
        return
    if not allow_custom:
        raise BaseUrlRefused(
            "only an admin may point the studio at another model server (or the operator sets "
            "STUDIO_ALLOW_CUSTOM_BASE_URL=1): leave the base URL as configured"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BaseUrlRefused(f"{redact_url(url)!r} is not an http(s) URL with a host")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BaseUrlRefused(f"cannot resolve {parts.hostname}: {exc}") from exc
    for *_, sockaddr in infos:
        problem = address_problem(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        if problem:
            raise BaseUrlRefused(
                f"{parts.hostname} is a {problem} address: only public model servers may be used here "
                "(an admin may use any)"
            )


def quiet_report(error: ModelError) -> str:
    """What went wrong with another server, without anything the server said."""
    if isinstance(error, ModelTimeout):
        return "the server did not answer in time"
    if isinstance(error, ModelUnreachable):
        return "the server cannot be reached (check the URL and that it runs)"
    return "the server did not answer like an OpenAI-compatible server (what it said is not shown)"
