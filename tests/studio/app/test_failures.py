"""The one translator at the UI / API boundary: the studio's own errors are sentences, anything
else is a bug that is logged with its traceback under the id the user is shown."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from models.errors import NotFound, Refused, StudioError
from storage import open_store, repo
from studio.app.failures import explain, reason


def test_a_studio_error_is_its_own_sentence_and_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert explain(Refused("a caption cannot be empty"), "Caption") == "Caption failed: a caption cannot be empty"
        assert explain(NotFound("block 'b9' not found in article 1")) == "Block 'b9' not found in article 1"
    assert caplog.records == []


def test_anything_else_is_logged_with_its_traceback_under_the_id_shown(caplog: pytest.LogCaptureFixture) -> None:
    def buggy() -> None:
        {}["missing"]  # a real bug: a bare KeyError

    try:
        buggy()
    except KeyError as exc:
        with caplog.at_level(logging.ERROR):
            text = reason(exc)
    match = re.fullmatch(r"an unexpected error \(logged as ([0-9a-f]{8})\)", text)
    assert match, text
    (record,) = caplog.records
    assert match.group(1) in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert "buggy" in caplog.text  # the traceback names the function that failed


def test_not_found_and_refused_are_studio_errors_with_plain_text() -> None:
    assert issubclass(NotFound, StudioError) and issubclass(Refused, StudioError)
    assert str(NotFound("project 3 not found")) == "project 3 not found"  # a KeyError would quote it


def test_the_repository_raises_not_found_and_refused(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'studio.db'}", tmp_path / "assets")
    with pytest.raises(NotFound, match="project 42 not found"):
        repo.get_project(store, 42)
    with pytest.raises(Refused, match="needs a name"):
        repo.create_project(store, "  ")
