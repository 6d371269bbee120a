"""Quality mode through the session: candidates stream into scratch views, only the chosen
article is recorded in the store, and the selection reason is shown.

The chat model is scripted (two fixed candidates) because this tests selection and recording;
the real models' candidates are exercised in test_scaling and the slow harness test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import repo
from studio.app.services import build_services
from studio.app.session import RunOptions, Session, Studio
from studio.app.settings import load_settings
from studio.core.agent import Brief
from studio.core.events import ArticleDone, replay_events
from tests.studio.quality.test_scaling import BROKEN, GOOD_CODE, WEAK, ScriptedChat


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    settings = load_settings(data_dir=tmp_path, tools_enabled=["code"], use_grammar=False)
    chat = ScriptedChat("openai", [WEAK + BROKEN + "\n\nEnd.", WEAK + GOOD_CODE + "\n\nEnd."])
    studio = Studio(settings, services=build_services(settings, backend=chat))  # type: ignore[arg-type]
    yield studio
    studio.close()


def test_quality_mode_records_only_the_chosen_candidate(studio: Studio) -> None:
    session = Session(studio)
    brief = Brief("A note on sales with a bar chart", wanted_images=1)
    seen = list(session.generate(brief, RunOptions(quality=2)))
    notes = {view.note for _, view in seen[:-1] if view.note}
    assert any("candidate 2 of 2" in n for n in notes)
    event, view = seen[-1]
    assert isinstance(event, ArticleDone) and view.done
    assert "quality mode" in view.note and "no judge score" in view.note

    stored = repo.open_article(studio.store, session.article_id)  # type: ignore[arg-type]
    images = [b for b in stored.blocks if b.kind == "image"]
    assert len(images) == 1 and images[0].current.status == "ok"  # the valid candidate, not the broken one
    assert len(repo.list_articles(studio.store, session.project_id)) == 1  # type: ignore[arg-type]


def test_replay_events_rebuild_the_same_article(studio: Studio) -> None:
    session = Session(studio)
    list(session.generate(Brief("sales"), response=WEAK + GOOD_CODE + " and " + BROKEN + "\n\nEnd."))
    article = session.article
    assert article is not None
    events = replay_events(article)
    assert isinstance(events[-1], ArticleDone)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("ToolCallFinished") == 1 and kinds.count("ToolCallInvalid") == 1
    assert "".join(getattr(e, "text", "") for e in events if type(e).__name__ == "TextDelta") == "".join(
        b.text for b in article.blocks if b.kind == "text"
    )
