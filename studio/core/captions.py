"""A caption the writer copied from the prompt's slots is no caption: the studio writes one from
the tag's own words and keeps the model's on record.

Measured: the 1.5B model captioned an edit tag "A edited picture caption" (the slot
``<edited picture caption>`` with its brackets dropped by the grammar). Readers see captions, so
such a tag gets its query or prompt as the caption instead, and the block's provenance keeps the
copied one (``caption_from_model``). Text the model writes between tags cannot be recalled once
streamed; the harness's leak check (studio.quality.leaks) counts what reaches articles.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from studio.core.protocol import ToolCall

CAPTION_MAX = 120
_WORD = re.compile(r"[a-z0-9]+")


@functools.cache
def slot_texts() -> tuple[str, ...]:
    """The prompts' slot texts of two words or more, lower-case words joined by one space."""
    from studio.core.prompts import example_texts

    slots = {" ".join(_WORD.findall(m.lower())) for text in example_texts() for m in re.findall(r"<([^<>]+)>", text)}
    return tuple(sorted(s for s in slots if len(s.split()) >= 2))


def copied_slot_in_caption(description: str) -> str | None:
    """The first prompt slot text the caption holds (any case, punctuation ignored), else None."""
    words = f" {' '.join(_WORD.findall(description.lower()))} "
    return next((slot for slot in slot_texts() if f" {slot} " in words), None)


def fix_copied_caption(call: ToolCall) -> ToolCall:
    """The call with a caption from its query or prompt when the model's copies a slot (the
    engine records the model's caption); unchanged otherwise or when the params have no words."""
    if copied_slot_in_caption(call.description) is None:
        return call
    params = call.params_dict()
    words = " ".join(str(params.get("query") or params.get("prompt") or "").split())
    if not words or copied_slot_in_caption(words) is not None:
        return call
    caption = words[:1].upper() + words[1:]
    return dataclasses.replace(call, description=caption[:CAPTION_MAX])
