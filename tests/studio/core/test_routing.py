"""The routing check: a tag whose source contradicts its description goes to the right tool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.article import Article
from studio.core.charts import ChartWritingTool
from studio.core.engine import Engine, EngineOptions
from studio.core.events import ToolCallQueued
from studio.core.protocol import ToolCall, format_tag, parse_tag
from studio.core.routing import PictureRouter, Routed
from studio.core.runner import ToolRunner
from tests.studio.core.test_engine import Clock, scripted
from tools.code import CodeTool
from tools.params import CodeParams, DiffusionParams, EditParams, SearchParams

ALL = ("search", "diffusion", "code", "edit")


def call(source: str, description: str, **params: object) -> ToolCall:
    parsed = parse_tag(format_tag(source, description, params), tag_position=0, user_image_count=1)
    assert isinstance(parsed, ToolCall), parsed
    return parsed


def test_a_contradicted_source_is_routed_to_the_tool_the_description_asks_for() -> None:
    router = PictureRouter(ALL, user_images=1)
    chart = router(call("diffusion", "Sales by brand in a bar chart", prompt="sales"))
    assert isinstance(chart, Routed) and chart.call.source == "code" and chart.call.params == CodeParams(code="")
    assert "chart" in chart.why and "the model chose diffusion" in chart.why
    concept = router(call("code", "A concept image of a future city car", code=""))
    assert isinstance(concept, Routed) and concept.call.params == DiffusionParams(
        prompt="A concept image of a future city car"
    )
    photo = router(call("diffusion", "Photo of the Eiffel Tower at sunset", prompt="tower"))
    assert isinstance(photo, Routed) and photo.call.params == SearchParams(query="Photo of the Eiffel Tower at sunset")
    edit = router(call("search", "把我的照片改成夜景", query="夜景"))
    assert isinstance(edit, Routed) and edit.call.params == EditParams(img_index=0, prompt="把我的照片改成夜景")


def test_what_is_ambiguous_unavailable_or_written_stays_as_the_model_wrote_it() -> None:
    router = PictureRouter(ALL, user_images=0)
    ambiguous = call("diffusion", "Bees at work", prompt="bees")
    assert router(ambiguous) is ambiguous
    written = call("code", "A photo of a harbour", code="plt.plot([1, 2])")
    assert router(written) is written  # code that is there draws what it draws
    no_image = call("search", "An edited version of my photo at night", query="night")
    assert router(no_image) is no_image  # nothing attached: no edit to route to
    off = PictureRouter(("search", "code", "edit"))
    concept = call("search", "A concept image of a future city car", query="car")
    assert off(concept) is concept  # diffusion is off: the search runs as written
    both_off = PictureRouter(("code",))(concept)  # search is off too: the placeholder names diffusion
    assert isinstance(both_off, Routed) and both_off.call.source == "diffusion"
    two = PictureRouter(ALL, user_images=2)
    which = call("search", "An edited version of my photo at night", query="night")
    assert two(which) is which  # two attached images: which one is ambiguous


def test_a_photo_search_in_a_brief_of_drawn_pictures_goes_to_diffusion() -> None:
    scene = call("search", "A lighthouse keeper reading a message on the beach", query="keeper bottle")
    story = PictureRouter(ALL, drawn=True, fiction=True)
    routed = story(scene)
    assert isinstance(routed, Routed) and routed.call.params == DiffusionParams(
        prompt="A lighthouse keeper reading a message on the beach"
    )
    assert "fiction" in routed.why and "the model chose search" in routed.why
    photo = call("search", "Photo of the fictional kettle on a kitchen table", query="kettle")
    assert isinstance(story(photo), Routed)  # in fiction even a "photo" cannot be searched for
    # a report that asks for illustrations and no photo: only an ambiguous search is drawn
    report = PictureRouter(ALL, drawn=True)
    assert isinstance(report(scene), Routed) and "illustrations, not photos" in report(scene).why  # type: ignore[union-attr]
    tower = call("search", "Photo of the Eiffel Tower at sunset", query="Eiffel Tower")
    assert report(tower) is tower
    # a brief that also asks for photos, or is not drawn: the search stays
    assert PictureRouter(ALL)(scene) is scene
    assert PictureRouter(("search", "code"), drawn=True, fiction=True)(scene) is scene  # diffusion off, search on


def test_the_only_tag_of_a_kind_the_brief_names_keeps_its_kind() -> None:
    # a guide asking for a photo and a chart: the grammar forces one search tag; when the model
    # describes a chart in it, routing it would leave two charts and no photo
    guide = PictureRouter(ALL, named=("code", "search"))
    chart = call("code", "Monthly visitors to Kyoto", code="")
    assert guide(chart) is chart
    forced = call("search", "A chart of monthly visitors to Kyoto", query="Kyoto visitors")
    assert guide(forced) is forced
    again = call("search", "A bar chart of temple visitors", query="temples")
    assert isinstance(guide(again), Routed)  # the brief's photo is there: a second chart-like search is routed
    # a kind the brief does not name is routed as before
    sales = PictureRouter(ALL, named=("code",))(call("diffusion", "Sales by brand in a bar chart", prompt="sales"))
    assert isinstance(sales, Routed) and sales.call.source == "code"


@pytest.fixture(scope="module")
def code_tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeTool]:
    tool = CodeTool(timeout_s=20, cpu_s=20, memory_mb=600, scratch_root=Path(tmp_path_factory.mktemp("charts")))
    yield tool
    tool.close()


class ScriptedCoder:
    """The chart writer's model (phase 2 is not under test here): fixed chart code."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.descriptions: list[str] = []

    def write(self, description: str, context: str, *, seed: int | None = None, cancel: object = None) -> str:
        self.descriptions.append(description)
        return self.code

    def repair(self, code: str, error: str, description: str, context: str, *, cancel: object = None) -> str:
        return self.code


