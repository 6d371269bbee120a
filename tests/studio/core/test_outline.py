"""Outline-first writing: the outline and section grammars (compiled by xgrammar, which accepts
or refuses whole texts), the images spread over the sections, and the whole flow against a
scripted OpenAI-compatible server on 127.0.0.1 (what each request carries, what the article is)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from studio.app.services import Services, build_services
from studio.app.settings import load_settings
from studio.core.agent import Brief, write_article
from studio.core.article import REPETITION_NOTE, SECTION_ENDED, SECTION_REPETITION_NOTE, SECTION_RETRIED
from studio.core.events import ArticleDone, TextDelta, ToolCallQueued
from studio.core.outline import (
    Outline,
    SectionImages,
    outline_grammar,
    parse_outline,
    section_grammar,
    section_messages,
    sentence_tail_grammar,
)
from tests.judge_server import JudgeServer, Reply

xgr = pytest.importorskip("xgrammar")
STOP = 256

CHART = "<imgen>{'source': 'code', 'description': 'Bar chart of tea: China 3, India 1', 'params': {'code': ''}}</imgen>"
PHOTO = "<imgen>{'source': 'search', 'description': 'tea fields', 'params': {'query': 'tea plantation'}}</imgen>"


@functools.cache
def compiler() -> Any:
    vocab = [bytes([i]) for i in range(256)] + [b"</s>"]
    info = xgr.TokenizerInfo(vocab, vocab_size=len(vocab), stop_token_ids=[STOP])
    return xgr.GrammarCompiler(info, max_threads=1)


def accepts(grammar: str, text: str) -> bool:
    matcher = xgr.GrammarMatcher(compiler().compile_grammar(grammar))
    return bool(matcher.accept_string(text) and matcher.accept_token(STOP) and matcher.is_terminated())


# --- grammars ---------------------------------------------------------------------------------


def test_the_outline_grammar_admits_exactly_the_asked_number_of_headings() -> None:
    grammar = outline_grammar(6)
    heads = [f"## Part {i}\n" for i in range(1, 8)]
    assert accepts(grammar, "# Tea\n\n" + "".join(heads[:6]))
    assert not accepts(grammar, "# Tea\n\n" + "".join(heads[:5]))
    assert not accepts(grammar, "# Tea\n\n" + "".join(heads[:7]))
    assert not accepts(grammar, "# Tea\n\n## <imgen>\n" + "".join(heads[:5]))


def test_a_section_grammar_has_no_title_no_heading_and_the_tags_that_fall_due() -> None:
    one_chart = section_grammar((1, 1), user_image_count=0, max_paragraph_chars=300, two_phase_code=True,
                                required=("code",))  # fmt: skip
    assert accepts(one_chart, f"Tea grows on hills.\n\n{CHART}\n\nChina grows the most.")
    assert not accepts(one_chart, "Tea grows on hills.")  # the tag that falls due here is missing
    # one sentence leads to a due tag, so a section's share cannot run out before it
    assert not accepts(one_chart, f"Tea grows on hills.\n\nIt likes rain.\n\n{CHART}\n\nChina grows the most.")
    assert not accepts(one_chart, f"Tea grows on hills. It likes rain.\n\n{CHART}\n\nChina grows the most.")
    assert not accepts(one_chart, f"Tea grows on hills.\n\n{PHOTO}\n\nIt is green.")  # the chart is required
    assert not accepts(one_chart, f"# Tea\n\nTea grows on hills.\n\n{CHART}\n\nIt is green.")
    none = section_grammar((0, 0), user_image_count=0, max_paragraph_chars=300, two_phase_code=True)
    assert accepts(none, "Tea grows on hills. It likes rain.\n\nPickers work by hand.")
    assert not accepts(none, "Tea grows on hills.\n\n## Next part\n\nMore.")
    assert not accepts(none, f"Tea grows on hills.\n\n{PHOTO}\n\nIt is green.")


def test_an_edit_in_a_later_section_may_point_at_an_earlier_sections_image() -> None:
    edit = "<imgen>{'source': 'edit', 'description': 'at night', 'params': {'img_index': 1, 'prompt': 'night'}}</imgen>"
    grammar = section_grammar((1, 1), user_image_count=2, max_paragraph_chars=300, two_phase_code=True)
    assert accepts(grammar, f"Night falls.\n\n{edit}\n\nThe end.")
    first = section_grammar((1, 1), user_image_count=1, max_paragraph_chars=300, two_phase_code=True)
    assert not accepts(first, f"Night falls.\n\n{edit}\n\nThe end.")  # index 1 does not exist yet


def test_the_sentence_tail_grammar_finishes_one_sentence() -> None:
    assert accepts(sentence_tail_grammar(), " and then it rained.")
    assert not accepts(sentence_tail_grammar(), " and then\n\n## More")


def test_images_fall_due_evenly_and_early() -> None:
    two_of_six = SectionImages(2, 2)
    written, dues = 0, []
    for i in range(6):
        least, most = two_of_six.due(i, 6, written)
        assert least == most
        dues.append(least)
        written += least
    assert dues == [1, 0, 0, 1, 0, 0] and written == 2
    assert SectionImages(0, 0).due(3, 4, 0) == (0, 0)
    assert SectionImages(1, 4).due(0, 4, 0) == (1, 1)
    assert SectionImages(1, 4).due(3, 4, 1) == (0, 3)


def test_parse_outline_is_lenient_without_a_grammar() -> None:
    outline = parse_outline("Sure!\n# Tea\n1. Origins\n2) Growing <b>\n- Brewing\n## Drinking\n## Extra", 4)
    assert outline == Outline("Tea", ("Origins", "Growing b>", "Brewing", "Drinking"))
    assert parse_outline("no outline here", 3).headings == ()


def test_section_messages_carry_the_outline_and_prefill_the_article_so_far() -> None:
    outline = Outline("Tea", ("Origins", "Growing"))
    base = [{"role": "system", "content": "S"}, {"role": "user", "content": "Tea in two sections."}]
    messages = section_messages(base, outline, 1, "# Tea\n\n## Origins\n\nOld.\n\n## Growing\n\n")  # type: ignore[arg-type]
    assert messages[0] == base[0] and messages[1]["content"].startswith("Tea in two sections.")
    assert "## Growing" in messages[1]["content"] and "'Growing' (2 of 2)" in messages[1]["content"]
    assert messages[2] == {"role": "assistant", "content": "# Tea\n\n## Origins\n\nOld.\n\n## Growing\n\n"}


# --- the flow, against a scripted server ---------------------------------------------------------


def services_for(url: str, tmp_path: Path, **overrides: object) -> Services:
    settings = load_settings(
        data_dir=tmp_path / "data", tools_enabled=["code"], backend="openai", openai_base_url=url,
        openai_model="m", openai_grammar=True, openai_grammar_field="grammar", max_tokens=900, **overrides,
    )  # fmt: skip
    return build_services(settings)


def writer_script(replies: list[Reply]) -> Any:
    """The writer's requests (the outline, then sections) get ``replies`` in order; a chart's code
    request, which comes whenever the chart tool runs, gets plain chart code."""
    writer = iter(replies)

    def answer(_index: int, body: dict[str, Any]) -> Reply:
        if "draws exactly one chart" in str(body["messages"][0]["content"]):
            return Reply("```python\nplt.bar(['China', 'India'], [3, 1])\nplt.title('Tea output')\n```")
        return next(writer)

    return answer


def run(brief: Brief, services: Services) -> list[Any]:
    try:
        return list(write_article(brief, services))
    finally:
        services.close()


OUTLINE = "# Tea\n\n## Origins\n## Growing\n## Drinking\n"


def test_a_three_section_brief_is_written_outline_first_section_by_section(tmp_path: Path) -> None:
    script = [
        Reply(OUTLINE),
        Reply(f"Tea began in China.\n\n{CHART}\n\nChina grows the most."),
        Reply("Tea grows on hills."),
        Reply("People drink it hot."),
    ]
    brief = Brief("Tea in three sections, with a chart of output.", wanted_images=1)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        outline_req = server.requests[0]
        section_reqs = [r for r in server.requests if r.get("continue_final_message")]  # not the chart's
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None and not done.cut_off
    text = done.article.to_llmi_text()
    assert text.startswith("# Tea\n\n## Origins\n\nTea began in China.\n\n<imgen>{'source': 'code'")
    assert "China grows the most.\n\n## Growing\n\nTea grows on hills.\n\n## Drinking" in text
    assert text.count("\n## ") == 3 and text.rstrip().endswith("People drink it hot.")
    assert [e.source for e in events if isinstance(e, ToolCallQueued)] == ["code"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).startswith("# Tea\n\n## Origins")
    # the outline request: its own grammar (exactly three headings), no image rules
    assert "item{3}" in outline_req["grammar"] and "imgen" not in outline_req["grammar"]
    assert "exactly 3 section headings" in outline_req["messages"][0]["content"]
    # each section: the article so far as the unfinished answer, its own grammar and budget
    assert len(section_reqs) == 3
    for index, (request, heading) in enumerate(zip(section_reqs, ("Origins", "Growing", "Drinking"), strict=True)):
        assert request["continue_final_message"] is True and request["add_generation_prompt"] is False
        assert request["messages"][-1]["role"] == "assistant"
        assert request["messages"][-1]["content"].endswith(f"## {heading}\n\n")
        assert f"'{heading}' ({index + 1} of 3)" in request["messages"][-2]["content"]
        assert request["stop"] == ["\n## ", "\n# "] and "heading" not in request["grammar"]
        assert request["max_tokens"] < 900
    # the one wanted chart falls due in the first section's grammar (and only there)
    assert "'source': 'code'" in section_reqs[0]["grammar"]
    assert "imgen" not in section_reqs[1]["grammar"] and "imgen" not in section_reqs[2]["grammar"]


def test_a_section_cut_by_its_share_is_finished_with_one_sentence(tmp_path: Path) -> None:
    script = [
        Reply("# Tea\n\n## Origins\n## Growing\n## Drinking\n"),
        Reply("Tea began in China and", finish_reason="length"),
        Reply(" spread along trade roads."),
        Reply("Tea grows on hills."),
        Reply("People drink it hot."),
    ]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(script, model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        tail = server.requests[2]
    done = events[-1]
    assert isinstance(done, ArticleDone) and not done.cut_off and done.article.continuations == 1
    assert "Tea began in China and spread along trade roads.\n\n## Growing" in done.article.to_llmi_text()
    assert tail["messages"][-1]["content"].endswith("Tea began in China and")
    assert "root ::=" in tail["grammar"] and "imgen" not in tail["grammar"] and tail["max_tokens"] <= 60


def test_an_outline_without_headings_falls_back_to_one_request(tmp_path: Path) -> None:
    script = [Reply("I cannot plan that."), Reply("# Tea\n\nTea began in China.")]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(script, model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        assert len(server.requests) == 2 and "continue_final_message" not in server.requests[1]
    assert events[-1].article.to_llmi_text() == "# Tea\n\nTea began in China."


def test_below_the_threshold_and_when_turned_off_the_article_is_one_request(tmp_path: Path) -> None:
    for sections, least in (("two", 3), ("five", 0)):
        with JudgeServer([Reply("# Tea\n\nTea began in China.")], model="m") as server:
            brief = Brief(f"Tea in {sections} sections.", wanted_images=0)
            run(brief, services_for(server.url, tmp_path, outline_min_sections=least))
            assert len(server.requests) == 1


def test_a_section_that_loops_ends_there_and_the_next_section_is_written(tmp_path: Path) -> None:
    loop = "Tea is a drink made from leaves of the tea plant. " * 4
    script = [Reply(OUTLINE), Reply(loop, chunk_chars=12), Reply("Tea grows on hills."), Reply("People drink it hot.")]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        third = server.requests[2]
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None
    text = done.article.to_llmi_text().rstrip()  # (an outlined article ends with its last paragraph end)
    assert text.count("Tea is a drink made from leaves of the tea plant.") == 1
    assert text.endswith("\n\n## Growing\n\nTea grows on hills.\n\n## Drinking\n\nPeople drink it hot.")
    (loop_removed,) = done.article.removed
    assert loop_removed.kind == "repetition" and loop_removed.reason.endswith(SECTION_ENDED)
    assert done.article.guard_note() == SECTION_REPETITION_NOTE
    # the next section continues what the reader sees, not the loop
    assert third["messages"][-1]["content"].count("Tea is a drink") == 1


def test_a_loop_in_one_request_still_ends_the_article(tmp_path: Path) -> None:
    loop = "# Tea\n\n" + "Tea is a drink made from leaves of the tea plant. " * 4 + "More."
    with JudgeServer([Reply(loop)], model="m") as server:
        done = run(Brief("Tea.", wanted_images=0), services_for(server.url, tmp_path))[-1]
    assert done.article.to_llmi_text().count("Tea is a drink") == 1 and "More" not in done.article.to_llmi_text()
    assert done.article.guard_note() == REPETITION_NOTE


def test_the_title_shows_while_the_outline_is_still_being_written(tmp_path: Path) -> None:
    slow_outline = Reply(OUTLINE, chunk_chars=4, chunk_delay_s=0.15)  # about 2 s for the headings
    script = [slow_outline, Reply("Tea began in China."), Reply("Tea grows on hills."), Reply("People drink it.")]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(writer_script(script), model="m") as server:
        services = services_for(server.url, tmp_path)
        try:
            events = write_article(brief, services)
            first = next(events)
            requests_then = len(server.requests)
            rest = list(events)
        finally:
            services.close()
    assert isinstance(first, TextDelta) and first.text.startswith("# Tea")
    assert requests_then == 1  # only the outline was asked for: no section had started
    text = rest[-1].article.to_llmi_text()
    assert text.startswith("# Tea\n\n## Origins\n\nTea began in China.") and text.count("# Tea") == 1


def test_an_outline_with_a_title_but_no_headings_goes_on_from_that_title(tmp_path: Path) -> None:
    script = [Reply("# Tea\n\nSorry, no headings."), Reply("Tea began in China.")]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        second = server.requests[1]
    assert second["messages"][-1] == {"role": "assistant", "content": "# Tea\n\n"}
    assert second["continue_final_message"] is True and "grammar" not in second
    assert events[-1].article.to_llmi_text() == "# Tea\n\nTea began in China."


def test_a_section_cut_inside_its_tag_gets_the_rest_of_the_tag_and_the_article_goes_on(tmp_path: Path) -> None:
    script = [
        Reply(OUTLINE),
        Reply("Tea began.\n\n<imgen>{'source': 'code', 'description': 'Bar chart of tea", finish_reason="length"),
        Reply(": China 3, India 1', 'params': {'code': ''}}</imgen>"),
        Reply("Tea grows on hills."),
        Reply("People drink it hot."),
    ]
    brief = Brief("Tea in three sections, with a chart of output.", wanted_images=1)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        rest = [r for r in server.requests if r.get("continue_final_message")][1]
    done = events[-1]
    assert isinstance(done, ArticleDone) and not done.cut_off and done.article.continuations == 1
    assert rest["messages"][-1]["content"].endswith("'description': 'Bar chart of tea") and "grammar" not in rest
    (block,) = done.article.image_blocks()
    assert block.source == "code" and block.description == "Bar chart of tea: China 3, India 1"
    assert done.article.to_llmi_text().rstrip().endswith("## Drinking\n\nPeople drink it hot.")


# --- a section whose first sentence loops: its heading stays, and it is asked for once more ------
FIRST = "Tea began in China long ago."  # six words: repeated once, it is a loop


def test_a_section_whose_first_sentence_loops_keeps_its_heading_and_is_asked_for_once_more(tmp_path: Path) -> None:
    loop = Reply(f"{FIRST} " * 3, chunk_chars=10)
    script = [Reply(OUTLINE), Reply(FIRST), loop, Reply("Tea grows on hills."), Reply("People drink it hot.")]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path, writer_seed=7))
        looped, retry = server.requests[2], server.requests[3]
        assert len(server.requests) == 5
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None
    text = done.article.to_llmi_text().rstrip()  # (an outlined article ends with its last paragraph end)
    assert text == (
        f"# Tea\n\n## Origins\n\n{FIRST}\n\n## Growing\n\nTea grows on hills.\n\n## Drinking\n\nPeople drink it hot."
    )
    # the retry is the same section's request, with another seed (the first one wrote the loop)
    assert retry["messages"] == looped["messages"] and retry["grammar"] == looped["grammar"]
    assert retry["messages"][-1]["content"].endswith("## Growing\n\n")
    assert looped["seed"] == 7 and retry["seed"] == 8
    (removal,) = done.article.removed
    assert removal.kind == "repetition" and removal.reason.endswith(SECTION_RETRIED)
    assert done.article.guard_note() == SECTION_REPETITION_NOTE


def test_the_last_sections_only_sentence_repeating_an_earlier_one_is_asked_for_once_more(tmp_path: Path) -> None:
    # measured (1.5B, bench r8): the last section's one sentence repeated an earlier one and its
    # stream ended there; judged only when the whole stream ended, it left an empty last section
    script = [Reply(OUTLINE), Reply(FIRST), Reply("Tea grows on hills."), Reply(FIRST), Reply("People drink it hot.")]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path, writer_seed=7))
        assert len(server.requests) == 5 and server.requests[4]["seed"] == 8  # the last section, again
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None
    assert done.article.to_llmi_text().rstrip() == (
        f"# Tea\n\n## Origins\n\n{FIRST}\n\n## Growing\n\nTea grows on hills.\n\n## Drinking\n\nPeople drink it hot."
    )
    (removal,) = done.article.removed
    assert removal.reason.endswith(SECTION_RETRIED)


def test_a_section_that_loops_again_on_its_retry_keeps_its_heading_and_the_next_section_follows(
    tmp_path: Path,
) -> None:
    loop = Reply(f"{FIRST} " * 3, chunk_chars=10)
    script = [Reply(OUTLINE), Reply(FIRST), loop, loop, Reply("People drink it hot.")]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        assert len(server.requests) == 5  # one retry only
        assert "'Drinking' (3 of 3)" in server.requests[4]["messages"][-2]["content"]
        assert "seed" not in server.requests[3]  # unseeded: nothing to change
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None
    text = done.article.to_llmi_text().rstrip()  # (an outlined article ends with its last paragraph end)
    # the reader sees the section's heading with nothing under it, then the next section
    assert text == f"# Tea\n\n## Origins\n\n{FIRST}\n\n## Growing\n\n## Drinking\n\nPeople drink it hot."
    assert text.count("\n## ") == 3
    first, second = done.article.removed
    assert first.reason.endswith(SECTION_RETRIED) and second.reason.endswith(SECTION_ENDED)
    assert done.article.guard_note() == SECTION_REPETITION_NOTE


def test_a_loop_in_the_finished_sentence_of_a_section_still_lets_the_next_section_be_written(tmp_path: Path) -> None:
    script = [
        Reply(OUTLINE),
        Reply(f"{FIRST} It spread", finish_reason="length"),
        Reply(f" west. {FIRST} {FIRST}", chunk_chars=10),  # the sentence's rest, then a loop
        Reply("Tea grows on hills."),
        Reply("People drink it hot."),
    ]
    brief = Brief("Tea in three sections.", wanted_images=0)
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(brief, services_for(server.url, tmp_path))
        assert len(server.requests) == 5
        growing = server.requests[3]["messages"][-1]["content"]
    done = events[-1]
    assert isinstance(done, ArticleDone) and done.error is None
    # the loop is not in the next prefill (the kept sentence keeps the space the guard split it at)
    assert growing.endswith(f"{FIRST} It spread west. \n\n## Growing\n\n")
    assert done.article.to_llmi_text().rstrip() == (
        f"# Tea\n\n## Origins\n\n{FIRST} It spread west. \n\n## Growing\n\nTea grows on hills.\n\n"
        "## Drinking\n\nPeople drink it hot."
    )


def test_a_loop_found_only_at_the_next_heading_still_lets_that_section_be_written(tmp_path: Path) -> None:
    # the repeat ends section 1's stream, so the guard judges it only when the next heading comes:
    # measured on the 1.5B model, that section was never asked for and its heading was glued to
    # the text before it ("...their vehicle. ## The Steam-Bicycle"): 5 of 6 sections counted
    looping = "Tea began in China long ago. It spread along the trade roads. Tea began in China long ago."
    script = [Reply(OUTLINE), Reply(looping), Reply("Tea grows on hills."), Reply("People drink it hot.")]
    with JudgeServer(writer_script(script), model="m") as server:
        events = run(Brief("Tea in three sections.", wanted_images=0), services_for(server.url, tmp_path))
        growing = server.requests[2]
        assert len(server.requests) == 4
    text = events[-1].article.to_llmi_text().rstrip().replace(" \n", "\n")  # (a space may end a kept sentence)
    assert text.count("Tea began in China long ago.") == 1
    assert "trade roads.\n\n## Growing\n\nTea grows on hills." in text
    assert text.endswith("\n\n## Drinking\n\nPeople drink it hot.")
    assert growing["messages"][-1]["content"].count("Tea began in China") == 1  # the loop is not prefilled
