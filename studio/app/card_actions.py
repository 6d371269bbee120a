"""The card actions as one vocabulary: a discriminated union of pydantic models, ``act`` the tag.

Every way into a card action goes through ``parse_action``: the page's ``act`` event (the
``data-act`` buttons of ``templates/*.j2`` and ``static/page.js``), the call editor's Run button
and each named API endpoint (``ui_server.action_endpoints`` builds one per model, its inputs
from the model's fields). A new action is one model here and one ``case`` in
``studio.app.actions.apply``; ``mypy`` flags the ``match`` that misses it (``assert_never``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from models.errors import Refused
from tools.params import SOURCES

MAX_TEXT_CHARS = 100_000  # one block's text, a caption or an instruction: more is a mistake, not writing


def _whole(value: Any) -> Any:
    """A version, offset or image index as typed by a person or a script: an int, or at most 12
    digits (an optional sign); anything else is refused in words, not in int()'s."""
    if isinstance(value, float) and value.is_integer():  # a number input sends 2.0
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"must be a whole number, got a {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not (text.lstrip("+-").isdigit() and text.isascii() and len(text) <= 13):
            raise ValueError("must be a whole number")
        return int(text)
    return value


Whole = Annotated[int, BeforeValidator(_whole)]


class ActionRefused(Refused):
    """The action's data does not make a valid action (unknown ``act``, a missing or bad field);
    the message is a sentence that says which field and what to send."""


class _Action(BaseModel):
    """What every action names: the block (``b1``, ``b2``...) it works on."""

    model_config = ConfigDict(extra="ignore", str_max_length=MAX_TEXT_CHARS, frozen=True)
    busy: ClassVar[str] = ""  # shown on the card while it runs ("" : too quick to show)
    block: str = Field(min_length=1, max_length=40)


class Regenerate(_Action):
    """A new version of an image: ``again`` (same call), ``params`` (new params) or ``tool``."""

    act: Literal["regenerate"] = "regenerate"
    busy: ClassVar[str] = "regenerating"
    how: Literal["again", "params", "tool"] = "again"
    params: dict[str, Any] | None = None
    source: str | None = None

    @field_validator("params", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"are not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                    'write an object such as {"code": "plt.plot([1, 2])"}'
                ) from None
            except RecursionError:
                raise ValueError("are nested too deeply to read") from None
            if not isinstance(value, dict):
                raise ValueError(f"must be a JSON object ({{...}}), not a {type(value).__name__}")
        return value


class EditCall(_Action):
    """Run an edited call (the card's *Edit call…* form): the tool and its fields."""

    act: Literal["edit_call"] = "edit_call"
    busy: ClassVar[str] = "regenerating"
    tool: str
    description: str = ""
    query: str = ""
    prompt: str = ""
    code: str = ""
    img_index: Whole | None = None
    data: str = ""  # a chart's data table ("label: value" per line); changed, it redraws the chart

    @field_validator("tool")
    @classmethod
    def _known_tool(cls, value: str) -> str:
        if value not in SOURCES:
            raise ValueError(f"must be one of {', '.join(SOURCES)}")
        return value


class OpenEditor(_Action):
    """The page only: open the call editor on this card (nothing is stored)."""

    act: Literal["open_editor"] = "open_editor"


class Accept(_Action):
    act: Literal["accept"] = "accept"
    busy: ClassVar[str] = "saving"
    version: Whole | None = Field(default=None, ge=1)


class Revert(_Action):
    act: Literal["revert"] = "revert"
    version: Whole = Field(ge=1)


class Discard(_Action):
    act: Literal["discard"] = "discard"


class Caption(_Action):
    act: Literal["caption"] = "caption"
    busy: ClassVar[str] = "saving"
    caption: str = ""
    alt: str = ""


class EditText(_Action):
    act: Literal["edit_text"] = "edit_text"
    busy: ClassVar[str] = "saving"
    text: str = ""


