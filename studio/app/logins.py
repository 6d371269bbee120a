"""Login attempts that hold under load: the password check off the event loop, and failed
attempts slowed down per user name and per client address.

- The argon2 check (~0.2 s of CPU) runs in a worker thread, at most ``CHECK_THREADS`` at once,
  so Gradio's event loop keeps serving logged-in users while a crowd tries passwords.
- After a failed attempt the same name must wait before the next check: ``backoff_s *
  2**(failures-1)``, capped at ``backoff_max_s``; so must the client address, from its
  ``FREE_ADDRESS_FAILURES + 1``-th failure on (counted over all names). An attempt that comes
  earlier is refused at once, without running argon2 (HTTP 429 with the wait in seconds).
- After ``max_failures`` failures in a row the name is locked for ``lockout_s`` (even the right
  password is refused), or until its password is changed (``python -m studio users passwd``):
  the lock remembers the password hash it was taken under, and a new hash lifts it in every
  app process that shares the users file.
- A success clears the name's and the address's counts.

The counts live in each app process's memory (a restart forgets them; several processes each
count their own attempts).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# argon2 checks at once (each ~0.2 s on a core): the rest of the machine stays free for logged-in users
CHECK_THREADS = max(1, (os.cpu_count() or 2) // 2)
# an address's first failures cost it nothing (colleagues behind one NAT or proxy mistype too);
# from then on it backs off like a name
FREE_ADDRESS_FAILURES = 3
MAX_TRACKED = 50_000  # names + addresses remembered; the oldest are forgotten first


@dataclass
class _Record:
    failures: int = 0
    not_before: float = 0.0  # monotonic time before which a new attempt is refused
    locked_hash: str | None = None  # the hash the lockout was taken under (None: not locked)
    checking: bool = False  # a check of this name/address runs now: the next attempt waits for it


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 10
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    lockout_s: float = 900.0


class LoginThrottle:
    """Failure counts per user name and per client address (thread-safe)."""

    def __init__(
        self,
        policy: LoginPolicy,
        current_hash: Callable[[str], str | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._current_hash = current_hash  # the name's hash in the users file now (None: no such user)
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def _record(self, key: str) -> _Record:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _Record()
            while len(self._records) > MAX_TRACKED:
                self._records.popitem(last=False)
        self._records.move_to_end(key)
        return record

    def begin(self, name: str, address: str) -> float:
        """Seconds before this name may try from this address; 0: check the password now (then
        call ``failed`` or ``succeeded``). One check at a time per name and per address that has
        failed before, so a crowd arriving when a wait ends gets one check, not one each; names and
        addresses with no failures are checked side by side (the thread pool bounds them)."""
        now = self._clock()
        with self._lock:
            user = self._records.get("user:" + name)
            # `users passwd` (or remove) lifts a lock: the hash it was taken under is gone
            if user is not None and user.locked_hash is not None and user.locked_hash != self._current_hash(name):
                self._records.pop("user:" + name, None)
                user = None
            records = [r for r in (user, self._records.get("addr:" + address)) if r is not None]
            # only a name or address that has failed before waits for its running check: the
            # right passwords of a team behind one NAT, logging in at once, all get checked
            if any(r.checking and r.failures > 0 for r in records):
                return max([self.policy.backoff_s, *(r.not_before - now for r in records)])
            wait = max([0.0, *(r.not_before - now for r in records)])
            if wait == 0:
                self._record("user:" + name).checking = True
                self._record("addr:" + address).checking = True
            return wait

    def end(self, name: str, address: str) -> None:
        """The check of ``begin`` ended without an answer (the client went away)."""
        with self._lock:
            for key in ("user:" + name, "addr:" + address):
                if key in self._records:
                    self._records[key].checking = False

    def failed(self, name: str, address: str) -> None:
        p = self.policy
        now = self._clock()
        self.end(name, address)
        with self._lock:
            for key, free in (("user:" + name, 0), ("addr:" + address, FREE_ADDRESS_FAILURES)):
                record = self._record(key)
                record.failures += 1
                if record.failures > free:
                    doublings = record.failures - free - 1
                    record.not_before = now + min(p.backoff_max_s, p.backoff_s * 2 ** min(doublings, 30))
            user = self._records["user:" + name]
            if user.failures >= p.max_failures:
                user.locked_hash = self._current_hash(name) or ""
                user.not_before = now + p.lockout_s

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._records.pop("user:" + name, None)
            self._records.pop("addr:" + address, None)

    def failures(self, name: str) -> int:
        with self._lock:
            record = self._records.get("user:" + name)
            return record.failures if record else 0
