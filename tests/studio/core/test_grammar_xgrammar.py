"""Our GBNF grammars under xgrammar, the structured-output engine vLLM uses for
``structured_outputs.grammar``: every grammar the studio can produce parses (and, in the slow
suite, compiles), and compiled grammars accept valid articles and reject wrong ones."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator

import pytest

from studio.core.grammar import article_grammar, code_grammar
from studio.core.protocol import ToolCall, find_tags
from tools.params import SOURCES

xgr = pytest.importorskip("xgrammar")

STOP = 256  # a byte-level vocabulary plus one stop token: every string is spellable


@functools.cache
def compiler() -> object:
    vocab = [bytes([i]) for i in range(256)] + [b"</s>"]
    info = xgr.TokenizerInfo(vocab, vocab_size=len(vocab), stop_token_ids=[STOP])
    return xgr.GrammarCompiler(info, max_threads=1)


def every_grammar() -> Iterator[tuple[str, str]]:
    """(label, GBNF) for every shape chat_options / ChartCoder can ask for."""
    yield "code", code_grammar()
    for size in range(len(SOURCES) + 1):
        for available in itertools.combinations(SOURCES, size):
            for two_phase in (True, False):
                for low, high in ((0, 0), (0, 1), (1, 1), (1, 4), (4, 4), (0, 8)):
                    for users in (0, 1, 3):
                        try:
                            grammar = article_grammar(
                                list(available),
                                min_images=low,
                                max_images=high,
                                user_image_count=users,
                                two_phase_code=two_phase,
                            )
                        except ValueError:
                            continue  # e.g. edit only, no earlier image: chat_options falls back to 0
                        yield f"{'+'.join(available) or 'none'} {low}-{high} u{users} tp{int(two_phase)}", grammar
    # the picture kinds a brief names (chat_options passes all four sources, as many as fit)
    for required in (["code"], ["search"], ["code", "search"], ["code", "search", "diffusion"]):
        for low, high in ((1, 1), (1, 3), (3, 3), (1, 8)):
            if len(required) <= high:
                grammar = article_grammar(list(SOURCES), min_images=low, max_images=high, required=required)
                yield f"required {'+'.join(required)} {low}-{high}", grammar
    # an edit of the user's image the brief asks for (studio.core.brief_plan), with a chart or not
    for required in (["edit"], ["edit", "code"]):
        for users in (1, 3):
            grammar = article_grammar(
                list(SOURCES), min_images=2, max_images=3, user_image_count=users, required=required
            )
            yield f"required {'+'.join(required)} u{users}", grammar


def accepts(grammar: str, text: str) -> bool:
    matcher = xgr.GrammarMatcher(compiler().compile_grammar(grammar))  # type: ignore[attr-defined]
    return bool(matcher.accept_string(text) and matcher.accept_token(STOP) and matcher.is_terminated())


def test_every_grammar_we_produce_parses() -> None:
    grammars = dict(every_grammar())
    assert len(grammars) > 250
    for label, grammar in grammars.items():
        try:
            xgr.Grammar.from_ebnf(grammar)
        except Exception as exc:  # noqa: BLE001 - report which grammar
            pytest.fail(f"xgrammar rejects the {label} grammar: {exc}")


@pytest.mark.slow
def test_every_grammar_we_produce_compiles() -> None:
    for label, grammar in every_grammar():
        assert compiler().compile_grammar(grammar) is not None, label  # type: ignore[attr-defined]


ALL = list(SOURCES)
TAGS = {
    "search": "<imgen>{'source': 'search', 'description': 'a bee', 'params': {'query': 'honey bee macro'}}</imgen>",
    "diffusion": "<imgen>{'source': 'diffusion', 'description': 'a hive', "
    "'params': {'prompt': 'a hive, watercolor'}}</imgen>",
    "code": "<imgen>{'source': 'code', 'description': 'Bar chart of hive weights', 'params': {'code': ''}}</imgen>",
    "edit": "<imgen>{'source': 'edit', 'description': 'at night', "
    "'params': {'img_index': 0, 'prompt': 'make it night'}}</imgen>",
}


def article(*tags: str) -> str:
    parts = ["# Bees", "Bees dance to share where the flowers are."]
    for tag in tags:
        parts += [tag, "More text after the picture."]
    return "\n\n".join(parts)


@pytest.mark.parametrize("sources", [("search",), ("diffusion", "edit"), ("code",), ("search", "code", "diffusion")])
def test_valid_articles_are_accepted_and_parse(sources: tuple[str, ...]) -> None:
    grammar = article_grammar(ALL, min_images=1, max_images=4)
    text = article(*(TAGS[s] for s in sources))
    assert accepts(grammar, text), text
    calls = find_tags(text)
    assert all(isinstance(c, ToolCall) for c in calls), calls
    assert [c.source for c in calls] == list(sources)


@pytest.mark.parametrize(
    ("why", "text"),
    [
        ("no title", "Bees dance.\n\n" + TAGS["search"]),
        ("an unknown source", article(TAGS["search"].replace("'search'", "'web'", 1))),
        ("an edit with nothing before it", article(TAGS["edit"])),
        ("an edit index past the images so far", article(TAGS["search"], TAGS["edit"].replace("0,", "1,"))),
        ("code written inside a two-phase tag", article(TAGS["code"].replace("''", "'plt.plot([1])'"))),
        ("too many pictures", article(*[TAGS["search"]] * 5)),
        ("no picture at all", article()),
        ("a tag inside a paragraph", "# Bees\n\nBees " + TAGS["search"] + " dance."),
        ("a stray tag opening in the text", article(TAGS["search"]) + "\n\nSee <imgen> above."),
        ("a double-quoted key", article(TAGS["search"].replace("'query'", '"query"'))),
    ],
)
def test_wrong_articles_are_rejected(why: str, text: str) -> None:
    assert not accepts(article_grammar(ALL, min_images=1, max_images=4), text), why


def test_only_offered_sources_are_accepted() -> None:
    charts_only = article_grammar(["code"], min_images=1, max_images=2)
    assert accepts(charts_only, article(TAGS["code"]))
    assert not accepts(charts_only, article(TAGS["search"]))


def test_required_sources_must_each_appear() -> None:
    grammar = article_grammar(ALL, min_images=1, max_images=3, required=["code", "search"])
    assert accepts(grammar, article(TAGS["search"], TAGS["code"]))
    assert accepts(grammar, article(TAGS["code"], TAGS["diffusion"], TAGS["search"]))
    assert not accepts(grammar, article(TAGS["code"]))  # the photo is missing
    assert not accepts(grammar, article(TAGS["code"], TAGS["diffusion"], TAGS["diffusion"]))
    assert not accepts(grammar, article(TAGS["diffusion"], TAGS["diffusion"], TAGS["search"]))


def test_an_edit_the_brief_asks_for_must_appear() -> None:
    grammar = article_grammar(ALL, min_images=1, max_images=2, user_image_count=1, required=["edit"])
    assert accepts(grammar, article(TAGS["edit"]))
    assert accepts(grammar, article(TAGS["search"], TAGS["edit"]))
    assert not accepts(grammar, article(TAGS["search"]))  # the change to the user's photo is missing
    assert not accepts(grammar, article(TAGS["search"], TAGS["diffusion"]))


def test_one_pass_code_grammar_accepts_code_in_the_tag() -> None:
    code = "import matplotlib.pyplot as plt\nplt.bar([1, 2], [3, 4])"
    tag = f"<imgen>{{'source': 'code', 'description': 'Bars', 'params': {{'code': '{code}'}}}}</imgen>"
    one_pass = article_grammar(["code"], min_images=1, max_images=1, two_phase_code=False)
    assert accepts(one_pass, article(tag))
    assert not accepts(one_pass, article(tag.replace("plt.bar", "plt.bar('x')")))  # a quote would close the string


def test_code_grammar_accepts_a_chart_and_rejects_other_code() -> None:
    grammar = code_grammar()
    chart = '```python\nyears = [2015, 2019, 2023]\nplt.bar(years, [4.1, 4.9, 6.5])\nplt.title("Distance")\n```'
    assert accepts(grammar, chart)
    assert not accepts(grammar, "```python\nimport requests\n```")  # only plotting and maths modules
    assert not accepts(grammar, "plt.bar([1], [2])")  # no fence
