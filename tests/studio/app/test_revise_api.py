"""Instructing the whole article through the named endpoints ``/revise`` and ``/revise_decide``
(gradio_client against the real app), with the writer a scripted OpenAI-compatible chat server
on 127.0.0.1 and the real chart sandbox running the new chart tag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gradio_client import Client

from storage import repo
from storage.prefs import list_preference_events
from studio.app.session import Studio
from studio.app.settings import load_settings
from tests.chat_server import ChatServer, Stream
from tests.ui.conftest import running_app

CHART = "plt.bar(['a', 'b'], [1, 2])"
TAG = "<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \"" + CHART + '"}}</imgen>'
ARTICLE = f"# Colors\n\nThe color of the sky is gray today.\n\n{TAG}\n\nThe end.\n\n"
NEW_CHART = "<imgen>{'source': 'code', 'description': 'Lenses', 'params': {'code': \"plt.bar(['x'], [3])\"}}</imgen>"
BAD_TAG = "<imgen>{'source': 'search', 'description': 'Nothing', 'params': {}}</imgen>"
REVISED = (
    f"# Colours\n\nThe colour of the sky is grey today.\n\n{TAG}\n\n"
    f"## Lenses\n\nA lens bends light <script>alert(1)</script>.\n\n{NEW_CHART}\n\n{BAD_TAG}\n\nThe end.\n\n"
)

MOVING = f"# Moving\n\nFirst.\n\n{TAG}\n\nSecond.\n\nThird.\n\n"
MOVED = f"# Moving\n\nFirst.\n\nSecond.\n\nThird.\n\n{TAG}\n\n"


def split(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio, ChatServer]]:
    def script(index: int, body: dict[str, Any]) -> Stream:
        moved = "Move the chart" in body["messages"][1]["content"]
        return Stream(split(MOVED if moved else REVISED))

    with ChatServer(script) as model:
        data = tmp_path_factory.mktemp("revise")
        settings = load_settings(data_dir=data, tools_enabled=["code"], backend="openai", openai_base_url=model.url,
                                 openai_model="writer")  # fmt: skip
        with running_app(settings) as (url, studio):
            yield url, studio, model


def test_revise_streams_a_per_block_diff_and_accepts_only_the_chosen_blocks(
    served: tuple[str, Studio, ChatServer],
) -> None:
    url, studio, model = served
    client = Client(url, verbose=False)
    final = client.predict("colours", ARTICLE, "", api_name="/render")[1]
    article_id = final["article_id"]
    before = repo.open_article(studio.store, article_id)
    chart_before = next(b for b in before.blocks if b.kind == "image")
    assert chart_before.current.status == "ok"

    job = client.submit("Use British spelling and add a section on lenses", api_name="/revise")
    outputs = list(job)
    diff = job.result()
    assert len(outputs) >= 2 and not outputs[0]["done"]  # streamed: partial diffs before the whole one
    assert diff["done"] and diff["instruction"].startswith("Use British spelling")
    sent = model.bodies[-1]["messages"]
    assert "Use British spelling" in sent[1]["content"] and "The color of the sky" in sent[1]["content"]
    changes = diff["changes"]
    changed = [c for c in changes if c["op"] == "changed"]
    assert [(c["block"], c["paragraph"]) for c in changed] == [("b1", 1), ("b1", 2)]  # paragraph by paragraph
    assert ["-", "color"] in changed[1]["marks"] and ["+", "colour"] in changed[1]["marks"]
    kept = [c for c in changes if c["op"] == "same" and c["kind"] == "image"]
    assert [(c["block"], c["description"]) for c in kept] == [(chart_before.key, "Bars")]  # the chart is kept
    added_text = [c["text"] for c in changes if c["op"] == "added" and c["kind"] == "text"]
    assert added_text == ["## Lenses", "A lens bends light <script>alert(1)</script>."]
    new_images = [c for c in changes if c["op"] == "added" and c["kind"] == "image"]
    assert [c["description"] for c in new_images] == ["Lenses", "Nothing"]
    assert new_images[0]["error"] is None
    assert "query" in new_images[1]["error"]  # the bad tag's reason is on its block

    # accept the spelling and the new chart only (not the new section's text, not the bad tag)
    accept = ", ".join(c["id"] for c in [*changed, new_images[0]])
    out = client.predict(accept, api_name="/revise_decide")
    assert out["message"] == "Accepted 3 of 6 changes."
    info = repo.open_article(studio.store, article_id)
    texts = [b.current.text for b in info.blocks if b.kind == "text"]
    assert texts[0].startswith("# Colours\n\nThe colour of the sky is grey today.")
    assert not any("lens bends" in (t or "") for t in texts)
    images = [b for b in info.blocks if b.kind == "image"]
    assert [b.current.description for b in images] == ["Bars", "Lenses"]
    kept, lenses = images
    assert kept.key == chart_before.key and kept.version_count == 1  # not regenerated
    assert kept.current.asset.sha256 == chart_before.current.asset.sha256  # type: ignore[union-attr]
    assert lenses.current.status == "ok" and lenses.current.asset is not None  # the new tag ran on accept
    assert lenses.current.origin == "revise"
    assert [b.key for b in info.blocks][-1] == "b3"  # the end stays last

    events = list_preference_events(studio.store)
    block_event = next(e for e in events if e.kind == "accept" and e.block_key == "b1")
    assert block_event.context["revision"]["instruction"].startswith("Use British spelling")
    assert block_event.context["chosen"]["text"].startswith("# Colours")
    assert block_event.context["rejected"]["text"].startswith("# Colors")
    decision = [e for e in events if e.block_key is None and "revision" in e.context][-1]
    revision = decision.context["revision"]
    assert decision.kind == "accept" and revision["decision"] == "per_block"
    assert revision["before"].startswith("# Colors") and "A lens bends light" in revision["revised"]
    assert "# Colours" in revision["after"] and "A lens bends" not in revision["after"]
    assert sorted(c["accepted"] for c in revision["changes"]) == [False] * 3 + [True] * 3


def test_discard_keeps_the_article_and_logs_the_decision(served: tuple[str, Studio, ChatServer]) -> None:
    url, studio, _ = served
    client = Client(url, verbose=False)
    article_id = client.predict("colours", ARTICLE, "", api_name="/render")[1]["article_id"]
    with pytest.raises(Exception, match="no revision of this article"):
        client.predict("all", api_name="/revise_decide")
    with pytest.raises(Exception, match="write an instruction"):
        client.predict("  ", api_name="/revise")
    client.predict("Use British spelling", api_name="/revise")
    with pytest.raises(Exception, match="c99 is not a change of this revision"):
        client.predict("c99", api_name="/revise_decide")
    out = client.predict("none", api_name="/revise_decide")
    assert out["message"].startswith("Discarded")
    info = repo.open_article(studio.store, article_id)
    assert info.blocks[0].current.text.startswith("# Colors")  # type: ignore[union-attr]
    assert info.blocks[0].candidate is None and info.blocks[0].version_count == 2  # the rewrite stays in history
    events = [e for e in list_preference_events(studio.store) if e.article_id == article_id]
    assert [e.kind for e in events if e.block_key == "b1"] == ["rewrite", "revert"]
    decision = [e for e in events if e.block_key is None and "revision" in e.context][-1]
    assert decision.kind == "revert" and decision.context["revision"]["decision"] == "discard"
    after = decision.context["revision"]["after"]
    assert "# Colors" in after and "Colours" not in after and "lens" not in after


def test_a_moved_image_keeps_its_picture(served: tuple[str, Studio, ChatServer]) -> None:
    url, studio, _ = served
    client = Client(url, verbose=False)
    article_id = client.predict("moving", MOVING, "", api_name="/render")[1]["article_id"]
    chart = next(b for b in repo.open_article(studio.store, article_id).blocks if b.kind == "image")
    diff = client.predict("Move the chart to the end", api_name="/revise")
    assert [(c["op"], c["kind"]) for c in diff["changes"] if c["op"] != "same"] == [
        ("removed", "image"), ("added", "image"),
    ]  # fmt: skip
    client.predict("all", api_name="/revise_decide")
    blocks = repo.open_article(studio.store, article_id).blocks
    assert [b.kind for b in blocks] == ["text", "text", "image"]  # the chart went to the end
    moved = blocks[-1].current
    assert moved.status == "ok" and moved.asset is not None and chart.current.asset is not None
    assert moved.asset.sha256 == chart.current.asset.sha256
    assert moved.provenance["reused_from"] == chart.key  # copied, not drawn again
