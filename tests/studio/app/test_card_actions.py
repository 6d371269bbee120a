"""The card actions are one vocabulary: every ``data-act`` the page renders or sends is an action
model (or one of the page's own gestures), each field is checked once with a sentence, and the
templates and assets the page needs ship as package data."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from studio.app.card_actions import (
    API_MODELS,
    NAMES,
    Accept,
    ActionRefused,
    EditCall,
    Move,
    Regenerate,
    Upload,
    parse_action,
)

APP = Path(__file__).resolve().parents[3] / "studio" / "app"
PAGE_ONLY = {"toggle", "lightbox", "continue"}  # handled by page.js itself, never sent


def test_each_field_is_parsed_once_into_its_type() -> None:
    assert parse_action({"act": "accept", "block": "b2", "version": "3"}) == Accept(block="b2", version=3)
    assert parse_action({"act": "move", "block": "b1", "offset": -1}) == Move(block="b1", offset=-1)
    regen = parse_action({"act": "regenerate", "block": "b2", "how": "params", "params": '{"code": "x"}'})
    assert isinstance(regen, Regenerate) and regen.params == {"code": "x"} and regen.busy == "regenerating"
    call = parse_action({"act": "edit_call", "block": "b2", "tool": "code", "img_index": "1", "extra": "ignored"})
    assert isinstance(call, EditCall) and call.img_index == 1
    assert parse_action({"act": "edit_call", "block": "b2", "tool": "edit", "img_index": 2.0}).img_index == 2  # type: ignore[union-attr]
    long_name = parse_action({"act": "upload", "block": "b2", "path": "/tmp/x.png", "name": "n" * 500})
    assert isinstance(long_name, Upload) and len(long_name.name) == 120


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ({"act": "nonsense", "block": "b1"}, "unknown action 'nonsense': use one of upload, caption"),
        ({"block": "b1"}, "unknown action 'None'"),
        ({"act": "revert", "block": "b1", "version": "x"}, "revert: the version must be a whole number (got 'x')"),
        ({"act": "revert", "block": "b1"}, "revert: the version field required"),
        ({"act": "accept", "block": "b1", "version": 0}, "accept: the version input should be greater than"),
        ({"act": "move", "block": "", "offset": 1}, "move: the block string should have at least 1 character"),
        ({"act": "regenerate", "block": "b2", "how": "params", "params": "{nope"}, "the params are not valid JSON"),
        ({"act": "regenerate", "block": "b2", "params": "[1, 2]"}, "must be a JSON object ({...}), not a list"),
        ({"act": "regenerate", "block": "b2", "how": "louder"}, "the how input should be 'again', 'params' or"),
        ({"act": "edit_call", "block": "b2", "tool": "video"}, "edit_call: the tool must be one of search"),
        ({"act": "edit_text", "block": "b1", "text": "x" * 100_001}, "the text string should have at most 100000"),
        ({"act": "revert", "block": "b1", "version": "9" * 5000}, "revert: the version must be a whole number"),
        ({"act": "regenerate", "block": "b2", "how": "params", "params": "[" * 200_000}, "nested too deeply"),
    ],
)
def test_a_bad_action_is_refused_with_a_sentence(data: dict, sentence: str) -> None:
    with pytest.raises(ActionRefused) as caught:
        parse_action(data)
    assert sentence in str(caught.value)
    assert "pydantic" not in str(caught.value) and "\n" not in str(caught.value)


def test_every_data_act_in_the_templates_and_the_script_is_an_action() -> None:
    sources = [p for p in [*APP.glob("templates/*.j2"), *APP.glob("static/*")] if p.is_file()]  # not static/build/
    acts = set()
    for path in sources:
        text = path.read_text()
        acts |= set(re.findall(r'data-act="([a-z_{} ]+)"', text))
        acts |= set(re.findall(r"act: '([a-z_]+)'", text)) | set(re.findall(r"act === '([a-z_]+)'", text))
    assert acts and acts <= set(NAMES) | PAGE_ONLY, acts - set(NAMES) - PAGE_ONLY
    assert {"insert", "open_editor", "upload", "regenerate", "caption"} <= acts
    # undo / redo take no block: their endpoints are ui_history's own
    assert {m.model_fields["act"].default for m in API_MODELS} == set(NAMES) - {"open_editor", "undo", "redo"}
    assert {"undo", "redo"} <= acts


def test_templates_and_assets_ship_as_package_data() -> None:
    pyproject = tomllib.loads((APP.parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["studio.app"]
    shipped = [p for p in [*APP.glob("templates/*"), *APP.glob("static/*")] if p.is_file()]
    assert len(shipped) >= 8
    for path in shipped:
        relative = path.relative_to(APP).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
