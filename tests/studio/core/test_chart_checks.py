"""Chart honesty on hand-made cases with the real sandboxed code tool: refusal of photo-like
requests, the compile check, one repair, the plain fallback, illustrative numbers, relevance."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from models.openai_compat import OpenAICompatBackend
from studio.core.chart_checks import (
    chart_labels,
    content_words,
    described_data,
    fallback_code,
    photo_request,
    relevance,
)
from studio.core.charts import STOPPED, ChartCoder, ChartWritingTool, copied_slot
from tests.judge_server import JudgeServer, Reply
from tools.base import ToolContext
from tools.code import CodeTool
from tools.params import CodeParams


@pytest.fixture(scope="module")
def code_tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeTool]:
    tool = CodeTool(timeout_s=20, cpu_s=20, memory_mb=600, scratch_root=tmp_path_factory.mktemp("charts"))
    yield tool
    tool.close()


class ScriptedCoder:
    """The hand-made case: answers the chart writer's calls with fixed code, recording them."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []

    def write(self, description: str, context: str, *, seed: int | None = None, cancel: object = None) -> str:
        self.calls.append(("write", description))
        return self.answers.pop(0)

    def repair(self, code: str, error: str, description: str, context: str, *, cancel: object = None) -> str:
        self.calls.append(("repair", error))
        return self.answers.pop(0)


def wrapped(tool: CodeTool, coder: ScriptedCoder) -> ChartWritingTool:
    return ChartWritingTool(tool, coder)  # type: ignore[arg-type]


def is_png(data: bytes | None) -> bool:
    assert data is not None
    return Image.open(io.BytesIO(data)).format == "PNG"


@pytest.mark.parametrize(
    ("description", "photo"),
    [
        ("A photo of a Tesla Model S", True),
        ("An illustration of a red dragon over the hills", True),
        ("Kyoto Castle at sunset, photograph", True),
        ("Portrait of Marie Curie", True),
        ("Line chart of EV sales in Europe: 2019 0.5, 2024 3.0", False),
        ("Diagram of the water cycle", False),
        ("Bar chart of coffee price causes: weather 50%, shipping 30%, demand 20%", False),
        ("A picture showing the share of renewables as a pie chart", False),
    ],
)
def test_photo_requests_are_told_from_charts(description: str, photo: bool) -> None:
    assert photo_request(description) is photo


def test_a_photo_request_becomes_a_placeholder_and_no_code_runs(code_tool: CodeTool) -> None:
    coder = ScriptedCoder()
    result = wrapped(code_tool, coder).run(CodeParams(code=""), ToolContext(description="A photo of a Tesla Model S"))
    assert result.placeholder and not result.ok and result.image is None
    assert "code draws charts and diagrams only" in (result.error or "") and "search" in (result.error or "")
    assert coder.calls == []  # the model was not even asked


def test_labels_and_relevance() -> None:
    code = (
        'fig, ax = plt.subplots()\nax.bar(["a"], [1])\nax.set_title("Coffee price rise by cause")\n'
        'ax.set(xlabel="Cause", ylabel=f"Share of rise")\nplt.suptitle("2024")'
    )
    assert chart_labels(code) == ["Coffee price rise by cause", "Cause", "Share of rise", "2024"]
    fit = relevance("Bar chart of the causes of coffee prices in 2024", code)
    assert fit.ok and {"coffee", "price", "cause"} <= set(fit.shared)
    leaked = 'plt.plot([1, 2], [3, 4])\nplt.title("Average bicycle commute distance")\nplt.ylabel("Distance (km)")'
    wrong = relevance("Bar chart of coffee price causes", leaked)
    assert not wrong.ok and "share no word" in wrong.reason
    assert not relevance("Bar chart of honey", "plt.bar([1], [2])").ok  # no title, no label
    assert content_words("The Prices of Cities") == {"price", "city"}


def test_described_data() -> None:
    assert described_data("Bar chart of honey per hive in kg: 2019 28, 2020 25, 2021 31") == [
        ("2019", 28.0),
        ("2020", 25.0),
        ("2021", 31.0),
    ]
    assert described_data("Shares: coal 35%, gas 20% and wind 45%") == [("coal", 35.0), ("gas", 20.0), ("wind", 45.0)]
    assert described_data("A chart of rainfall") == []


