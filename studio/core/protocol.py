"""The LLM-I <imgen> tag: parse, validate, format (see docs/protocol.md).

Parsing accepts a superset of what the reference implementation accepts:
1. the payload as a Python literal (``ast.literal_eval``, never ``eval``);
2. the payload as JSON (double-quoted tags occur in the wild);
3. the reference's fallback for code payloads that are not valid literals (raw newlines,
   unescaped quotes): the code is taken verbatim and its ``\\n \\t \\' \\"`` escapes are
   turned into characters, leaving every other character alone (Chinese labels survive).

Everything else is rejected with a reason a person understands.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from models.text import valid_strings
from models.vocab import Source
from tools.params import IMAGE_INDEX, PARAMS_BY_SOURCE, SOURCES, edit_targets, edits_images, param_problem, short_repr

OPEN = "<imgen>"
CLOSE = "</imgen>"
MAX_TAG_CHARS = 64 * 1024  # a whole tag, markers included; longer ones are invalid before any parsing
_MAX_RAW_KEPT = 2048  # what an over-long tag keeps of itself on its block
TAG_RE = re.compile(r"<imgen>(.*?)</imgen>", re.DOTALL)
TOP_KEYS = ("source", "description", "params")

# The reference's code fallback, widened to either quote style and free whitespace.
_CODE_FALLBACK_RE = re.compile(
    r"""^\s*\{\s*(?P<q>['"])source(?P=q)\s*:\s*(?P=q)code(?P=q)\s*,\s*"""
    r"""(?P=q)description(?P=q)\s*:\s*(?P=q)(?P<desc>[^'"]*)(?P=q)\s*,\s*"""
    r"""(?P=q)params(?P=q)\s*:\s*\{\s*(?P=q)code(?P=q)\s*:\s*(?P=q)(?P<code>.*)(?P=q)\s*\}\s*\}\s*$""",
    re.DOTALL,
)
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "'": "'", '"': '"'}


@dataclass(frozen=True)
class ToolCall:
    """A valid tag: which tool, a caption, typed params, and the raw tag text."""

    source: str
    description: str
    params: BaseModel
    raw: str

    def params_dict(self) -> dict[str, Any]:
        return self.params.model_dump()

    def to_tag(self) -> str:
        return format_tag(self.source, self.description, self.params_dict())


@dataclass(frozen=True)
class InvalidTag:
    """A tag that could not be accepted, with the reason."""

    raw: str
    reason: str
    source: str | None = None
    description: str = ""


ParsedTag = ToolCall | InvalidTag


def unescape_code(code: str) -> str:
    r"""Turn ``\n``, ``\t``, ``\'`` and ``\"`` into characters; keep all else as written.

    ``\\`` is consumed as a unit and kept, so ``\\n`` stays a backslash followed by ``n``.
    """
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), code)


def _read_payload(payload: str) -> tuple[Any, str | None]:
    """Return (object, None) or (None, reason); every string in it valid Unicode (a ``\\ud800``
    escape decodes to a lone surrogate: ``models.text``)."""
    found, reason = _decode_payload(payload)
    return valid_strings(found), reason


def _decode_payload(payload: str) -> tuple[Any, str | None]:
    text = payload.strip()
    if not text:
        return None, "the tag is empty; it must hold {'source': ..., 'description': ..., 'params': {...}}"
    try:
        return ast.literal_eval(text), None
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        pass
    try:
        return json.loads(text), None
    except (ValueError, RecursionError):
        pass
    match = _CODE_FALLBACK_RE.match(text)
    if match:
        return {
            "source": Source.CODE,
            "description": match.group("desc"),
            "params": {"code": unescape_code(match.group("code"))},
        }, None
    return None, (
        "the tag's payload is not a Python or JSON dict (check quotes and braces); expected "
        "{'source': ..., 'description': ..., 'params': {...}}"
    )


