"""Accounts: who may use a shared studio, and who is asking.

Modes (``STUDIO_AUTH``):

- ``off`` (default): one local user (``storage.schema.LOCAL_USER``) owns everything. Allowed only
  on a loopback host, unless ``STUDIO_ALLOW_NO_AUTH=1`` says the network is trusted (the app
  then logs a loud warning at every start).
- ``users``: Gradio's own login page and API login (``gradio_client.Client(url, auth=(name,
  password))``) against a users file (``STUDIO_USERS_FILE``, default ``<data dir>/users.json``)
  that holds argon2id hashes (argon2-cffi), never passwords. The file is read again whenever it
  changes on disk, so ``python -m studio users add`` takes effect at once in every app process
  sharing it, and ``users remove`` / ``users passwd`` end the user's logged-in sessions at the
  next request in every process (``ui_doors.RevocableTokens``). Logins are checked off the event
  loop and slowed down after failures (``logins.py``).
- ``proxy``: a reverse proxy that has already authenticated the user (OAuth2 Proxy, Authelia,
  nginx ``auth_request``...) sends the name in a header (``STUDIO_AUTH_HEADER``, default
  ``X-Forwarded-User``). The header is believed only from ``STUDIO_PROXY_IPS`` (default
  loopback), so a client that reaches the app port directly cannot claim a name.

Admins (``"admin": true`` in the users file, or listed in ``STUDIO_ADMIN_USERS``) export every
user's preference data; everybody else exports their own.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import StudioError
from storage.schema import LOCAL_USER

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


class AccountError(StudioError):
    """A users-file or start-up problem, said so that the reader knows what to do."""


@dataclass(frozen=True)
class User:
    name: str
    admin: bool


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended parameters


class UsersFile:
    """The users file: ``{"users": {"alice": {"hash": "$argon2id$...", "admin": false}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # the parsed file and the stat it was read at: each request of a logged-in user asks for
        # its hash (revocation), so the file is parsed again only when it changed (a new inode:
        # _save replaces it)
        self._cached: tuple[tuple[int, int, int], dict[str, dict[str, Any]]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise AccountError(f"cannot read the users file {self.path}: {exc}") from exc
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return {name: dict(entry) for name, entry in cached[1].items()}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = data["users"]
            if not isinstance(users, dict):
                raise TypeError("users is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AccountError(f"cannot read the users file {self.path}: {exc}") from exc
        self._cached = (stamp, users)
        return {name: dict(entry) for name, entry in users.items()}

    def hash_of(self, name: str) -> str | None:
        """The user's password hash now (None: no such user, or the file cannot be read): a
        login stays valid while this stays the same."""
        try:
            entry = self._load().get(name)
        except AccountError:
            return None
        return str(entry.get("hash", "")) if entry else None

    def _save(self, users: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"users": users}, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)  # atomic: a process logging in meanwhile reads old or new
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise AccountError(f"cannot write the users file {self.path}: {exc}") from exc

    def users(self) -> list[User]:
        return [User(name, bool(entry.get("admin"))) for name, entry in sorted(self._load().items())]

    def add(self, name: str, password: str, *, admin: bool = False) -> User:
        if not NAME_RE.match(name):
            raise AccountError(f"bad user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-'")
        if name == LOCAL_USER:
            raise AccountError(f"{LOCAL_USER!r} is the single-user owner; pick another name")
        users = self._load()
        if name in users:
            raise AccountError(f"user {name!r} exists; change the password with `users passwd {name}`")
        users[name] = {"hash": _hash(password), "admin": admin}
        self._save(users)
        return User(name, admin)

    def passwd(self, name: str, password: str) -> None:
        users = self._load()
        if name not in users:
            raise AccountError(f"no user {name!r} in {self.path}")
        users[name]["hash"] = _hash(password)
        self._save(users)

    def remove(self, name: str) -> None:
        """Remove the account (its projects stay in the store; adding the name again gives them back)."""
        users = self._load()
        if users.pop(name, None) is None:
            raise AccountError(f"no user {name!r} in {self.path}")
        self._save(users)

    def check(self, name: str, password: str) -> bool:
        """The password is right (never raises for a wrong name or password)."""
        from argon2.exceptions import Argon2Error, InvalidHashError

        try:
            entry = self._load().get(name)
        except AccountError as exc:
            log.error("login refused: %s", exc)
            return False
        if entry is None:
            _hasher().hash(password)  # about the same time as a wrong password: names do not leak
            return False
        try:
            return bool(_hasher().verify(str(entry.get("hash", "")), password))
        except (Argon2Error, InvalidHashError):
            return False

    def is_admin(self, name: str) -> bool:
        try:
            return bool(self._load().get(name, {}).get("admin"))
        except AccountError:
            return False


def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return str(_hasher().hash(password))


# --- start-up policy -----------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


HOW_TO = (
    "turn accounts on: `python -m studio users add NAME` then STUDIO_AUTH=users, or STUDIO_AUTH=proxy behind "
    "a reverse proxy that sends the user in STUDIO_AUTH_HEADER; or, on a network you trust, STUDIO_ALLOW_NO_AUTH=1"
)


def check_startup(host: str, auth: str, allow_no_auth: bool, users: UsersFile | None) -> list[str]:
    """Raise AccountError when this combination must not start; else the warnings to log loudly."""
    if auth == "users":
        if users is None or not users.users():
            where = users.path if users else "the users file"
            raise AccountError(
                f"STUDIO_AUTH=users but {where} has no users: add one with `python -m studio users add NAME`"
            )
        return []
    if auth == "proxy" or is_loopback(host):
        return []
    if not allow_no_auth:
        raise AccountError(
            f"refusing to serve on {host} without accounts: anyone who can reach it could read, change and "
            f"delete every project. To {HOW_TO}."
        )
    return [
        f"ACCOUNTS ARE OFF ON {host} (STUDIO_ALLOW_NO_AUTH=1): every client on the network can read, change "
        "and delete every project as the one local user"
    ]


def proxy_user_getter(header: str, trusted: list[str]) -> Callable[[Any], str | None]:
    """Gradio's ``auth_dependency``: the user a trusted proxy names, else None (Gradio answers 401)."""
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def user_of(request: Any) -> str | None:
        client = getattr(getattr(request, "client", None), "host", None)
        try:
            ok = client is not None and any(ipaddress.ip_address(client) in n for n in networks)
        except ValueError:
            ok = False
        if not ok:
            return None
        name = (request.headers.get(header) or "").strip()
        return name if NAME_RE.match(name) and name != LOCAL_USER else None

    return user_of
