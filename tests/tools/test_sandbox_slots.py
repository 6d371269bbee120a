"""The sandbox's slot bound and its frame depth check, without a worker (tests/sandbox runs them
against the real jail)."""

from __future__ import annotations

import json
import threading

import pytest

from tools.sandbox import MAX_JSON_DEPTH, BadFrame, JobSlots, _parse_frame, check_json_depth


def frame(meta: bytes, blob: bytes = b"") -> bytes:
    return len(meta).to_bytes(4, "big") + len(blob).to_bytes(4, "big") + meta + blob


def test_one_owner_holds_at_most_its_share_and_another_owner_still_gets_a_slot() -> None:
    slots = JobSlots(total=3, per_owner=2)
    article, other = object(), object()
    assert slots.acquire(article, 1.0) and slots.acquire(article, 1.0)
    assert not slots.acquire(article, 0.05)  # its share is used up, though a slot is free
    assert slots.acquire(other, 0.05)  # the slot it left is another article's
    assert not slots.acquire(object(), 0.05)  # and the studio's bound holds
    slots.release(article)
    assert slots.acquire(article, 0.05)
    assert slots.running == 3


def test_waiting_jobs_start_in_arrival_order() -> None:
    slots = JobSlots(total=1, per_owner=1)
    assert slots.acquire("first", 1.0)
    started: list[str] = []
    threads = []
    for name in ("a", "b", "c"):
        t = threading.Thread(target=lambda n=name: slots.acquire(n, 10.0) and started.append(n))
        t.start()
        threads.append(t)
        while len(slots._waiting) < len(threads):  # queued before the next one arrives
            threading.Event().wait(0.005)
    for expected in ("a", "b", "c"):
        slots.release(started[-1] if started else "first")
        while expected not in started:
            threading.Event().wait(0.005)
        assert started[-1] == expected
    for t in threads:
        t.join()


def test_a_capped_owner_does_not_hold_up_the_owner_behind_it() -> None:
    slots = JobSlots(total=3, per_owner=1)
    assert slots.acquire("hostile", 1.0)
    blocked = threading.Thread(target=lambda: slots.acquire("hostile", 0.5))
    blocked.start()
    while not slots._waiting:
        threading.Event().wait(0.005)
    assert slots.acquire("honest", 0.05)  # the hostile article's queued job is not in its way
    blocked.join()


def test_waiting_ends_when_cancelled() -> None:
    slots = JobSlots(total=1, per_owner=1)
    assert slots.acquire("busy", 1.0)
    cancel = threading.Event()
    cancel.set()
    assert not slots.acquire("stopped", 60.0, cancel)
    assert len(slots._waiting) == 0 and slots.running == 1


@pytest.mark.parametrize(
    "meta",
    [
        b'{"ok": true, "timings": {"cpu": 0.1}}',
        json.dumps({"error": "[[[[" * 1000 + "{{" * 500}).encode(),  # brackets in strings do not count
        json.dumps({"error": 'a \\" quote then [[[['}).encode(),
        json.dumps({"a": [[[[[[]]]]]]}).encode(),
    ],
)
def test_reports_within_the_depth_limit_parse(meta: bytes) -> None:
    parsed = _parse_frame(frame(meta, b"png"))
    assert parsed is not None and parsed == (json.loads(meta), b"png")


@pytest.mark.parametrize(
    "meta",
    [
        b"[" * 200_000,  # once: RecursionError out of the tool, "the code tool crashed"
        b'{"a": ' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_deeper_frames_are_refused_with_a_reason(meta: bytes) -> None:
    with pytest.raises(BadFrame, match=f"nests deeper than {MAX_JSON_DEPTH} levels"):
        _parse_frame(frame(meta))


def test_depth_limit_is_exact() -> None:
    check_json_depth(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(BadFrame):
        check_json_depth(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))


def test_frames_that_are_not_reports_are_refused() -> None:
    with pytest.raises(BadFrame, match="not valid JSON"):
        _parse_frame(frame(b"notjs"))
    with pytest.raises(BadFrame, match="not an object"):
        _parse_frame(frame(b"[]"))
    assert _parse_frame(frame(b'{"ok": true}', b"png")[:-1]) is None  # cut off: the status says why
