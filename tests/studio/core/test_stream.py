"""The streaming lexer on every split point, stray markers and unterminated tags."""

from pathlib import Path

import pytest

from studio.core.protocol import find_tags
from studio.core.stream import Opened, Tag, TagStreamLexer, Text, Unterminated

EXAMPLE = (Path(__file__).resolve().parents[2] / "data" / "response-four-tools.txt").read_text()


def lex(chunks: list[str]) -> list:
    lexer = TagStreamLexer()
    pieces = []
    for chunk in chunks:
        pieces.extend(lexer.feed(chunk))
    pieces.extend(lexer.close())
    return pieces


def normalise(pieces: list) -> list:
    """Merge adjacent text pieces so different chunkings compare equal."""
    out: list = []
    for piece in pieces:
        if isinstance(piece, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + piece.text)
        else:
            out.append(piece)
    return out


SAMPLE = (
    "Intro <imgen {not a tag}> a<b <imgen>{'source': 'search', 'description': 'x', 'params': {'query': 'q'}}"
    "</imgen> mid </imgen> end<im"
)


@pytest.mark.parametrize("text", [SAMPLE, EXAMPLE])
def test_every_two_way_split_gives_the_same_pieces(text: str) -> None:
    whole = normalise(lex([text]))
    for cut in range(len(text) + 1):
        assert normalise(lex([text[:cut], text[cut:]])) == whole, cut


def test_one_character_chunks_match_the_reference_regex() -> None:
    pieces = normalise(lex(list(EXAMPLE)))
    tags = [p.raw for p in pieces if isinstance(p, Tag)]
    assert len(tags) == 4
    assert [t.raw for t in find_tags(EXAMPLE)] == tags
    assert "".join(p.text if isinstance(p, Text) else p.raw for p in pieces) == EXAMPLE


def test_stray_markers_stay_text() -> None:
    pieces = normalise(lex(["a <imgen b ", "</imgen> c <im", "g"]))
    assert pieces == [Text("a <imgen b </imgen> c <img")]


def test_tag_is_emitted_the_moment_it_closes() -> None:
    lexer = TagStreamLexer()
    assert lexer.feed("hello <imgen>{'source'") == [Text("hello ")]
    assert lexer.feed(": 1}</imgen") == []
    assert lexer.feed(">") == [Tag("<imgen>{'source': 1}</imgen>")]


def test_unterminated_tag_at_end_of_stream() -> None:
    pieces = lex(["text <imgen>{'source': 'code', 'descr"])
    assert pieces[-1] == Unterminated("<imgen>{'source': 'code', 'descr")


def test_non_greedy_like_the_reference() -> None:
    text = "<imgen>A<imgen>B</imgen>C</imgen>"
    pieces = normalise(lex(list(text)))
    assert pieces == [Tag("<imgen>A<imgen>B</imgen>"), Text("C</imgen>")]


# --- Opened: a tag is reported the moment <imgen> is complete (the "planning a picture" card) ---


def test_opened_comes_when_the_open_marker_completes_not_before() -> None:
    lexer = TagStreamLexer(report_open=True)
    assert lexer.feed("hello <img") == [Text("hello ")]
    assert lexer.feed("en") == []  # "<imgen" could still be text ("<imgen b")
    assert lexer.feed(">{'source'") == [Opened()]
    assert lexer.feed(": 1}</imgen>after") == [Tag("<imgen>{'source': 1}</imgen>"), Text("after")]


def test_opened_precedes_every_tag_and_unterminated_on_every_split() -> None:
    text = SAMPLE + " <imgen>{'source': 'code'"
    for cut in range(len(text) + 1):
        lexer = TagStreamLexer(report_open=True)
        pieces = lexer.feed(text[:cut]) + lexer.feed(text[cut:]) + lexer.close()
        shapes = [type(p).__name__ for p in pieces if not isinstance(p, Text)]
        assert shapes == ["Opened", "Tag", "Opened", "Unterminated"], cut


def test_stray_open_markers_report_nothing() -> None:
    lexer = TagStreamLexer(report_open=True)
    pieces = lexer.feed("a <imgen b </imgen> c <im") + lexer.close()
    assert not any(isinstance(p, Opened) for p in pieces)


def test_without_report_open_nothing_changes() -> None:
    lexer = TagStreamLexer()
    assert lexer.feed("x <imgen>{") == [Text("x ")]
