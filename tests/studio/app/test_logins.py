"""The login throttle's rules (studio/app/logins.py) on a stepped clock: backoff doubling per
name, the address's free failures, one check at a time, lockout and its lifting by a new hash."""

from __future__ import annotations

from studio.app.logins import FREE_ADDRESS_FAILURES, LoginPolicy, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(hashes: dict[str, str], clock: Clock) -> LoginThrottle:
    policy = LoginPolicy(max_failures=4, backoff_s=1.0, backoff_max_s=8.0, lockout_s=900.0)
    return LoginThrottle(policy, hashes.get, clock)


def fail(t: LoginThrottle, name: str, address: str) -> None:
    assert t.begin(name, address) == 0
    t.failed(name, address)


def test_each_failure_doubles_the_names_wait_up_to_the_cap() -> None:
    clock, hashes = Clock(), {"bob": "h1"}
    t = throttle(hashes, clock)
    waits = []
    for n in range(3):
        fail(t, "bob", f"10.0.0.{n}")  # a new address each time: only the name's wait counts
        waits.append(t.begin("bob", "10.0.0.99"))
        clock.now += waits[-1]
    assert waits == [1.0, 2.0, 4.0]
    assert t.begin("alice", "10.0.0.99") == 0  # another name is not slowed by bob's failures


def test_an_address_backs_off_after_its_free_failures_over_any_names() -> None:
    clock = Clock()
    t = throttle({}, clock)
    for n in range(FREE_ADDRESS_FAILURES):
        fail(t, f"user{n}", "10.0.0.1")
    assert t.begin("fresh-name", "10.0.0.1") == 0
    t.failed("fresh-name", "10.0.0.1")
    assert t.begin("another-name", "10.0.0.1") == 1.0
    assert t.begin("another-name", "10.0.0.2") == 0  # other addresses are not slowed


def test_one_check_at_a_time_for_a_name_that_has_failed() -> None:
    clock = Clock()
    t = throttle({"bob": "h1"}, clock)
    # a clean name: colleagues (or one user's two tabs) logging in at once are all checked
    assert t.begin("bob", "10.0.0.1") == 0 and t.begin("bob", "10.0.0.2") == 0
    t.end("bob", "10.0.0.1")
    t.end("bob", "10.0.0.2")
    fail(t, "bob", "10.0.0.3")
    clock.now += 8.0  # past the name's backoff
    assert t.begin("bob", "10.0.0.4") == 0
    assert t.begin("bob", "10.0.0.5") > 0  # the crowd waits for the running check
    t.end("bob", "10.0.0.4")
    assert t.begin("bob", "10.0.0.5") == 0


def test_lockout_after_max_failures_until_the_password_changes() -> None:
    clock, hashes = Clock(), {"bob": "h1"}
    t = throttle(hashes, clock)
    for n in range(4):
        fail(t, "bob", f"10.0.0.{n}")
        clock.now += 8.0
    assert t.begin("bob", "10.0.1.1") > 800  # locked, whatever the password
    hashes["bob"] = "h2"  # `users passwd bob`
    assert t.begin("bob", "10.0.1.1") == 0
    t.succeeded("bob", "10.0.1.1")
    assert t.failures("bob") == 0
