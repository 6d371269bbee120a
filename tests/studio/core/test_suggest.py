"""The selection prompt and the model's answer made safe (model output is hostile)."""

from __future__ import annotations

import pytest

from models.errors import Refused
from studio.core.suggest import (
    SuggestRequest,
    clean_suggestion,
    fit_to_selection,
    stream_suggestion,
    suggestion_messages,
)

SEL = "Bike lanes make riders much safer, according to several studies."


def test_presets_and_free_instructions_become_one_instruction() -> None:
    assert "shorter" in SuggestRequest("shorten").instruction
    assert SuggestRequest("tone").instruction == "Change its tone: make it warmer and more personal. Keep the meaning."
    assert SuggestRequest("tone", "more formal").instruction.startswith("Change its tone: make it more formal.")
    assert SuggestRequest("translate", "  German ").instruction == "Translate it into German."
    assert SuggestRequest("ask", "make it rhyme").instruction == "make it rhyme"
    with pytest.raises(Refused, match="write what the model should do"):
        SuggestRequest("ask", "  ")
    with pytest.raises(Refused, match="use one of shorten"):
        SuggestRequest("delete_everything")


def test_messages_carry_the_selection_and_context_for_sense_only() -> None:
    messages = suggestion_messages(SEL, SuggestRequest("shorten"), "x" * 1000 + "Before.", "After." + "y" * 1000)
    user = str(messages[1]["content"])
    assert f"<<<\n{SEL}\n>>>" in user
    assert "Before." in user and "After." in user and "x" * 401 not in user and "y" * 401 not in user
    assert "new passage only" in str(messages[0]["content"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bike lanes make riders safer.", "Bike lanes make riders safer."),
        ("Here is the shorter text:\n\nBike lanes make riders safer.", "Bike lanes make riders safer."),
        ('"Bike lanes make riders safer."', "Bike lanes make riders safer."),
        ("```\nBike lanes make riders safer.\n```", "Bike lanes make riders safer."),
        ("<think>shorter?</think>Bike lanes make riders safer.", "Bike lanes make riders safer."),
        (
            "Bike lanes help.<imgen>{'source': 'search', 'description': 'x', 'params': {'query': 'x'}}</imgen>",
            "Bike lanes help.",
        ),
        ("Bike <b>lanes</b> help.<script>alert(1)</script>", "Bike lanes help.alert(1)"),
        ("Bike lanes ![x](http://evil.example/p.png) help.", "Bike lanes x help."),
        ("See [this](http://evil.example) now.", "See this now."),
        ("# Safer\n\nBike lanes help.\n\nA lot.", "Safer Bike lanes help. A lot."),
        ("Bike lanes help\u0000\u200b.", "Bike lanes help."),
    ],
)
def test_the_answer_is_cleaned_to_one_passage(raw: str, expected: str) -> None:
    assert clean_suggestion(raw, SEL) == expected


def test_what_the_selection_has_may_stay() -> None:
    linked = "Read [the report](https://example.org/r) first.\n\nThen ride."
    out = clean_suggestion("Read [the report](https://example.org/r).\n\nRide.", linked)
    assert out == "Read [the report](https://example.org/r).\n\nRide."  # its own link, its paragraphs
    assert clean_suggestion('"Quoted."', '"A quote."') == '"Quoted."'


def test_an_echo_of_the_text_after_is_cut_and_length_is_capped() -> None:
    after = "They also calm traffic in the whole neighbourhood around them."
    assert clean_suggestion("Lanes make riders safer. They also calm traffic in the whole", SEL, after=after) == (
        "Lanes make riders safer."
    )
    long = clean_suggestion("word " * 500, SEL, action="shorten")
    assert len(long) <= 2 * len(SEL) + 200 and not long.endswith("wor")


def test_an_echo_of_the_prompts_frame_never_reaches_the_page() -> None:
    selection = "Bicycle lanes make the streets of the city much safer for everybody who rides to work."
    # measured (SmolLM2-135M): an answer, then the frame of the prompt echoed with the selection
    raw = f"This is a new passage. The answer is no. The selection: <<< {selection} >>> This is a new passage."
    assert clean_suggestion(raw, selection) == "This is a new passage. The answer is no."
    framed = "The selection:\n<<<\nBike lanes make commuting safer.\n>>>"  # the answer inside the frame
    assert clean_suggestion(framed, selection) == "Bike lanes make commuting safer."
    label = "Instruction: keep the lid closed while it boils."  # what the selection itself holds may stay
    assert clean_suggestion(label, label) == label


def test_fit_keeps_the_selection_spacing() -> None:
    assert fit_to_selection("  New text. ", " old text ") == " New text. "


class Scripted:
    name = "scripted"

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks
        self.closed = False

    def stream(self, messages: object, options: object):  # type: ignore[no-untyped-def]
        try:
            yield from self.chunks
        finally:
            self.closed = True

    def describe(self) -> str:
        return "scripted"

    def model_name(self) -> None:
        return None


def test_streamed_suggestion_holds_back_half_tags_and_ends_cleaned() -> None:
    from models.base import ChatOptions

    backend = Scripted(["Sure, here it is:\n", "Lanes make", " riders <img", "en>{...}</imgen> safer."])
    seen = list(stream_suggestion(backend, [], ChatOptions(), SEL, after="", action="shorten"))  # type: ignore[arg-type]
    assert all("<" not in s for s in seen)
    assert seen[-1] == "Lanes make riders safer."
    assert backend.closed


def test_cancel_closes_the_model_stream() -> None:
    from models.base import ChatOptions
    from models.errors import Cancelled

    backend = Scripted(["Lanes", " make", " riders", " safer."])
    asked = iter([False, False, True])
    stream = stream_suggestion(backend, [], ChatOptions(), SEL, after="", action="shorten", cancel=lambda: next(asked))  # type: ignore[arg-type]
    assert next(stream) == "Lanes"
    with pytest.raises(Cancelled, match="stopped"):
        list(stream)
    assert backend.closed