def test_fallback_after_a_failed_write_and_a_failed_repair(code_tool: CodeTool) -> None:
    # the model's code breaks twice (an unknown name, then a file the sandbox does not have)
    coder = ScriptedCoder("plt.bar(years, sales)", 'img = plt.imread("kyoto_castle.jpg")\nplt.imshow(img)')
    description = "Bar chart of EV sales in Europe in millions: 2019 0.6, 2021 2.3, 2023 3.2"
    result = wrapped(code_tool, coder).run(
        CodeParams(code=""), ToolContext(description=description, text_before="Sales grew fast.")
    )
    assert [c[0] for c in coder.calls] == ["write", "repair"]
    assert "NameError" in coder.calls[1][1]
    assert result.ok and is_png(result.image)
    assert "fallback" in result.provenance and "after one repair" in result.provenance["fallback"]
    assert result.provenance["illustrative"] is False  # the description states the numbers
    code = (result.params or {})["code"]
    assert "[0.6, 2.3, 3.2]" in code and "'2019', '2021', '2023'" in code
    assert result.provenance["relevance"]["ok"]


def test_code_that_does_not_compile_never_reaches_the_sandbox(code_tool: CodeTool) -> None:
    coder = ScriptedCoder(
        "plt.bar([1, 2], [3, 4]\n",
        'plt.bar(["Tea", "Coffee"], [3, 4])\nplt.title("Tea and coffee cups a day")\nplt.ylabel("Cups")',
    )
    result = wrapped(code_tool, coder).run(
        CodeParams(code=""), ToolContext(description="Bar chart of tea and coffee cups a day: tea 3, coffee 4")
    )
    assert coder.calls[1][0] == "repair" and "SyntaxError" in coder.calls[1][1]
    assert result.ok and result.provenance["repaired"].startswith("SyntaxError")
    assert "fallback" not in result.provenance and result.provenance["relevance"]["ok"]


def test_no_numbers_in_the_text_means_illustrative(code_tool: CodeTool, tmp_path: Path) -> None:
    chart = 'plt.bar(["Spring", "Summer"], [3, 5])\nplt.title("Garden visits by season")\nplt.ylabel("Visits")'
    coder = ScriptedCoder(chart)
    result = wrapped(code_tool, coder).run(
        CodeParams(code=""),
        ToolContext(description="Bar chart of garden visits by season", text_before="People love the garden."),
    )
    assert result.ok and result.provenance["illustrative"] is True
    assert "Illustrative numbers" in (result.params or {})["code"]
    code, illustrative = fallback_code("A chart of rainfall")
    assert illustrative and "Illustrative numbers" in code


def test_an_irrelevant_chart_is_repaired_once(code_tool: CodeTool) -> None:
    off_topic = 'plt.plot([2015, 2023], [4.1, 6.5])\nplt.title("Average bicycle commute distance")'
    on_topic = 'plt.plot([2015, 2023], [12, 15])\nplt.title("Marathon finishers")\nplt.ylabel("Finishers")'
    coder = ScriptedCoder(off_topic, on_topic)
    result = wrapped(code_tool, coder).run(
        CodeParams(code=""), ToolContext(description="Line chart of marathon finishers: 2015 12, 2023 15")
    )
    assert coder.calls[1][0] == "repair" and "share no word" in coder.calls[1][1]
    assert result.ok and "Marathon" in (result.params or {})["code"] and result.provenance["relevance"]["ok"]


def test_a_chart_that_still_misses_its_description_gives_way_to_the_plain_chart(code_tool: CodeTool) -> None:
    # what the 1.5B model drew for data-solar: made-up labels under an unrelated title, twice
    off_topic = 'plt.bar(["City 1", "City 2"], [100, 200])\nplt.title("Top cities")'
    coder = ScriptedCoder(off_topic, off_topic)
    stated = "Line chart of solar capacity in GW: 2010 40, 2023 1400"
    result = wrapped(code_tool, coder).run(CodeParams(code=""), ToolContext(description=stated))
    assert [c[0] for c in coder.calls] == ["write", "repair"]
    assert result.ok and "still did not match its description" in result.provenance["fallback"]
    code = (result.params or {})["code"]
    assert "City" not in code and "'2010', '2023'" in code and result.provenance["relevance"]["ok"]
    # no data stated: nothing better to draw, so the model's chart stays, its mismatch on record
    coder = ScriptedCoder(off_topic, off_topic)
    kept = wrapped(code_tool, coder).run(CodeParams(code=""), ToolContext(description="Line chart of solar capacity"))
    assert kept.ok and "fallback" not in kept.provenance and kept.provenance["relevance"]["ok"] is False
    assert "City 1" in (kept.params or {})["code"]


