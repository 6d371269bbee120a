"""Preference-log events -> dataset rows (pure: no files, no database).

Three row kinds, each in TRL's *conversational* format:

- preference rows (``accept`` / ``revert`` events that name a rejected version):
  ``prompt`` = [system: the writer's system prompt as sent for that article, user: the user
  message as sent (the brief, the wanted image count, a note on the user's images)];
  ``chosen`` / ``rejected`` = [assistant: the *whole article* with that version of the block in
  place], so the shared prefix and suffix cancel in DPO and EOS falls at the article's real end;
- rating rows (``rating`` events): ``prompt`` as above, ``completion`` = [assistant: the whole
  article], ``label`` (thumbs up, or 4-5 stars where only stars were given), for KTO;
- vision rows: the preference rows of articles with input images, plus ``images`` (the user's
  images, in img_index order), TRL's vision format.

The article is written as the writer wrote it (two-phase charts keep their empty code; the code
that ran is in ``*_filled_code``). An article longer than ``max_chars`` is cut at block
boundaries only: whole blocks before the judged block go first (the title line is kept), then
whole blocks from the end (``cut_after`` says so: its EOS is then not the article's end).
Images are ``ImageRef`` values here; ``storage.pref_dataset`` embeds or copies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from models.provenance import credit_for
from storage.views import TAG_CLOSE, TAG_OPEN, PreferenceEventInfo

MAX_ARTICLE_CHARS = 12_000
PAIR_KINDS = ("accept", "revert", "edit")  # "edit": a manual edit, once the editor logs one


@dataclass(frozen=True)
class ImageRef:
    sha256: str
    mime: str


@dataclass(frozen=True)
class Scope:
    """Which events to export: all (both None), one project, or one article; ``owner`` keeps one
    user's events (None: every user's, an admin's export)."""

    project_id: int | None = None
    article_id: int | None = None
    owner: str | None = None

    def holds(self, e: PreferenceEventInfo) -> bool:
        if self.owner is not None and e.owner != self.owner:
            return False
        if self.article_id is not None and e.article_id != self.article_id:
            return False
        return self.project_id is None or e.project_id == self.project_id


def _messages(role: str, content: str) -> list[dict[str, str]]:
    return [{"role": role, "content": content}]


def prompt_messages(context: dict[str, Any]) -> list[dict[str, str]]:
    """[system, user] as the writer was asked (older events without a recorded prompt: the brief)."""
    settings = context.get("settings") or {}
    system, user = settings.get("system_prompt"), settings.get("user_prompt")
    messages = _messages("system", system) if isinstance(system, str) and system else []
    return messages + _messages("user", user if isinstance(user, str) and user else context.get("brief", ""))


PASTED_WRITER = "pasted response"  # studio.core.agent.PASTED_WRITER (storage may not import it)
_LEGACY_EMBEDDED = re.compile(r"model file (.+?), \d+ threads")
_LEGACY_SERVER = re.compile(r"OpenAI-compatible server at \S+, model (.+)")


def legacy_model_name(model: Any) -> str | None:
    """Articles recorded before the writer's model was kept as a name kept the backend's
    description, with the GGUF's path or the server's address in it: only the model's name
    goes into a dataset that is shared."""
    if not isinstance(model, str):
        return None
    if m := _LEGACY_EMBEDDED.search(model):
        return PurePath(m.group(1)).name  # the file name is the model's name; its folder is nobody's business
    if m := _LEGACY_SERVER.fullmatch(model):
        return None if m.group(1).startswith("(") else m.group(1)  # "(first listed by the server)": unknown
    return model


def _writer(context: dict[str, Any]) -> dict[str, Any]:
    settings = context.get("settings") or {}
    gen = settings.get("generation") or {}
    generation = {
        "max_tokens": gen.get("max_tokens"),
        "temperature": gen.get("temperature"),
        "top_p": gen.get("top_p"),
        "max_images": gen.get("max_images"),
        "max_paragraph_chars": gen.get("max_paragraph_chars"),
        "grammar": gen.get("grammar"),
        "two_phase_code": gen.get("two_phase_code"),
        "quality": gen.get("quality"),
        "wanted_images": settings.get("wanted_images"),
        "style": settings.get("style"),
        "tools": list(settings.get("tools") or []),
    }
    backend, model = settings.get("backend"), settings.get("model")
    if settings.get("written_by") == "render" and backend != PASTED_WRITER:
        backend, model = PASTED_WRITER, None  # recorded before renders were told apart from the model
    return {
        "writer_backend": backend,
        "writer_model": legacy_model_name(model),
        "written_by": settings.get("written_by"),
        "generation": generation,
        "user": context.get("user", settings.get("user")),
    }


def _image(sha256: str | None, mime: str | None) -> ImageRef | None:
    return ImageRef(sha256, mime or "image/png") if sha256 else None