def test_the_engine_reroutes_a_diffusion_tag_described_as_a_bar_chart_and_records_why(code_tool: CodeTool) -> None:
    chart = 'plt.bar(["Acme", "Globex"], [40, 25])\nplt.title("Sales by brand")\nplt.ylabel("Sales")'
    coder = ScriptedCoder(chart)
    clock = Clock()
    diffusion = scripted("diffusion", DiffusionParams, clock, {})
    runner = ToolRunner({"code": ChartWritingTool(code_tool, coder), "diffusion": diffusion})  # type: ignore[arg-type]
    text = (
        "# Sales\n\nAcme sold 40 and Globex 25.\n\n"
        + format_tag("diffusion", "Sales by brand in a bar chart: Acme 40, Globex 25", {"prompt": "sales"})
        + "\n\n"
        + format_tag("diffusion", "Bees at work", {"prompt": "bees"})
    )
    engine = Engine(runner, options=EngineOptions(route=PictureRouter(("code", "diffusion"))))
    events = list(engine.run([text], Article(brief="sales")))
    queued = [e for e in events if isinstance(e, ToolCallQueued)]
    assert [e.source for e in queued] == ["code", "diffusion"]  # re-routed before it runs
    routed, kept = events[-1].article.image_blocks()
    assert (
        routed.source == "code"
        and routed.status == "ok"
        and routed.image
        and routed.image.startswith(b"\x89PNG\r\n\x1a\n")
    )
    assert routed.provenance["routed_from"] == "diffusion" and routed.provenance["routed_to"] == "code"
    assert "asks for a chart" in routed.provenance["routed_why"]
    assert coder.descriptions == ["Sales by brand in a bar chart: Acme 40, Globex 25"]
    assert kept.source == "diffusion" and kept.status == "ok" and "routed_from" not in kept.provenance


@pytest.mark.parametrize("description", ["金阁寺的照片", "未来の都市のコンセプトイラスト", "Foto des Kölner Doms"])
def test_the_chart_writer_refuses_a_photo_or_illustration_in_any_language(
    code_tool: CodeTool, description: str
) -> None:
    from tools.base import ToolContext

    coder = ScriptedCoder('plt.bar(["a"], [1])\nplt.title("x")')
    result = ChartWritingTool(code_tool, coder).run(CodeParams(code=""), ToolContext(description=description))  # type: ignore[arg-type]
    assert result.placeholder and result.provenance["placeholder"] == "not_a_chart"
    assert coder.descriptions == []  # never drawn: no faked picture
