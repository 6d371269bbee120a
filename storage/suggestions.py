"""A suggestion on a selection, decided: its versions and its one preference event.

The writer selected part of a text block, the model suggested a replacement, and the writer
accepted it whole, rejected it, or accepted some of its changes. ``record_suggestion`` stores,
in one transaction:

- the suggestion as a version of the block (origin ``suggest``: the block's text with the whole
  suggestion in place of the selection), current only when it was accepted whole;
- when only some changes were accepted, the text as the writer kept it, as a second ``suggest``
  version that becomes current;
- one preference event: ``accept`` (chosen = the text kept, rejected = what it beat: the old
  text for a whole accept, the whole suggestion for a partial one) or ``revert`` (chosen = the
  old text, rejected = the suggestion). Its context holds the selection, the instruction, both
  texts, each change and whether it was taken (``context["suggestion"]``).

The block must still be at the version the suggestion was made on: a paragraph edited since is
refused, so a suggestion is never spliced into text it was not made for. A decision that
changed the text is one step of the article's history (``storage.history``: Ctrl/Cmd+Z undoes
it, and the undo is logged, never deleted). Nothing of studio/ is imported; ``owner`` works as
in ``storage.repo``.
"""

from __future__ import annotations

from typing import Any, Literal

from models.errors import Refused
from storage.db import Store
from storage.history import record_step
from storage.naming import capitalised, name_of
from storage.prefs import block_context, log_event, version_snapshot
from storage.rows import block_row, touch_project, version_row
from storage.schema import Block, BlockVersion
from storage.views import VersionInfo, version_info

ORIGIN = "suggest"
Decision = Literal["accept", "reject", "partial"]


def record_suggestion(
    store: Store,
    article_id: int,
    block_key: str,
    *,
    base_version: int,
    suggested_text: str,
    kept_text: str,
    instruction: str,
    details: dict[str, Any],
    owner: str | None = None,
    base_text: str | None = None,
) -> tuple[Decision, VersionInfo]:
    """Store the decision (see the module); returns it and the version now current. ``base_text``:
    the block's text the suggestion was made on (checked as well as ``base_version``)."""
    # one step of the article's history (storage.history): an accepted suggestion is undone like any edit
    with store.write() as s, record_step(s, article_id, "suggest", "suggestion") as step:
        block = block_row(s, article_id, block_key, owner)
        name = name_of(block)
        step.label = f"suggestion on {name}"
        if block.kind != "text":
            raise Refused(f"{capitalised(name)} is an image block: suggestions are for text")
        if block.deleted_at is not None:
            raise Refused(f"{capitalised(name)} was deleted: restore it first")
        if block.current_version != base_version:
            raise Refused(
                f"{capitalised(name)} changed since the suggestion was made (version {block.current_version}, "
                f"not {base_version}): select the text again and ask again"
            )
        base = version_row(block, base_version)
        original = base.text or ""
        if base_text is not None and original != base_text:  # typed on since: an autosave burst
            raise Refused(  # keeps one version and updates its text (storage.typing_bursts)
                f"{capitalised(name)} changed since the suggestion was made (you typed on): "
                "select the text again and ask again"
            )
        decision: Decision = (
            "accept" if kept_text == suggested_text else "reject" if kept_text == original else "partial"
        )
        suggested = _append(block, base, suggested_text, instruction)
        kept = _append(block, base, kept_text, instruction) if decision == "partial" else None
        chosen, rejected = {
            "accept": (suggested, base),
            "reject": (base, suggested),
            "partial": (kept, suggested),
        }[decision]
        assert chosen is not None
        block.current_version = chosen.number  # a rewrite waiting beside the block stays a candidate
        if block.accepted_version not in (None, chosen.number):
            block.accepted_version = None
        s.flush()
        context = {
            **block_context(s, block),
            "chosen": version_snapshot(chosen),
            "rejected": version_snapshot(rejected),
            "kept": chosen.number,
            "suggestion": {**details, "decision": decision, "instruction": instruction, "base_version": base.number},
        }
        log_event(s, "revert" if decision == "reject" else "accept", block=block, chosen=chosen, rejected=rejected,
                  context=context)  # fmt: skip
        touch_project(s, block)
        return decision, version_info(version_row(block, block.current_version), block)


def _append(block: Block, base: BlockVersion, text: str, instruction: str) -> BlockVersion:
    number = max(v.number for v in block.versions) + 1
    version = BlockVersion(number=number, parent_number=base.number, origin=ORIGIN, instruction=instruction, text=text)
    block.versions.append(version)
    return version
