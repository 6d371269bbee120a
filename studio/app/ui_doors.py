"""The team's doors, as one ASGI middleware in front of Gradio's routes (``doors_app_kwargs``):

- ``POST /login``: refused at once (HTTP 429, the wait in seconds) while the name or the client
  address must wait after failed attempts (``logins.LoginThrottle``); otherwise Gradio's login
  runs, with a password check that runs in a worker thread (``login_check``), and its answer
  (200 or 400) is counted.
- Session ids: the first user who uses a Gradio ``session_hash`` owns it; the same id from
  another login is "not found" (HTTP 404), so nobody reaches another user's per-session state
  (attached images, the queue's event stream) by presenting their id.
- ``GET /gradio_api/file=...`` of an export (``private_exports``): only for its owner (404 for
  anyone else, the same answer as for a file that does not exist).

And ``RevocableTokens``: Gradio's in-memory login tokens, each valid only while its user's
password hash in the users file stays the one it was issued under, so ``users remove`` and
``users passwd`` end the user's sessions at their next request, in every app process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, unquote

import anyio
from starlette.middleware import Middleware
from starlette.requests import Request

from storage.schema import LOCAL_USER
from studio.app.accounts import UsersFile
from studio.app.logins import CHECK_THREADS, LoginPolicy, LoginThrottle
from studio.app.private_exports import may_read_export
from studio.app.session import Studio

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_SESSIONS = 100_000  # session ids remembered per process; the oldest are forgotten first
MAX_PENDING_CHECKS = 16  # password checks waiting for a thread; more attempts are refused (429)
MAX_LOGIN_BODY = 64 * 1024
TARPIT_S = 1.0  # the longest a refused login attempt is held before its 429
_PATH_SESSION = re.compile(r"/gradio_api/(?:heartbeat|stream)/([^/]+)")


class RevocableTokens(dict[str, str]):
    """Gradio's ``app.tokens`` (token -> user name) where a token stops working as soon as its
    user's password hash changes or the user is removed."""

    def __init__(self, users: UsersFile, existing: dict[str, str] | None = None) -> None:
        super().__init__()
        self._users = users
        self._issued_under: dict[str, str | None] = {}
        for token, name in (existing or {}).items():
            self[token] = name

    def __setitem__(self, token: str, name: str) -> None:
        super().__setitem__(token, name)
        self._issued_under[token] = self._users.hash_of(name)

    def __delitem__(self, token: str) -> None:
        super().__delitem__(token)
        self._issued_under.pop(token, None)

    def get(self, token: Any, default: Any = None) -> Any:
        name = super().get(token)
        if name is None:
            return default
        now = self._users.hash_of(name)
        if now is None or now != self._issued_under.get(token):
            self.pop(token, None)
            self._issued_under.pop(token, None)
            return default
        return name


def user_of(fastapi_app: Any, request: Request) -> str | None:
    """The same answer as Gradio's own /user route (its login check): the logged-in user or None."""
    dependency: Callable[[Request], str | None] | None = getattr(fastapi_app, "auth_dependency", None)
    if dependency is not None:
        return dependency(request)
    if getattr(fastapi_app, "auth", None) is None:
        return LOCAL_USER
    cookie_id = getattr(fastapi_app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    user = fastapi_app.tokens.get(token)
    return str(user) if user else None


def install_revocable_tokens(fastapi_app: Any, users: UsersFile) -> None:
    if not isinstance(fastapi_app.tokens, RevocableTokens):
        fastapi_app.tokens = RevocableTokens(users, dict(fastapi_app.tokens))


def _lowest_priority() -> None:
    # Linux niceness is per thread: the checks (and the threads argon2 starts for its lanes)
    # take only CPU that logged-in requests leave over
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


_CHECKS = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="login-check", initializer=_lowest_priority)


def login_check(users: UsersFile) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio's ``auth=``: a coroutine, so Gradio awaits it; argon2 runs in a worker thread of
    its own pool, at the lowest CPU priority."""

    async def check(name: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(_CHECKS, users.check, name, password)

    return check


def client_address(scope: Scope, proxy_ips: list[str]) -> str:
    """The client: the TCP peer, or the last ``X-Forwarded-For`` hop when the peer is a trusted proxy."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    try:
        trusted = any(ipaddress.ip_address(peer) in ipaddress.ip_network(n, strict=False) for n in proxy_ips)
    except ValueError:
        trusted = False
    if trusted:
        for key, value in scope.get("headers", []):
            if key == b"x-forwarded-for":
                hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
                if hops:
                    return hops[-1]
    return peer