def _input_images(context: dict[str, Any]) -> list[ImageRef]:
    return [ImageRef(i["sha256"], i.get("mime") or "image/png") for i in context.get("input_images", [])]


# --- the article around the block, cut at block boundaries -----------------------------------


def _legacy_blocks(text: str, *, before: bool) -> list[str]:
    """Events logged before block lists: the old text, with a tag cut in half dropped."""
    if before:
        close, open_ = text.find(TAG_CLOSE), text.find(TAG_OPEN)
        if close != -1 and (open_ == -1 or close < open_):
            text = text[close + len(TAG_CLOSE) :]  # the old character cut left half a tag here
    else:
        open_ = text.rfind(TAG_OPEN)
        if open_ != -1 and text.find(TAG_CLOSE, open_) == -1:
            text = text[:open_]
    return [text] if text else []


def _side(context: dict[str, Any], key: str) -> list[str]:
    blocks = context.get(f"blocks_{key}")
    if isinstance(blocks, list):
        return [str(b.get("tag", "")) for b in blocks]
    return _legacy_blocks(str(context.get(f"text_{key}") or ""), before=key == "before")


def title_line(block: str) -> str:
    """The heading a first text block starts with ("# Title\\n\\n"), or ""."""
    head = block.lstrip("\n").split("\n", 1)[0]
    return head + "\n\n" if head.startswith("#") and TAG_OPEN not in head else ""


@dataclass(frozen=True)
class Around:
    before: str
    after: str
    cut_before: int  # whole blocks left out before the judged block (the title line is kept)
    cut_after: int  # whole blocks left out at the end


def cut_around(before: list[str], after: list[str], middle_chars: int, max_chars: int) -> Around:
    """Keep the article under ``max_chars`` by leaving out whole blocks, never part of one."""
    before, after = list(before), list(after)
    title = ""
    total = middle_chars + sum(map(len, before)) + sum(map(len, after))
    cut_before = cut_after = 0
    while total > max_chars and before:
        if cut_before == 0:
            title = title_line(before[0])
            total += len(title)
        total -= len(before.pop(0))
        cut_before += 1
    while total > max_chars and after:
        total -= len(after.pop())
        cut_after += 1
    return Around(title + "".join(before), "".join(after), cut_before, cut_after)


# --- rows ------------------------------------------------------------------------------------------


def _origin(kind: str, chosen: dict[str, Any], rejected: dict[str, Any] | None = None) -> str:
    if kind == "edit" or chosen.get("origin") == "edit":
        return "manual edit"
    if "suggest" in (chosen.get("origin"), (rejected or {}).get("origin")):
        return "suggestion"  # a suggestion on a selection, decided (storage.suggestions)
    return "rewrite" if chosen.get("origin") == "rewrite" else kind


def _written(version: dict[str, Any]) -> str:
    return str(version.get("written_tag") or version.get("tag") or "")


def preference_row(e: PreferenceEventInfo, max_chars: int = MAX_ARTICLE_CHARS) -> dict[str, Any] | None:
    c = e.context
    chosen, rejected = c.get("chosen"), c.get("rejected")
    manual = e.kind == "rewrite" and bool(c.get("manual"))  # the editor's manual edit: a decided pair
    if (e.kind not in PAIR_KINDS and not manual) or not chosen or not rejected or c.get("void"):
        return None
    chosen_text, rejected_text = _written(chosen), _written(rejected)
    around = cut_around(_side(c, "before"), _side(c, "after"), max(len(chosen_text), len(rejected_text)), max_chars)
    same_text = chosen_text == rejected_text
    same_image = chosen.get("asset_sha256") == rejected.get("asset_sha256")
    same_code = chosen.get("filled_code") == rejected.get("filled_code")
    return {
        "prompt": prompt_messages(c),
        "chosen": _messages("assistant", around.before + chosen_text + around.after),
        "rejected": _messages("assistant", around.before + rejected_text + around.after),
        "brief": c.get("brief", ""),
        "event_id": e.id,
        "event": "edit" if manual else e.kind,
        "origin": _origin("edit" if manual else e.kind, chosen, rejected),
        "chosen_origin": chosen.get("origin"),
        "rejected_origin": rejected.get("origin"),
        "created_at": e.created_at.isoformat(),
        "project_id": e.project_id,
        "article_id": e.article_id,
        "block_id": e.block_key,
        "block_kind": c.get("block_kind"),
        "source": chosen.get("source"),
        "rejected_source": rejected.get("source"),
        # who made each picture, decided from that version's own record (an upload is the author's)
        "chosen_credit": _credit(chosen),
        "rejected_credit": _credit(rejected),
        "text_before": around.before,
        "text_after": around.after,
        "chosen_text": chosen_text,
        "rejected_text": rejected_text,
        "chosen_filled_code": chosen.get("filled_code"),
        "rejected_filled_code": rejected.get("filled_code"),
        "chosen_status": chosen.get("status"),
        "rejected_status": rejected.get("status"),
        "chosen_image": _image(chosen.get("asset_sha256"), chosen.get("mime")),
        "rejected_image": _image(rejected.get("asset_sha256"), rejected.get("mime")),
        "chosen_image_sha256": chosen.get("asset_sha256"),
        "rejected_image_sha256": rejected.get("asset_sha256"),
        "prompt_image_sha256": [i.sha256 for i in _input_images(c)],
        "same_text": same_text,
        "identical": same_text and same_image and same_code,
        "cut_before": around.cut_before,
        "cut_after": around.cut_after,
        **_writer(c),
        "user": e.owner or c.get("user"),
    }


