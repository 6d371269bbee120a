"""A tag the routing check re-routed says so on its card, and the store keeps why (real SQLite
store, real chart sandbox; the response is handed in, as ``python -m studio render`` does)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from studio.app.session import Session, Studio
from studio.app.ui_page import image_card
from studio.core.agent import Brief
from tests.render_studio import png, render_services, render_settings, render_studio
from tools.base import Availability, Tool, ToolContext, ToolResult
from tools.params import EditParams

RESPONSE = (
    "# Sales\n\nAcme sold 40 units and Globex 25.\n\n"
    "<imgen>{'source': 'diffusion', 'description': 'Sales by brand in a bar chart: Acme 40, Globex 25', "
    "'params': {'prompt': 'sales by brand'}}</imgen>\n\nAcme leads."
)


def test_the_card_of_a_rerouted_tag_says_routed_to_chart(tmp_path: Path) -> None:
    studio = render_studio(tmp_path, ("code",))
    try:
        session = Session(studio)
        for _ in session.generate(Brief("Sales by brand"), response=RESPONSE):
            pass
        block = session.view.block("b2")  # read back from the store after the article ended
        assert block.source == "code" and block.status == "ok"
        assert block.provenance["routed_from"] == "diffusion" and block.provenance["routed_to"] == "code"
        assert "asks for a chart" in block.provenance["routed_why"]
        card = str(image_card(block, editable=True))
        assert '<p class="card-routed"' in card and "routed to chart</p>" in card
        assert "the model chose diffusion" in card  # the reason, on hover
        block.provenance["routed_why"] = '"><script>alert(1)</script>'  # the reason quotes model text
        hostile = str(image_card(block, editable=True))
        assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    finally:
        studio.close()


def test_routing_can_be_turned_off(tmp_path: Path) -> None:
    studio = render_studio(tmp_path, ("code",), route_pictures=False)
    try:
        session = Session(studio)
        for _ in session.generate(Brief("Sales by brand"), response=RESPONSE):
            pass
        block = session.view.block("b2")
        assert block.source == "diffusion" and block.status == "placeholder"  # diffusion is off here
        assert "routed_from" not in block.provenance and "card-routed" not in str(image_card(block, editable=True))
    finally:
        studio.close()


def test_the_article_row_keeps_the_plan_it_was_written_from(tmp_path: Path) -> None:
    from studio.app.store_adapter import writer_record

    studio = render_studio(tmp_path, ("code",))
    try:
        brief = Brief("写一篇关于中国茶的文章，附一张各类茶叶产量的图表，分为八个部分")
        record = writer_record(brief, Session(studio).services(), response=None, quality=1)
        assert record["plan"] == {"language": "zh", "kinds": ["code"], "sections": 8, "images": 1}
        assert "Chinese (中文)" in record["user_prompt"]
    finally:
        studio.close()


class LocalEdit(Tool):
    """The edit tool's stand-in: image editing needs a GPU model, which cannot run here."""

    name = "edit"
    Params = EditParams

    def run(self, params: BaseModel, context: ToolContext) -> ToolResult:
        assert context.parent_image is not None  # the user's photo reached it
        return ToolResult.success(png("navy"), {"model": "local stand-in"})


def test_a_pasted_search_tag_asking_to_change_the_attached_photo_is_routed_to_edit(tmp_path: Path) -> None:
    response = (
        "# My room\n\nThe same room at night.\n\n"
        "<imgen>{'source': 'search', 'description': 'An edited version of my photo, at night', "
        "'params': {'query': 'living room at night'}}</imgen>\n\nCosy."
    )
    settings = render_settings(tmp_path, ("code",))
    services = render_services(settings)
    services.tools["edit"] = LocalEdit()
    services.availability["edit"] = Availability.on()
    studio = Studio(settings, services=services)
    try:
        session = Session(studio)
        brief = Brief("An edited version of my photo", user_images=(png("white"),))
        for _ in session.generate(brief, response=response):
            pass
        block = session.view.block("b2")
        assert block.source == "edit" and block.status == "ok"
        assert block.params == {"img_index": 0, "prompt": "An edited version of my photo, at night"}
        assert block.provenance["routed_from"] == "search" and "routed to edit" in str(image_card(block, editable=True))
    finally:
        studio.close()
