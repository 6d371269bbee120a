"""Per-source parameters of an <imgen> tag: exactly the protocol's keys, nothing more, and the
one spec every other form of the tag is derived from.

Strict models: no coercion ("3" is not an int, True is not an int), extra keys forbidden. Each
field's ``description`` is its slot in the prompt's tag shape (``<search words>``); the prompt's
shapes (studio.core.prompts), the grammar's tag rules (studio.core.grammar) and
``protocol.format_tag`` all read these models, so a new param is added here once.
"""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.vocab import Source


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # the string params a tag may leave empty (two-phase chart code: a second call writes it)
    may_be_empty: ClassVar[frozenset[str]] = frozenset()


class SearchParams(_Params):
    query: str = Field(description="search words")


class DiffusionParams(_Params):
    prompt: str = Field(description="subject, style, mood")


class CodeParams(_Params):
    code: str = Field(description="python code")
    may_be_empty: ClassVar[frozenset[str]] = frozenset({"code"})


class EditParams(_Params):
    img_index: int = Field(description="image number")
    prompt: str = Field(description="change to make")


# keyed by the Source enum (a str), so a plain string from a tag looks it up too
PARAMS_BY_SOURCE: dict[str, type[_Params]] = {
    Source.SEARCH: SearchParams,
    Source.DIFFUSION: DiffusionParams,
    Source.CODE: CodeParams,
    Source.EDIT: EditParams,
}

SOURCES: tuple[Source, ...] = tuple(Source)
IMAGE_INDEX = "img_index"  # the param that makes a call an edit of an earlier image


def param_slots(source: str) -> list[tuple[str, type, str]]:
    """(name, type, slot words) of each param of ``source``, in the protocol's order."""
    return [
        (name, field.annotation, field.description or name)  # type: ignore[misc]
        for name, field in PARAMS_BY_SOURCE[source].model_fields.items()
    ]


def edits_images(source: str) -> bool:
    """Whether a call of ``source`` changes an earlier image (its params name an ``img_index``)."""
    return IMAGE_INDEX in PARAMS_BY_SOURCE[source].model_fields


def edit_targets(images_before: int) -> range:
    """The img_index values an edit may point at: only an image that comes before it (the user's
    images first, then the generated ones). ``images_before`` = user images + the tag's position.
    The one rule the protocol, the grammar, the engine and regeneration apply."""
    return range(max(0, images_before))


def param_problem(error: ValidationError, source: str) -> str:
    """What a pydantic ValidationError on ``source``'s params says, in words ("unexpected key 'x';
    a search tag takes exactly 'query' (str)"): the one translation the protocol and the tool
    runner share, each with its own lead."""
    expected = ", ".join(f"'{name}' ({kind.__name__})" for name, kind, _ in param_slots(source))
    problems = []
    for item in error.errors():
        where = ".".join(p if isinstance(p, str) else short_repr(p) for p in item["loc"]) or "params"
        kind = item["type"]
        if kind == "extra_forbidden":
            problems.append(f"unexpected key '{where}'")
        elif kind == "missing":
            problems.append(f"missing key '{where}'")
        else:
            problems.append(f"'{where}' has the wrong type ({item['msg'].lower()})")
    article = "an" if source[0] in "aeiou" else "a"
    return f"{'; '.join(problems)}; {article} {source} tag takes exactly {expected}"


def short_repr(value: object, limit: int = 60) -> str:
    """A value for a reason: repr, cut; huge integers by their size (str() of one raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<an integer of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails (huge int inside a list)
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