def undone_event_ids(events: list[PreferenceEventInfo]) -> set[int]:
    """The events a history step logged and an ``undo`` took back (and no later ``redo`` did
    again): the user no longer stands by them, so they make no pair. The log keeps all three."""
    undone: set[int] = set()
    for e in events:
        if e.kind == "undo":
            undone.update(int(i) for i in e.context.get("undoes") or [])
        elif e.kind == "redo":
            undone.difference_update(int(i) for i in e.context.get("redoes") or [])
    return undone


def preference_rows(
    events: list[PreferenceEventInfo],
    *,
    keep_identical: bool = False,
    max_chars: int = MAX_ARTICLE_CHARS,
) -> tuple[list[dict[str, Any]], int]:
    """One row per judged pair (the latest judgement of the same two versions wins); identical
    pairs (same text, same image, same filled code) are left out unless ``keep_identical``.
    Returns (rows, how many identical pairs were left out). An accept (or edit, revert) that was
    undone in the article's history and not redone is no pair (``undone_event_ids``).

    A typing burst (``storage.typing_bursts``) logs one event per autosave, all with the same two
    versions: the latest is its one row; a ``void`` latest (the text is back to what it was before
    the burst) takes the burst's row away."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    undone = undone_event_ids(events)
    for e in events:
        if e.id in undone:
            continue
        if e.context.get("void"):
            latest.pop(_pair_key(e), None)
            continue
        row = preference_row(e, max_chars)
        if row is None:
            continue
        key = _pair_key(e)
        latest.pop(key, None)  # re-insert so rows keep the order of their latest judgement
        latest[key] = row
    rows = list(latest.values())
    kept = rows if keep_identical else [r for r in rows if not r["identical"]]
    return kept, len(rows) - len(kept)


def _pair_key(e: PreferenceEventInfo) -> tuple[Any, ...]:
    """Which two versions of which block an event judges (None ids: a void event without them)."""
    chosen, rejected = e.context.get("chosen") or {}, e.context.get("rejected") or {}
    return (e.article_id, e.block_key, frozenset((chosen.get("id"), rejected.get("id"))))


def rating_row(e: PreferenceEventInfo) -> dict[str, Any]:
    c = e.context
    thumbs, stars = c.get("thumbs"), c.get("stars")
    blocks = c.get("images", [])
    return {
        "prompt": prompt_messages(c),
        "completion": _messages("assistant", str(c.get("llmi_text", ""))),
        "label": thumbs == 1 if thumbs is not None else (stars or 0) >= 4,
        "thumbs": thumbs,
        "stars": stars,
        "comment": c.get("comment", ""),
        "brief": c.get("brief", ""),
        "event_id": e.id,
        "created_at": e.created_at.isoformat(),
        "project_id": e.project_id,
        "article_id": e.article_id,
        "completion_images": [r for b in blocks if (r := _image(b.get("asset_sha256"), b.get("mime")))],
        "completion_image_sha256": [b.get("asset_sha256") for b in blocks],
        "prompt_image_sha256": [i.sha256 for i in _input_images(c)],
        **_writer(c),
        "user": e.owner or c.get("user"),
    }


VISION_KEYS = ("prompt", "chosen", "rejected", "brief", "event_id", "origin", "article_id", "block_id", "identical")


def vision_rows(preference: list[dict[str, Any]], events: dict[int, PreferenceEventInfo]) -> list[dict[str, Any]]:
    """The preference rows whose article had input images, with ``images`` for a VLM."""
    rows = []
    for row in preference:
        images = _input_images(events[row["event_id"]].context)
        if images:
            rows.append({**{k: row[k] for k in VISION_KEYS}, "images": images})
    return rows


def _credit(snapshot: dict[str, Any]) -> str | None:
    """The credit line of an image version's snapshot (``models.provenance``), None for text."""
    if snapshot.get("kind") != "image":
        return None
    return credit_for(snapshot.get("source"), snapshot.get("provenance") or {}).line
