"""Charts honest about their data, with the real sandboxed code tool: where the numbers came from,
all-equal and placeholder values repaired once and then marked illustrative (the note drawn into
the chart), pasted code with made-up values marked, and the data read back from the code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from models.provenance import credit_for, is_illustrative
from studio.core.chart_data import chart_data, made_up, parse_table, redraw_code, table_text
from studio.core.charts import ChartWritingTool
from tests.studio.core.test_chart_checks import ScriptedCoder, is_png
from tools.base import ToolContext
from tools.code import CodeTool
from tools.params import CodeParams

EQUAL = 'labels = ["Search", "Diffusion", "Move", "Turn", "Find"]\nvalues = [1, 1, 1, 1, 1]\n' \
        'plt.bar(labels, values)\nplt.title("Foraging distance by phase")\nplt.ylabel("Distance")'  # fmt: skip
REAL = 'labels = ["Search", "Move"]\nvalues = [120, 45]\nplt.bar(labels, values)\n' \
       'plt.title("Foraging distance by phase")\nplt.ylabel("Distance")'  # fmt: skip
TEXT = "Bees fly 120 m while they search and 45 m while they move between flowers."


@pytest.fixture(scope="module")
def code_tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeTool]:
    tool = CodeTool(timeout_s=20, cpu_s=20, memory_mb=600, scratch_root=tmp_path_factory.mktemp("honest"))
    yield tool
    tool.close()


def test_chart_data_reads_the_drawn_series() -> None:
    data = chart_data(EQUAL)
    assert data.labels == ("Search", "Diffusion", "Move", "Turn", "Find") and data.values == (1, 1, 1, 1, 1)
    assert data.texts == {"title": "Foraging distance by phase", "ylabel": "Distance"}
    # the y of plot(x, y) is the data, not the x positions
    assert chart_data("x = [1, 2, 3]\ny = [5, 7, 9]\nplt.plot(x, y)").values == (5, 7, 9)
    assert chart_data('plt.pie([30, 70], labels=["coal", "gas"])').labels == ("coal", "gas")
    assert not chart_data("x = np.linspace(0, 1)\nplt.plot(x, x ** 2)")  # computed: no literal data
    assert not chart_data("this is not python (")


def test_made_up_values() -> None:
    assert made_up([1, 1, 1]) == "all 3 values are equal (1)"
    assert made_up([1, 2, 3, 4]) and made_up([0, 1, 2]) and made_up([10, 20, 30])
    assert made_up([2019, 2020, 2021]) is None and made_up([28, 25, 31]) is None and made_up([3, 5]) is None


def test_table_round_trip_and_errors() -> None:
    data = chart_data(REAL)
    assert table_text(data) == "Search: 120\nMove: 45"
    assert parse_table("Search: 120\nMove = 45.5\n\n") == (("Search", "Move"), (120.0, 45.5))
    with pytest.raises(ValueError, match="line 2"):
        parse_table("a: 1\nb: many")
    with pytest.raises(ValueError, match="at least two"):
        parse_table("a: 1")
    redrawn = redraw_code(data, seed=7, title="ignored: the code's own title wins")
    assert chart_data(redrawn).labels == data.labels and chart_data(redrawn).values == data.values
    assert "Foraging distance by phase" in redrawn


def test_all_equal_values_are_repaired_once_then_illustrative(code_tool: CodeTool) -> None:
    coder = ScriptedCoder(EQUAL, EQUAL)
    result = ChartWritingTool(code_tool, coder).run(  # type: ignore[arg-type]
        CodeParams(code=""), ToolContext(description="Bar chart of foraging distance by phase", text_before=TEXT)
    )
    assert [c[0] for c in coder.calls] == ["write", "repair"] and "all 5 values are equal" in coder.calls[1][1]
    assert result.ok and is_png(result.image)
    assert result.provenance["illustrative"] is True and result.provenance["data_from"] == "illustrative"
    assert "Illustrative numbers" in (result.params or {})["code"]  # drawn into the chart itself
    assert is_illustrative(result.provenance) and "illustrative" in credit_for("code", result.provenance).line


def test_a_repair_with_the_texts_numbers_is_plain_data(code_tool: CodeTool) -> None:
    coder = ScriptedCoder(EQUAL, REAL)
    result = ChartWritingTool(code_tool, coder).run(  # type: ignore[arg-type]
        CodeParams(code=""),
        ToolContext(description="Bar chart of foraging distance by phase", text_before=TEXT),
    )
    assert result.ok and result.provenance["data_from"] == "text" and not is_illustrative(result.provenance)
    assert "Illustrative numbers" not in (result.params or {})["code"]


def test_pasted_code_keeps_its_origin_and_made_up_values_are_marked(code_tool: CodeTool) -> None:
    tool = ChartWritingTool(code_tool, ScriptedCoder())  # type: ignore[arg-type]
    pasted = tool.run(CodeParams(code=REAL), ToolContext(description="Foraging distance", code_from="response"))
    assert pasted.ok and pasted.provenance["data_from"] == "response"
    in_brief = tool.run(CodeParams(code=REAL), ToolContext(description="Foraging distance", brief=TEXT))
    assert in_brief.provenance["data_from"] == "brief"
    lighthouse = 'plt.bar(["A", "B", "C"], [1, 1, 1])\nplt.title("Lighthouses")'
    marked = tool.run(CodeParams(code=lighthouse), ToolContext(description="Lighthouses", code_from="response"))
    assert marked.ok and marked.provenance["illustrative"] is True
    assert "Illustrative numbers" in (marked.params or {})["code"]
    nowhere = tool.run(CodeParams(code=REAL), ToolContext(description="Foraging distance"))
    assert nowhere.provenance["data_from"] == "illustrative"  # numbers stated nowhere are not data
