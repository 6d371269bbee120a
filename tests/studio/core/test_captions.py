"""A caption copied from the prompt's slots is replaced by the tag's own words, on record."""

from __future__ import annotations

from pathlib import Path

from studio.app.session import Session
from studio.app.store_adapter import load_article
from studio.core.agent import Brief
from studio.core.captions import copied_slot_in_caption, fix_copied_caption, slot_texts
from studio.core.protocol import ToolCall, find_tags
from tests.render_studio import render_studio

# what the 1.5B model wrote for story-lighthouse: the edit slot's words as the caption
COPIED = (
    "<imgen>{'source': 'edit', 'description': 'A edited picture caption', "
    "'params': {'img_index': 0, 'prompt': 'night-time'}}</imgen>"
)
RESPONSE = (
    "# Lighthouse\n\nThe keeper climbs.\n\n"
    "<imgen>{'source': 'diffusion', 'description': 'The keeper at dusk', 'params': {'prompt': 'keeper, dusk'}}</imgen>"
    f"\n\n{COPIED}\n\nThe night falls."
)


def call(tag: str) -> ToolCall:
    parsed = find_tags(tag, user_image_count=1)[0]
    assert isinstance(parsed, ToolCall)
    return parsed


def test_the_prompts_slots_are_known_and_found_in_any_case() -> None:
    assert {"edited picture caption", "photo caption", "search words", "subject style mood"} <= set(slot_texts())
    assert copied_slot_in_caption("A EDITED picture-caption!") == "edited picture caption"
    assert copied_slot_in_caption("The keeper edited the picture in the caption") is None


def test_a_copied_caption_takes_the_prompts_words() -> None:
    fixed = fix_copied_caption(call(COPIED))
    assert fixed.description == "Night-time" and fixed.params_dict()["prompt"] == "night-time"
    honest = call(COPIED.replace("A edited picture caption", "The lighthouse at night"))
    assert fix_copied_caption(honest) is honest
    # nothing better to say: the call stays as the model wrote it
    empty = call(COPIED.replace("'night-time'", "'search words'"))
    assert fix_copied_caption(empty).description == "A edited picture caption"


def test_the_engine_keeps_the_models_caption_on_record(tmp_path: Path) -> None:
    studio = render_studio(tmp_path)
    try:
        session = Session(studio)
        for _ in session.generate(Brief("a lighthouse story"), response=RESPONSE):
            pass
        _, article, _ = load_article(studio.store, session.article_id, session.user)
    finally:
        studio.close()
    edit = [b for b in article.image_blocks() if b.source == "edit"][0]
    assert edit.description == "Night-time" and edit.status == "placeholder"  # edit is off here
    assert edit.provenance["caption_from_model"] == "A edited picture caption"
    other = [b for b in article.image_blocks() if b.source == "diffusion"][0]
    assert other.description == "The keeper at dusk" and "caption_from_model" not in other.provenance
