"""Pictures owed after a loop (studio.core.owed): what is owed, the grammar that admits exactly the
owed tags (compiled by xgrammar), and the whole flow against a scripted OpenAI-compatible server on
127.0.0.1: a loop before the brief's chart no longer ends the article without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.agent import Brief
from studio.core.article import OWED_PICTURES, REPETITION_NOTE, Article
from studio.core.owed import Owed, owed_grammar, owed_pictures
from studio.core.protocol import parse_tag
from tests.judge_server import JudgeServer, Reply
from tests.studio.core.test_outline import CHART, OUTLINE, PHOTO, accepts, run, services_for, writer_script

pytest.importorskip("xgrammar")

LOOP = "Tea is a drink made from leaves of the tea plant. " * 4


def grammar(owed: Owed, user_images: int = 0) -> str:
    made = owed_grammar(owed, user_image_count=user_images, max_paragraph_chars=300, two_phase_code=True)
    assert made is not None
    return made


def test_what_is_owed_counts_the_tags_written_and_the_kinds_still_missing() -> None:
    article = Article()
    assert owed_pictures(article, 1, 3, ("code",)) == Owed(1, ("code",))
    article.add_image(parse_tag(PHOTO, tag_position=0, user_image_count=0))
    assert owed_pictures(article, 1, 3, ("code", "search")) == Owed(1, ("code",))  # the photo is there
    assert owed_pictures(article, 1, 3, ()) is None  # one picture was asked for, one is there
    assert owed_pictures(article, 3, 3, ()) == Owed(2, ())
    assert owed_pictures(article, 2, 1, ("code",)) is None  # no room left under the maximum


def test_the_owed_grammar_admits_exactly_the_owed_tags_back_to_back_then_a_closing_paragraph() -> None:
    chart = grammar(Owed(1, ("code",)))
    assert accepts(chart, f"\n\n{CHART}\n\nChina grows the most.")
    assert not accepts(chart, "\n\nChina grows the most.")  # no tag: nothing owed was written
    assert not accepts(chart, f"\n\n{PHOTO}\n\nIt is green.")  # the chart is the kind owed
    assert not accepts(chart, f"\n\n{CHART}\n\n## More\n\nChina grows the most.")  # no heading after it
    assert not accepts(chart, f"\n\n{CHART}\n\nIt is green.\n\n{CHART}\n\nAgain.")  # one owed, one written
    two = grammar(Owed(2, ()))
    assert accepts(two, f"\n\n{PHOTO}\n\n{CHART}\n\nChina grows the most.")
    # no prose between the owed tags: a loop there lost the second picture (measured)
    assert not accepts(two, f"\n\n{PHOTO}\n\nIt is green.\n\n{CHART}\n\nChina grows the most.")
    assert not accepts(two, f"\n\n{PHOTO}\n\nIt is green.")
    # an edit owed with nothing to edit cannot be written: no grammar, no request
    assert owed_grammar(Owed(1, ("edit",)), user_image_count=0, max_paragraph_chars=300, two_phase_code=True) is None


def test_a_loop_before_the_briefs_chart_is_followed_by_the_chart(tmp_path: Path) -> None:
    script = [Reply("# Tea\n\n" + LOOP, chunk_chars=12), Reply(f"\n\n{CHART}\n\nChina grows the most.")]
    brief = Brief("Tea, with a chart of output.", wanted_images=1)
    with JudgeServer(writer_script(script), model="m") as server:
        done = run(brief, services_for(server.url, tmp_path))[-1]
        writer = [r for r in server.requests if "draws exactly one chart" not in str(r["messages"][0]["content"])]
    text = done.article.to_llmi_text()
    assert text.count("Tea is a drink") == 1 and text.endswith("China grows the most.")
    (block,) = done.article.image_blocks()
    assert block.source == "code" and block.status == "ok"
    assert len(writer) == 2
    owed = writer[1]
    kept = "# Tea\n\nTea is a drink made from leaves of the tea plant."
    assert owed["messages"][-1] == {"role": "assistant", "content": kept}
    assert owed["continue_final_message"] is True
    assert "imgen" in owed["grammar"] and "title ::=" not in owed["grammar"]
    (loop,) = done.article.removed
    assert loop.kind == "repetition" and loop.reason.endswith(OWED_PICTURES)
    note = done.article.guard_note()
    assert note.startswith(REPETITION_NOTE) and "pictures the brief asks for" in note


def test_a_loop_after_the_pictures_ends_the_article_with_no_more_requests(tmp_path: Path) -> None:
    script = [Reply(f"# Tea\n\nTea grows on hills.\n\n{CHART}\n\n" + LOOP)]
    with JudgeServer(writer_script(script), model="m") as server:
        done = run(Brief("Tea, with a chart of output.", wanted_images=1), services_for(server.url, tmp_path))[-1]
        writer = [r for r in server.requests if "draws exactly one chart" not in str(r["messages"][0]["content"])]
    assert len(writer) == 1 and len(done.article.image_blocks()) == 1
    assert done.article.guard_note() == REPETITION_NOTE


def test_a_loop_that_comes_back_in_the_owed_request_ends_the_article(tmp_path: Path) -> None:
    script = [Reply("# Tea\n\n" + LOOP), Reply(LOOP)]  # a server that ignores the grammar
    with JudgeServer(writer_script(script), model="m") as server:
        done = run(Brief("Tea, with a chart of output.", wanted_images=1), services_for(server.url, tmp_path))[-1]
        assert len(server.requests) == 2  # redirected once, never again
    assert done.article.to_llmi_text().count("Tea is a drink") == 1 and not done.article.image_blocks()


def test_an_outlined_article_whose_sections_looped_gets_its_picture_after_the_last(tmp_path: Path) -> None:
    loops = [Reply(LOOP), Reply("Tea grows on wet hills. " * 4), Reply("People drink it hot with milk and sugar. " * 4)]
    script = [Reply(OUTLINE), *loops, Reply(f"\n\n{CHART}\n\nChina grows the most.")]
    brief = Brief("Tea in three sections, with a chart of output.", wanted_images=1)
    with JudgeServer(writer_script(script), model="m") as server:
        done = run(brief, services_for(server.url, tmp_path))[-1]
        writer = [r for r in server.requests if "draws exactly one chart" not in str(r["messages"][0]["content"])]
    assert len(writer) == 5 and "imgen" in writer[4]["grammar"]
    assert writer[4]["messages"][-1]["content"].endswith("## Drinking\n\nPeople drink it hot with milk and sugar.")
    text = done.article.to_llmi_text()
    assert text.index("## Drinking") < text.index("<imgen>") and text.endswith("China grows the most.")
    assert [b.source for b in done.article.image_blocks()] == ["code"]
