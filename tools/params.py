"""Per-source parameters of an <imgen> tag: exactly the protocol's keys, nothing more.

Strict models: no coercion ("3" is not an int, True is not an int), extra keys forbidden.
"""

from pydantic import BaseModel, ConfigDict

from models.vocab import Source


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SearchParams(_Params):
    query: str


class DiffusionParams(_Params):
    prompt: str


class CodeParams(_Params):
    code: str


class EditParams(_Params):
    img_index: int
    prompt: str


# keyed by the Source enum (a str), so a plain string from a tag looks it up too
PARAMS_BY_SOURCE: dict[str, type[_Params]] = {
    Source.SEARCH: SearchParams,
    Source.DIFFUSION: DiffusionParams,
    Source.CODE: CodeParams,
    Source.EDIT: EditParams,
}

SOURCES: tuple[Source, ...] = tuple(Source)
