"""Fuzzing the tag parser and the streaming lexer: 21,000+ generated inputs, none may raise.

Covers type confusion (any value under any key), huge integers, deep nesting, long expressions,
arbitrary text, and every chunking of the stream through the lexer. Deterministic (derandomize).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.protocol import CLOSE, MAX_TAG_CHARS, OPEN, InvalidTag, ToolCall, parse_tag
from studio.core.stream import Tag, TagStreamLexer, Text, Unterminated

FUZZ = settings(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))

huge_ints = st.builds(lambda n, sign: sign * 16**n, st.integers(0, 5000), st.sampled_from([1, -1]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=20),
    st.sampled_from(["code", "search", "diffusion", "edit", "", " ", "img_index", "prompt", "query"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers(), huge_ints), inner, max_size=4),
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from(["source", "description", "params"]), st.text(max_size=8), st.integers())


def check(raw: str, **kwargs: int) -> None:
    result = parse_tag(raw, **kwargs)
    assert isinstance(result, ToolCall | InvalidTag)
    if isinstance(result, InvalidTag):
        assert isinstance(result.reason, str) and result.reason
        assert len(result.reason) < 2000


def literal(obj: object) -> list[str]:
    out = []
    with contextlib.suppress(ValueError):  # repr of a huge int inside a container
        out.append(repr(obj))
    with contextlib.suppress(TypeError, ValueError):
        out.append(json.dumps(obj))
    return out


@settings(FUZZ, max_examples=2000)
@given(st.text(max_size=300), st.integers(0, 5), st.integers(0, 5))
def test_any_text_gives_a_call_or_a_reason(text: str, position: int, users: int) -> None:
    check(OPEN + text + CLOSE, tag_position=position, user_image_count=users)
    check(text)


@settings(FUZZ, max_examples=300)
@given(st.dictionaries(keys, values, max_size=5))
def test_type_confusion_in_any_key(payload: dict) -> None:
    for text in literal(payload):
        check(OPEN + text + CLOSE, tag_position=2, user_image_count=1)


@settings(FUZZ, max_examples=500)
@given(
    st.sampled_from(["code", "search", "diffusion", "edit", ["code"], {"code": 1}, None, 5]),
    values,
    st.dictionaries(st.sampled_from(["code", "query", "prompt", "img_index", "x"]), values, max_size=3),
)
def test_each_source_with_any_params(source: object, description: object, params: dict) -> None:
    for text in literal({"source": source, "description": description, "params": params}):
        check(OPEN + text + CLOSE, tag_position=3)


@settings(FUZZ, max_examples=500)
@given(st.integers(1, 70000), st.sampled_from(["[", "(", "{'a':", "-", "1+", "not ", "~", "'", '"', "\\"]))
def test_deep_nesting_and_long_expressions(depth: int, unit: str) -> None:
    closing = {"[": "]", "(": ")", "{'a':": "}"}.get(unit, "")
    body = (unit * depth + "1" + closing * depth)[: MAX_TAG_CHARS + 100]
    check(OPEN + body + CLOSE)
    check(OPEN + "{'source': 'edit', 'description': 'x', 'params': {'img_index': " + body + ", 'prompt': 'p'}}" + CLOSE)


def test_the_two_tags_from_the_issue_are_invalid_blocks() -> None:
    wrong_type = parse_tag(OPEN + "{'source': ['code'], 'description': 'x', 'params': {'code': ''}}" + CLOSE)
    assert isinstance(wrong_type, InvalidTag) and "unknown source ['code']" in wrong_type.reason
    huge = "0x" + "f" * 4000
    raw = OPEN + "{'source': 'edit', 'description': 'x', 'params': {'img_index': " + huge + ", 'prompt': 'p'}}" + CLOSE
    too_big = parse_tag(raw, tag_position=1)
    assert isinstance(too_big, InvalidTag) and "an integer of 16000 bits" in too_big.reason
    over = parse_tag(OPEN + "{'source': 'code', 'description': 'x', 'params': {'code': '" + "x" * 70000 + "'}}" + CLOSE)
    assert isinstance(over, InvalidTag) and "over the 64 KB limit" in over.reason and len(over.raw) < 3000


# ---------------------------------------------------------------- the lexer, every chunking

PARTS = ["<imgen>", "</imgen>", "<im", "gen>", "</im", "<", ">", "/", "a", "{'x': 1}", "\n", "中"]
streams = st.lists(st.sampled_from(PARTS), max_size=25).map("".join)


def lex(chunks: list[str]) -> list[tuple[str, str]]:
    lexer = TagStreamLexer()
    pieces = [p for c in chunks for p in lexer.feed(c)] + lexer.close()
    merged: list[tuple[str, str]] = []
    for p in pieces:
        kind = {Text: "text", Tag: "tag", Unterminated: "open"}[type(p)]
        value = p.text if isinstance(p, Text) else p.raw
        if kind == "text" and merged and merged[-1][0] == "text":
            merged[-1] = ("text", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    return merged


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in itertools.pairwise([0, *points, len(text)])]


@settings(FUZZ, max_examples=1500)
@given(streams, st.lists(st.integers(0, 10_000), max_size=12))
def test_any_chunking_gives_the_same_pieces(text: str, cuts: list[int]) -> None:
    whole = lex([text])
    assert lex(chunked(text, cuts)) == whole
    assert "".join(v for _, v in whole) == text


def test_every_chunking_of_short_streams() -> None:
    samples = ["a<imgen>{}</imgen", "<im<imgen></img", "</imgen><imgen>", "<imgen>a</imge", "<imge<imgen>>"]
    count = 0
    for text in samples:
        whole = lex([text])
        n = len(text)
        for mask in range(1 << (n - 1)):
            cuts = [i + 1 for i in range(n - 1) if mask >> i & 1]
            assert lex(chunked(text, cuts)) == whole
            count += 1
    assert count == sum(2 ** (len(t) - 1) for t in samples)  # all 2^(n-1) chunkings of each sample


def test_an_over_long_tag_keeps_memory_flat_through_the_lexer() -> None:
    lexer = TagStreamLexer()
    pieces = lexer.feed("before <imgen>{'source': 'code', 'description': 'x', 'params': {'code': '")
    for _ in range(2000):  # 10 MB in 5 KB chunks
        pieces += lexer.feed("x" * 5000)
        assert len(lexer._buffer) <= MAX_TAG_CHARS + 5000  # noqa: SLF001 - never more than one tag's worth
    pieces += lexer.feed("'}}</imgen> after")
    pieces += lexer.close()
    tags = [p for p in pieces if isinstance(p, Tag)]
    assert len(tags) == 1 and tags[0].size is not None and tags[0].size > 10_000_000
    assert len(tags[0].raw) <= MAX_TAG_CHARS + len(OPEN)
    assert "".join(p.text for p in pieces if isinstance(p, Text)) == "before  after"
    assert math.isfinite(tags[0].size)


# ---------------------------------------------------------------- 20,000 seeded structured inputs


def _random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(12 if depth < 4 else 8)
    if kind == 0:
        return rng.choice([None, True, False, 0, -1, 1.5, float("inf"), float("nan")])
    if kind == 1:
        return rng.choice([1, -1]) * 16 ** rng.randrange(0, 5000)  # huge integers
    if kind == 2:
        return rng.randrange(-(2**70), 2**70)
    if kind == 3:
        return "".join(rng.choice("ab'\"\\\n{}[]()<>/中 \x00") for _ in range(rng.randrange(0, 30)))
    if kind == 4:
        return rng.choice(["code", "search", "diffusion", "edit", "", " ", "plt.plot([1])"])
    if kind == 5:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 8)))
    if kind == 6:
        return complex(rng.random(), rng.random())
    if kind == 7:
        return rng.choice(["img_index", "prompt", "query", "code"])
    if kind in (8, 9):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if kind == 10:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 3)))
    return {_random_key(rng): _random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def _random_key(rng: random.Random) -> object:
    return rng.choice(["source", "description", "params", "code", "img_index", "prompt", "query", 1, 2.5, (1,), None])


def _render(rng: random.Random, obj: object) -> str:
    """The payload as text: repr or JSON, sometimes damaged or buried in an expression."""
    try:
        text = repr(obj) if rng.random() < 0.7 else json.dumps(obj)
    except (TypeError, ValueError):
        text = "{'source': 'edit', 'description': 'x', 'params': {'img_index': 0x" + "f" * rng.randrange(1, 5000) + "}}"
    roll = rng.random()
    if roll < 0.1 and text:
        cut = rng.randrange(len(text))
        text = text[:cut] + text[cut + 1 :]
    elif roll < 0.15:
        text = "(" * rng.randrange(1, 3000) + text + ")" * rng.randrange(0, 3000)
    elif roll < 0.2:
        text = "+".join([text] * rng.randrange(1, 200))
    elif roll < 0.25:
        text = "[" * rng.randrange(100, 40000) + "]" * rng.randrange(0, 40000)
    return text


def test_twenty_thousand_seeded_structured_inputs() -> None:
    rng = random.Random(9)
    sources: list[object] = ["code", "search", "diffusion", "edit", ["code"], {"x": 1}, None, 3, b"code"]
    for i in range(20_000):
        if i % 2:
            obj: object = {
                "source": rng.choice(sources),
                "description": _random_value(rng, 3),
                "params": _random_value(rng, 2),
            }
            if rng.random() < 0.3 and isinstance(obj, dict):
                obj[_random_key(rng)] = _random_value(rng, 3)
        else:
            obj = _random_value(rng)
        check(OPEN + _render(rng, obj) + CLOSE, tag_position=rng.randrange(0, 4), user_image_count=rng.randrange(0, 3))


# --- Unicode at the boundary (issue #19): what a hostile model writes inside a tag ------------------

HAZARDS = [
    "\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ude00\\ud83d", "\\ud83d", "\\u0000", "\x00", "\\x00", "\\0",
    "\u202e", "\u2066", "\u200f", "\ufeff", "\\u202e", "\\xc0\\x80", "\\xe0\\x80\\x80", "\\U0010ffff",
    "\\U00110000", "\\u{d800}", "\\\\ud800", "\udcff", "\ud800", "\ud83d\ude00",
]  # fmt: skip
hazard_text = st.lists(st.one_of(st.sampled_from(HAZARDS), st.text(max_size=6)), max_size=8).map("".join)


def assert_valid(value: object) -> None:
    """Every string valid UTF-8 (no lone surrogate) and without NUL, all the way down."""
    if isinstance(value, str):
        value.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
        assert "\x00" not in value
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_valid(key)
            assert_valid(item)
    elif isinstance(value, list | tuple):
        for item in value:
            assert_valid(item)


@settings(FUZZ, max_examples=1500)
@given(hazard_text, hazard_text, st.sampled_from(["json", "python"]), st.sampled_from(["code", "search", "diffusion"]))
def test_unicode_hazards_in_tag_payloads_come_out_valid(caption: str, param: str, style: str, source: str) -> None:
    from models.text import valid_text

    key = {"code": "code", "search": "query", "diffusion": "prompt"}[source]
    quote = '"' if style == "json" else "'"
    params = f'{{"{key}": {quote}{param}{quote}}}'
    body = f'{{"source": "{source}", "description": {quote}{caption}{quote}, "params": {params}}}'
    raw = valid_text(f"{OPEN}{body}{CLOSE}")  # what the model stream hands over (models.text)
    result = parse_tag(raw)
    assert isinstance(result, ToolCall | InvalidTag)
    if isinstance(result, ToolCall):
        assert_valid([result.description, result.params_dict()])
    else:
        assert_valid([result.reason, result.source, result.description])


def test_the_six_ascii_characters_of_a_lone_surrogate_become_a_replacement_character() -> None:
    result = parse_tag(
        OPEN + '{"source": "search", "description": "cap \\ud800 tion", "params": {"query": "q"}}' + CLOSE
    )
    assert isinstance(result, ToolCall)
    assert result.description == "cap \ufffd tion"
    paired = parse_tag(OPEN + '{"source": "search", "description": "\\ud83d\\ude00", "params": {"query": "q"}}' + CLOSE)
    assert isinstance(paired, ToolCall) and paired.description == "\U0001f600"
