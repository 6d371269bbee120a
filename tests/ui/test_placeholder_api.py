"""The studio shows a placeholder block with its reason and lets the user fill it with an image
(the real app on 127.0.0.1 through gradio_client; diffusion is off in this app)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from models.openai_compat import OpenAICompatBackend
from studio.app.services import build_services
from studio.app.session import Studio
from studio.app.settings import load_settings
from tests.ui.conftest import running_app

RESPONSE = (
    "# Dragons\n\nA story.\n\n<imgen>{'source': 'diffusion', 'description': 'A red dragon over the hills', "
    "'params': {'prompt': 'a red dragon over green hills, watercolour'}}</imgen>\n\nThe end."
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("ui"), tools_enabled=["code"], backend="openai")
    services = build_services(settings, backend=OpenAICompatBackend("http://127.0.0.1:9/v1", model="none"))
    with running_app(settings, Studio(settings, services=services)) as (url, _):
        yield url


def test_placeholder_is_shown_with_its_reason_and_filled_by_an_upload(app_url: str, tmp_path: Path) -> None:
    client = Client(app_url, verbose=False)
    outputs = client.predict("dragons", RESPONSE, "", api_name="/render")
    html, final = outputs[0], outputs[4]
    block = final["article"]["blocks"][1]
    assert block["status"] == "placeholder" and block["params"]["prompt"].startswith("a red dragon")
    assert "the diffusion tool is off" in block["error"]
    assert 'data-status="placeholder"' in html and "Fill it: upload an image" in html

    with pytest.raises(Exception, match="not a PNG"):
        bad = tmp_path / "fake.png"  # an image name, but not an image
        bad.write_text("not an image")
        client.predict("b2", handle_file(str(bad)), api_name="/fill")
    picture = tmp_path / "dragon.png"
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, "PNG")
    picture.write_bytes(buf.getvalue())
    outputs = client.predict("b2", handle_file(str(picture)), api_name="/fill")
    filled = outputs[4]["article"]["blocks"][1]
    assert filled["status"] == "ok" and filled["image"].startswith("data:image/png;base64,")
    assert (filled["version"], filled["version_count"]) == (2, 2)
    assert 'data-status="ok"' in outputs[0] and "filled with your image" in outputs[3]
