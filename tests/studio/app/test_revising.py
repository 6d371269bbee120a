"""The session side of a revision, without the page: a decision whose request ends before its new
images ran leaves a reason on each of them (none stays 'queued' for ever)."""

from __future__ import annotations

from pathlib import Path

from storage import repo
from studio.app.session import Session, Studio
from studio.app.settings import load_settings
from studio.core.agent import Brief
from tests.chat_server import ChatServer, Stream

ARTICLE = "# Charts\n\nOne paragraph.\n\n"
CHART = "<imgen>{'source': 'code', 'description': 'Bars', 'params': {'code': \"plt.bar(['a'], [1])\"}}</imgen>"
REVISED = f"# Charts\n\nOne paragraph.\n\n{CHART}\n\n"


def test_a_new_image_not_run_when_the_request_ends_says_why(tmp_path: Path) -> None:
    with ChatServer([Stream([REVISED])]) as model:
        settings = load_settings(data_dir=tmp_path, tools_enabled=["code"], backend="openai",
                                 openai_base_url=model.url, openai_model="writer")  # fmt: skip
        studio = Studio(settings)
        try:
            sess = Session(studio)
            for _ in sess.generate(Brief("charts"), response=ARTICLE):
                pass
            *_, proposal = sess.propose_revision("add a chart")
            [new] = [c.id for c in proposal.changes if c.decidable]
            steps = sess.decide_revision([new])
            view = next(steps)  # the block is in the article, its call not run yet
            assert [b.status for b in view.blocks if b.kind == "image"] == ["queued"]
            steps.close()  # the tab went away
            [block] = [b for b in repo.open_article(studio.store, sess.article_id or 0).blocks if b.kind == "image"]
            assert block.current.status == "failed"
            assert "request ended before this image ran" in (block.current.error or "")
        finally:
            studio.close()
