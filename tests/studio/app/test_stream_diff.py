"""The streaming diff rebuilds every value exactly, where Gradio 6.31's own diff does not."""

from __future__ import annotations

import copy
import random
from typing import Any

import gradio.utils
from gradio_client.utils import apply_diff

from studio.app import stream_diff

SHRINKING = (
    {"blocks": [{"body": ["a", "b"]}, {"body": ["x", "y", "z"]}], "head": "done"},
    {"blocks": [{"body": ["a"]}], "head": "done in 3 s"},
)


def test_nested_lists_that_shrink_are_rebuilt_exactly() -> None:
    old, new = SHRINKING
    assert apply_diff(copy.deepcopy(old), stream_diff.diff(old, new)) == new


def test_gradios_own_diff_gets_this_wrong_so_the_fix_is_still_needed() -> None:
    """If a Gradio upgrade fixes its diff, this fails: then drop stream_diff."""
    old, new = SHRINKING
    original = getattr(gradio.utils, "_studio_original_diff", gradio.utils.diff)
    assert apply_diff(copy.deepcopy(old), original(old, new)) != new


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(["str", "int", "list", "dict"] if depth < 3 else ["str", "int"])
    if kind == "str":
        return rng.choice(["", "a", "ab", "abc", "x"])
    if kind == "int":
        return rng.randint(0, 3)
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice("pqrs"): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def test_random_nested_values_round_trip_through_the_clients_apply() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        old, new = _value(rng), _value(rng)
        assert apply_diff(copy.deepcopy(old), stream_diff.diff(old, new)) == new, (old, new)


def test_install_replaces_gradios_diff() -> None:
    stream_diff.install()
    assert gradio.utils.diff is stream_diff.diff