def validate_payload(payload: Any, raw: str, *, tag_position: int, user_image_count: int = 0) -> ParsedTag:
    """Check a decoded payload against the protocol.

    tag_position: 0-based position of this tag among the answer's tags (invalid ones count,
    since every tag occupies an image slot). An edit may point only at indices below
    ``user_image_count + tag_position``.
    """
    if not isinstance(payload, dict):
        return InvalidTag(raw, f"the payload is a {type(payload).__name__}, not a dict")
    keys = set(payload)
    extra = sorted(short_repr(k) for k in keys - set(TOP_KEYS))
    missing = [k for k in TOP_KEYS if k not in keys]
    source = payload.get("source")
    description = payload.get("description")
    desc_text = description if isinstance(description, str) else ""
    src_text = source if isinstance(source, str) else None
    if extra or missing:
        parts = []
        if extra:
            parts.append("unexpected key(s) " + ", ".join(extra[:10]) + (", ..." if len(extra) > 10 else ""))
        if missing:
            parts.append("missing key(s) " + ", ".join(repr(k) for k in missing))
        return InvalidTag(
            raw, "; ".join(parts) + "; a tag has exactly 'source', 'description', 'params'", src_text, desc_text
        )
    if not isinstance(source, str) or source not in PARAMS_BY_SOURCE:
        return InvalidTag(raw, f"unknown source {short_repr(source)}; use one of {', '.join(SOURCES)}", None, desc_text)
    if not isinstance(description, str):
        return InvalidTag(raw, "'description' must be a string (a short caption)", source)
    params = payload["params"]
    if not isinstance(params, dict):
        return InvalidTag(raw, f"'params' must be a dict, got {type(params).__name__}", source, desc_text)
    try:
        typed = PARAMS_BY_SOURCE[source].model_validate(params)
    except ValidationError as exc:
        return InvalidTag(raw, f"{source} params: {param_problem(exc, source)}", source, desc_text)
    for name, value in typed.model_dump().items():
        if isinstance(value, str) and not value.strip() and name not in typed.may_be_empty:
            return InvalidTag(raw, f"{source} params: '{name}' is empty", source, desc_text)
    if edits_images(source):
        limit = user_image_count + tag_position
        index = getattr(typed, IMAGE_INDEX)
        if index not in edit_targets(limit):
            known = "no image exists before this tag" if limit == 0 else f"only images 0..{limit - 1} exist before it"
            return InvalidTag(
                raw,
                f"edit img_index {short_repr(index)} does not point at an earlier image: {known} "
                f"({user_image_count} supplied by the user, {tag_position} generated earlier)",
                source,
                desc_text,
            )
    return ToolCall(source=source, description=description, params=typed, raw=raw)


def oversized_tag(head: str, size: int) -> InvalidTag:
    """The block of a tag longer than ``MAX_TAG_CHARS``; only its start is kept."""
    return InvalidTag(
        head[:_MAX_RAW_KEPT] + ("…" if len(head) > _MAX_RAW_KEPT else ""),
        f"the tag is {size:,} characters long, over the {MAX_TAG_CHARS // 1024} KB limit for one tag; "
        "keep chart code and data short",
    )


def parse_tag(raw: str, *, tag_position: int = 0, user_image_count: int = 0) -> ParsedTag:
    """Parse one complete tag ``<imgen>...</imgen>`` (or its bare payload).

    Never raises: every input gives a ToolCall or an InvalidTag with a reason.
    """
    if not isinstance(raw, str):
        return InvalidTag(repr(raw)[:_MAX_RAW_KEPT], f"the tag is a {type(raw).__name__}, not text")
    if len(raw) > MAX_TAG_CHARS:
        return oversized_tag(raw, len(raw))
    try:
        payload = raw
        if raw.startswith(OPEN) and raw.endswith(CLOSE):
            payload = raw[len(OPEN) : -len(CLOSE)]
        obj, reason = _read_payload(payload)
        if reason is not None:
            return InvalidTag(raw, reason)
        return validate_payload(obj, raw, tag_position=tag_position, user_image_count=user_image_count)
    except (RecursionError, MemoryError):
        return InvalidTag(raw, "the tag is nested too deeply to read; write a flat dict")
    except Exception:  # a parser bug must cost one block, never the article
        return InvalidTag(
            raw, "the tag could not be read; expected {'source': ..., 'description': ..., 'params': {...}}"
        )


def find_tags(text: str, *, user_image_count: int = 0) -> list[ParsedTag]:
    """All tags of a finished response, in order (the reference's non-greedy match)."""
    return [
        parse_tag(m.group(0), tag_position=i, user_image_count=user_image_count)
        for i, m in enumerate(TAG_RE.finditer(text))
    ]


def format_tag(source: str, description: str, params: dict[str, Any]) -> str:
    """Write a tag the reference parses: a Python-literal dict (repr keeps non-ASCII)."""
    if source not in PARAMS_BY_SOURCE:
        raise ValueError(f"unknown source {source!r}")
    typed = PARAMS_BY_SOURCE[source].model_validate(params)
    # str(): a Source StrEnum's repr is "<Source.CODE: 'code'>", which no parser reads back
    payload = {"source": str(source), "description": description, "params": typed.model_dump()}
    return f"{OPEN}{payload!r}{CLOSE}"


def processed_text(text: str, succeeded: list[bool]) -> str:
    """The reference's post-processing: each tag, in order, becomes ``<image>`` where the
    tool gave an image and ``<fail_to_generate_image>`` where it did not."""
    flags = iter(succeeded)

    def swap(_: re.Match[str]) -> str:
        return "<image>" if next(flags, False) else "<fail_to_generate_image>"

    return TAG_RE.sub(swap, text)
