"""Tag parsing: everything the reference accepts, a reason for everything rejected."""

import pytest

from studio.core.protocol import (
    InvalidTag,
    ToolCall,
    find_tags,
    format_tag,
    parse_tag,
    processed_text,
    unescape_code,
)


def ok(raw: str, **kw) -> ToolCall:
    tag = parse_tag(raw, **kw)
    assert isinstance(tag, ToolCall), tag
    return tag


def bad(raw: str, **kw) -> str:
    tag = parse_tag(raw, **kw)
    assert isinstance(tag, InvalidTag), tag
    return tag.reason


def test_python_literal_and_json_payloads() -> None:
    a = ok("<imgen>{'source': 'search', 'description': 'Eiffel', 'params': {'query': 'Eiffel tower'}}</imgen>")
    b = ok('<imgen>{"source": "search", "description": "Eiffel", "params": {"query": "Eiffel tower"}}</imgen>')
    assert a.params == b.params and a.description == "Eiffel"


def test_code_payload_that_is_not_a_literal_uses_the_reference_fallback() -> None:
    raw = (
        "<imgen>{'source': 'code', 'description': 'Rainfall', 'params': {'code': 'x = ['a', 'b']\n"
        "plt.title('年降水量')\nplt.bar(x, [1, 2])\\nprint(\"a\\tb\")'}}</imgen>"
    )
    call = ok(raw)
    assert call.params.code == "x = ['a', 'b']\nplt.title('年降水量')\nplt.bar(x, [1, 2])\nprint(\"a\tb\")"


def test_unescape_keeps_non_ascii_and_other_backslashes() -> None:
    assert unescape_code(r"plt.xlabel('月份')\nplt.ylabel(\"毫米\")") == "plt.xlabel('月份')\nplt.ylabel(\"毫米\")"
    assert unescape_code(r"s = 'a\\nb'") == r"s = 'a\\nb'"
    assert unescape_code(r"re.compile('\d+')") == r"re.compile('\d+')"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (
            "<imgen>{'source': 'search', 'description': 'x', 'params': {'query': 'q'}, 'extra': 1}</imgen>",
            "unexpected key(s) 'extra'",
        ),
        ("<imgen>{'source': 'search', 'params': {'query': 'q'}}</imgen>", "missing key(s) 'description'"),
        ("<imgen>{'source': 'web', 'description': 'x', 'params': {'query': 'q'}}</imgen>", "unknown source 'web'"),
        ("<imgen>{'source': 'search', 'description': 'x', 'params': {'q': 'q'}}</imgen>", "unexpected key 'q'"),
        ("<imgen>{'source': 'search', 'description': 'x', 'params': {}}</imgen>", "missing key 'query'"),
        ("<imgen>{'source': 'diffusion', 'description': 'x', 'params': {'prompt': 3}}</imgen>", "wrong type"),
        (
            "<imgen>{'source': 'edit', 'description': 'x', 'params': {'img_index': '0', 'prompt': 'p'}}</imgen>",
            "'img_index' has the wrong type",
        ),
        (
            "<imgen>{'source': 'edit', 'description': 'x', 'params': {'img_index': True, 'prompt': 'p'}}</imgen>",
            "wrong type",
        ),
        ("<imgen>{'source': 'search', 'description': 'x', 'params': 'q'}</imgen>", "'params' must be a dict"),
        ("<imgen>{'source': 'search', 'description': 5, 'params': {'query': 'q'}}</imgen>", "must be a string"),
        ("<imgen>{'source': 'search', 'description': 'x', 'params': {'query': '  '}}</imgen>", "'query' is empty"),
        ("<imgen>['search']</imgen>", "not a dict"),
        ("<imgen></imgen>", "empty"),
        ("<imgen>__import__('os').system('touch /tmp/pwned')</imgen>", "not a Python or JSON dict"),
        (
            "<imgen>{'source': 'code', 'description': 'x', 'params': {'code': open('/etc/passwd').read()}}</imgen>",
            "not a Python or JSON dict",
        ),
        ("<imgen>" + "[" * 30000 + "]" * 30000 + "</imgen>", "not a Python or JSON dict"),
        ("<imgen>" + "[" * 100000 + "]" * 100000 + "</imgen>", "200,015 characters long, over the 64 KB limit"),
    ],
)
def test_rejections_say_why(raw: str, needle: str) -> None:
    assert needle in bad(raw)


def test_edit_index_must_point_at_an_earlier_image() -> None:
    edit = "<imgen>{'source': 'edit', 'description': 'e', 'params': {'img_index': %d, 'prompt': 'p'}}</imgen>"
    assert "no image exists before this tag" in bad(edit % 0, tag_position=0)
    assert "only images 0..1 exist" in bad(edit % 2, tag_position=2)
    assert "only images 0..2 exist" in bad(edit % 3, tag_position=2, user_image_count=1)
    assert "does not point" in bad(edit % -1, tag_position=2)
    assert ok(edit % 1, tag_position=2).params.img_index == 1
    assert ok(edit % 0, tag_position=0, user_image_count=1).params.img_index == 0


def test_find_tags_counts_invalid_tags_as_positions() -> None:
    text = (
        "a <imgen>nonsense</imgen> b "
        "<imgen>{'source': 'edit', 'description': 'e', 'params': {'img_index': 0, 'prompt': 'p'}}</imgen>"
    )
    first, second = find_tags(text)
    assert isinstance(first, InvalidTag) and isinstance(second, ToolCall)


def test_format_round_trips_including_quotes_and_non_ascii() -> None:
    code = "plt.title(\"降雨 'mm'\")\nplt.plot([1, 2])"
    tag = format_tag("code", "Rain's chart", {"code": code})
    call = ok(tag)
    assert call.params.code == code and call.description == "Rain's chart"
    assert call.to_tag() == tag
    with pytest.raises(ValueError):
        format_tag("web", "x", {"query": "q"})


def test_processed_text_marks_each_tag() -> None:
    text = "a <imgen>1</imgen> b <imgen>2</imgen>"
    assert processed_text(text, [True, False]) == "a <image> b <fail_to_generate_image>"