async def _read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the client's disconnect

    return again


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class Doors:
    """The ASGI middleware (see the module's docstring)."""

    def __init__(self, app: Any, studio: Studio) -> None:
        self.app = app
        self.studio = studio
        s = studio.settings
        self.proxy_ips = list(s.proxy_ips)
        users = studio.users
        policy = LoginPolicy(s.login_max_failures, s.login_backoff_s, s.login_backoff_max_s, s.login_lockout_s)
        self.throttle = LoginThrottle(policy, users.hash_of if users is not None else (lambda _name: None))
        self.sessions: OrderedDict[str, str] = OrderedDict()
        self.pending_checks = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if scope.get("method") == "POST" and path.rstrip("/").endswith("/login"):
            return await self._login(scope, receive, send)
        if "/gradio_api/" not in path:
            return await self.app(scope, receive, send)
        user = self._user(scope)
        if "/file=" in path and user is not None and not may_read_export(unquote(path.split("/file=", 1)[1]), user):
            return await _answer(send, 404, "not found")
        session_ids = self._query_sessions(scope, path)
        if scope.get("method") == "POST" and _is_json(scope):
            body = await _read_body(receive)
            if body is None:
                return None
            receive = _replay(body, receive)
            session_ids += _body_session(body)
        if user is not None and any(not self._claim(sid, user) for sid in session_ids):
            return await _answer(send, 404, "session not found (it belongs to another login): reload the page")
        return await self.app(scope, receive, send)

    def _user(self, scope: Scope) -> str | None:
        fastapi_app = scope.get("app")
        return user_of(fastapi_app, Request(scope)) if fastapi_app is not None else None

    @staticmethod
    def _query_sessions(scope: Scope, path: str) -> list[str]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        found = list(query.get("session_hash", []))
        match = _PATH_SESSION.search(path)
        return found + ([match.group(1)] if match else [])

    def _claim(self, session_id: str, user: str) -> bool:
        owner = self.sessions.setdefault(session_id, user)
        self.sessions.move_to_end(session_id)
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        return owner == user

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, MAX_LOGIN_BODY)
        if body is None:
            return await _answer(send, 413, "the login form is too large")
        form = await Request(scope, _replay(body, receive)).form()
        name = str(form.get("username") or "").strip()
        address = client_address(scope, self.proxy_ips)
        wait = self.throttle.begin(name, address)
        if wait == 0 and self.pending_checks >= MAX_PENDING_CHECKS:
            self.throttle.end(name, address)
        if wait > 0 or self.pending_checks >= MAX_PENDING_CHECKS:
            # tarpit: the refusal itself waits (no CPU, one idle connection), so a client that
            # retries at once cannot turn refusals into thousands of requests a second
            await anyio.sleep(min(TARPIT_S, wait) if wait > 0 else TARPIT_S)
            seconds = max(1, math.ceil(wait))
            why = f"too many failed logins: try again in {seconds} s" if wait > 0 else "too many logins at once"
            return await _answer(send, 429, why, [(b"retry-after", str(seconds).encode())])

        async def count_then_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":  # counted before the client sees the answer
                if message["status"] == 200:
                    self.throttle.succeeded(name, address)
                elif message["status"] == 400:
                    self.throttle.failed(name, address)
            await send(message)

        self.pending_checks += 1
        try:
            await self.app(scope, _replay(body, receive), count_then_send)
        finally:
            self.pending_checks -= 1
            self.throttle.end(name, address)  # no-op after failed/succeeded
        return None


def _is_json(scope: Scope) -> bool:
    return any(k == b"content-type" and b"json" in v for k, v in scope.get("headers", []))


def _body_session(body: bytes) -> list[str]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    value = data.get("session_hash") if isinstance(data, dict) else None
    return [value] if isinstance(value, str) and value else []


def doors_app_kwargs(studio: Studio) -> dict[str, Any]:
    """``app_kwargs`` for ``gr.Blocks.launch``: the middleware in front of Gradio's routes."""
    return {"middleware": [Middleware(Doors, studio=studio)]}