class SaveText(_Action):
    """The in-place editor's autosave: the block's whole text (Markdown) after a pause in typing.
    A new version like ``edit_text``; the same text again is a quiet no-op, not an error."""

    act: Literal["save_text"] = "save_text"
    text: str = ""
    article: Whole | None = None  # the article the text was typed in: refused if another one is open now


class Rewrite(_Action):
    act: Literal["rewrite"] = "rewrite"
    busy: ClassVar[str] = "rewriting"
    instruction: str = ""


class Move(_Action):
    act: Literal["move"] = "move"
    offset: Whole  # the sign is the direction: up (< 0) or down (> 0), one place


class Insert(_Action):
    """A new text block (Markdown) below ``block``."""

    act: Literal["insert"] = "insert"
    text: str = ""


class Delete(_Action):
    act: Literal["delete"] = "delete"


class Restore(_Action):
    act: Literal["restore"] = "restore"


class Upload(_Action):
    """The user's own image in place of the block's (``path``: a file Gradio received)."""

    act: Literal["upload"] = "upload"
    busy: ClassVar[str] = "checking your image"
    path: str = Field(min_length=1, max_length=4096)
    name: str = Field(default="your image", max_length=120)

    @field_validator("name", mode="before")
    @classmethod
    def _short_name(cls, value: Any) -> Any:
        return str(value)[:120] if value is not None else value


class _ArticleAction(_Action):
    """An action on the whole article: ``block`` is optional (the page sends the card it was
    pressed on, if any, so the outcome is shown there)."""

    block: str = Field(default="", max_length=40)

    @field_validator("block", mode="before")
    @classmethod
    def _no_block(cls, value: Any) -> Any:
        return "" if value is None else value


class Undo(_ArticleAction):
    """Take back the newest change to the article (its one history, ``storage.history``)."""

    act: Literal["undo"] = "undo"


class Redo(_ArticleAction):
    act: Literal["redo"] = "redo"


CardAction = Annotated[
    Regenerate
    | EditCall
    | OpenEditor
    | Accept
    | Revert
    | Discard
    | Caption
    | EditText
    | SaveText
    | Rewrite
    | Move
    | Insert
    | Delete
    | Restore
    | Upload
    | Undo
    | Redo,
    Field(discriminator="act"),
]
_ADAPTER: TypeAdapter[CardAction] = TypeAdapter(CardAction)
MODELS: tuple[type[_Action], ...] = (
    Upload, Caption, EditText, Move, Insert, Delete, Restore, EditCall, Regenerate, Accept, Revert, Discard, Rewrite,
    OpenEditor, Undo, Redo, SaveText,
)  # fmt: skip


def tag(model: type[_Action]) -> str:
    """The model's ``act`` (its name on the page and its API endpoint's name)."""
    return str(model.model_fields["act"].default)


NAMES: tuple[str, ...] = tuple(tag(m) for m in MODELS)
# each one is a named API endpoint with a block input; undo / redo have their own (``ui_history``)
API_MODELS = tuple(m for m in MODELS if m not in (OpenEditor, Undo, Redo))


def parse_action(data: Mapping[str, Any]) -> CardAction:
    """The one entry: the page's event data, the editor's fields or an API call's arguments as
    one typed action, or ``ActionRefused`` with a sentence."""
    act = data.get("act")
    if act not in NAMES:
        raise ActionRefused(f"unknown action {str(act)[:40]!r}: use one of {', '.join(NAMES)}")
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as exc:
        raise ActionRefused(_sentence(str(act), exc)) from None


def _sentence(act: str, exc: ValidationError) -> str:
    """The first problem, as 'the <field> of <act> <problem>' (pydantic's own words for it)."""
    error = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in error["loc"][1:]) or "data"
    problem = str(error["msg"]).removeprefix("Value error, ")
    got = error.get("input")
    shown = f" (got {str(got)[:40]!r})" if error["type"] != "missing" and not isinstance(got, dict) else ""
    return f"{act}: the {field} {problem[:1].lower()}{problem[1:]}{shown}"