def test_a_chart_that_copies_the_examples_slot_text_is_never_drawn(code_tool: CodeTool) -> None:
    # what the 1.5B model wrote for travel-lisbon: the skeleton's slots, brackets dropped by the grammar
    copied = (
        'plt.bar(["Alfama", "Belem"], [3, 5])\nplt.title("Lisbon visitors")\n'
        'plt.xlabel("What the labels are")\nplt.ylabel("the unit of the  numbers")'
    )
    coder = ScriptedCoder(copied, copied)
    description = "Bar chart of Lisbon visitors by district in millions: Alfama 3, Belem 5"
    result = wrapped(code_tool, coder).run(CodeParams(code=""), ToolContext(description=description))
    assert coder.calls[1][0] == "repair" and "placeholder text 'the unit of the numbers'" in coder.calls[1][1]
    assert result.ok and "fallback" in result.provenance  # twice copied: our own plain chart instead
    code = (result.params or {})["code"]
    assert copied_slot(code) is None and "'Alfama', 'Belem'" in code
    assert copied_slot('labels = ["a"]\nplt.xlabel("Label")') is None  # real words of real charts pass


def test_a_chart_asked_of_diffusion_is_routed_to_the_chart_writer(code_tool: CodeTool) -> None:
    from studio.core.article import Article
    from studio.core.charts import route_charts_to_code
    from studio.core.engine import Engine, EngineOptions
    from studio.core.protocol import format_tag
    from studio.core.runner import ToolRunner

    chart = 'plt.bar(["Weather", "Shipping"], [60, 40])\nplt.title("Coffee price causes")\nplt.ylabel("Share")'
    coder = ScriptedCoder(chart)
    runner = ToolRunner({"code": wrapped(code_tool, coder)}, off_reasons={"diffusion": "no weights"})
    text = (
        "# Coffee\n\nWeather 60%, shipping 40%.\n\n"
        + format_tag("diffusion", "A bar chart of the causes of the coffee price rise", {"prompt": "bar chart"})
        + "\n\n"
        + format_tag("diffusion", "A photo of a coffee farm", {"prompt": "coffee farm at dawn"})
    )
    engine = Engine(runner, options=EngineOptions(route=route_charts_to_code))
    done = list(engine.run([text], Article(brief="coffee")))[-1]
    routed, photo = done.article.image_blocks()
    assert routed.source == "code" and routed.status == "ok" and routed.provenance["routed_from"] == "diffusion"
    assert "Coffee price causes" in routed.params["code"]
    assert photo.source == "diffusion" and photo.status == "placeholder" and "routed_from" not in photo.provenance


# A chart writer that trickles: one character of code every 0.1 s (the 1.5B model on a busy
# machine), from a scripted OpenAI-compatible server on 127.0.0.1 through the real HTTP backend.
SLOW_CODE = Reply("plt.plot([1, 2, 3])\n" * 40, chunk_chars=1, chunk_delay_s=0.1)
RAIN = "Bar chart of annual rainfall: 2019 800, 2020 950, 2021 700"


def slow_writer(server: JudgeServer) -> ChartCoder:
    return ChartCoder(OpenAICompatBackend(server.url, model="judge-model"), use_grammar=False)


def test_out_of_time_the_writer_stops_and_draws_the_plain_fallback(code_tool: CodeTool) -> None:
    with JudgeServer([SLOW_CODE]) as server:
        started = time.monotonic()
        context = ToolContext(description=RAIN, deadline=started + 1.0)
        result = ChartWritingTool(code_tool, slow_writer(server)).run(CodeParams(code=""), context)
        took = time.monotonic() - started
    assert result.ok and is_png(result.image)
    assert "did not finish the chart code in time" in result.provenance["fallback"]
    assert "800" in (result.params or {})["code"]  # the described data, drawn by our own template
    assert took < 12  # the 4 s answer was not waited for past the deadline (plus one sandbox run)


def test_stop_ends_the_writer_without_a_fallback(code_tool: CodeTool) -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    with JudgeServer([SLOW_CODE]) as server:
        started = time.monotonic()
        context = ToolContext(description=RAIN, cancel=stop)
        result = ChartWritingTool(code_tool, slow_writer(server)).run(CodeParams(code=""), context)
        took = time.monotonic() - started
    assert not result.ok and result.error == STOPPED and result.image is None
    assert took < 3
