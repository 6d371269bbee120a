"""GBNF grammars: rule text, and real llama.cpp (SmolLM2-135M) writing under them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from models.base import ChatOptions, complete
from models.errors import ModelError
from models.openai_compat import OpenAICompatBackend
from studio.core.grammar import article_grammar, code_grammar
from studio.core.prompts import system_prompt, user_prompt
from studio.core.protocol import ToolCall, find_tags
from tests.llama_server import llama_server  # noqa: F401  (session fixture)

ALL = ["search", "diffusion", "code", "edit"]


@pytest.fixture(scope="module")
def backend(llama_server: str) -> Iterator[OpenAICompatBackend]:  # noqa: F811
    client = OpenAICompatBackend(llama_server, read_timeout_s=120)
    yield client
    client.close()


def _write(backend: OpenAICompatBackend, available: list[str], grammar: str, seed: int, *, user_images: int = 0) -> str:
    system = system_prompt({s: None for s in available}, max_images=3, compact=True)
    user = user_prompt("Write a short article about bicycles.", wanted_images=None, user_image_count=user_images)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    # Above the longest article these grammars admit (about 3,000 characters), so the token limit
    # never cuts a tag (seed 4 once ran out at 700 tokens mid-query: the limit's fault, not the grammar's).
    options = ChatOptions(max_tokens=1500, temperature=1.0, seed=seed, grammar=grammar)
    return complete(backend, messages, options)  # type: ignore[arg-type]


# --- rule text ------------------------------------------------------------------------------


def test_only_available_sources_have_rules() -> None:
    text = article_grammar(["search", "code"], min_images=1, max_images=3)
    assert "'source': 'search'" in text and "'source': 'code'" in text
    assert "diffusion" not in text and "edit" not in text and "img_index" not in text


def test_two_phase_code_tag_has_empty_code() -> None:
    assert "'params': {'code': ''}}</imgen>\"" in article_grammar(["code"], min_images=1, max_images=1)
    one_pass = article_grammar(["code"], min_images=1, max_images=1, two_phase_code=False)
    assert "{'code': ''}" not in one_pass and "code-body" in one_pass


def test_edit_indices_are_enumerated_per_position() -> None:
    text = article_grammar(["search", "edit"], min_images=0, max_images=3)
    rules = dict(line.split(" ::= ", 1) for line in text.strip().split("\n"))
    assert "tag-edit0" not in rules and "tag-edit0" not in rules["tag0"]  # nothing to edit yet
    assert re.findall(r'"(\d+)"', rules["tag-edit1"]) == ["0"]
    assert re.findall(r'"(\d+)"', rules["tag-edit2"]) == ["0", "1"]
    with_user = dict(
        line.split(" ::= ", 1)
        for line in article_grammar(["edit"], min_images=1, max_images=2, user_image_count=2).strip().split("\n")
    )
    assert re.findall(r'"(\d+)"', with_user["tag-edit0"]) == ["0", "1"]
    assert re.findall(r'"(\d+)"', with_user["tag-edit1"]) == ["0", "1", "2"]


def test_impossible_requests_are_errors() -> None:
    with pytest.raises(ValueError, match="edit needs an earlier image"):
        article_grammar(["edit"], min_images=1, max_images=2)
    with pytest.raises(ValueError, match="min_images"):
        article_grammar(["search"], min_images=3, max_images=2)
    with pytest.raises(ValueError, match="unknown tool source"):
        article_grammar(["video"], min_images=0, max_images=1)
    with pytest.raises(ValueError):
        article_grammar([], min_images=1, max_images=1)


def test_no_sources_means_text_only() -> None:
    text = article_grammar([], min_images=0, max_images=3)
    assert "imgen" not in text and 'seq0 ::= ""' in text


def test_a_required_source_must_be_used_once() -> None:
    text = article_grammar(ALL, min_images=1, max_images=2, required=["code"])
    rules = dict(line.split(" ::= ", 1) for line in text.splitlines())
    assert rules["root"].endswith("seq0-c") and "seq0" not in rules
    # no code tag yet: any other tag keeps waiting, a code tag moves on to the usual state; the
    # last position can only be the code tag (so the article cannot end without one)
    assert (
        rules["seq0-c"]
        == '"\\n\\n" ( tag-search | tag-diffusion ) "\\n\\n" gap seq1-c | "\\n\\n" tag-code "\\n\\n" gap seq1'
    )
    assert rules["seq1-c"] == '"\\n\\n" tag-code "\\n\\n" gap seq2'
    with pytest.raises(ValueError, match="no tag position can use 'code'"):
        article_grammar(["search"], min_images=1, max_images=2, required=["code"])


def test_two_required_sources_need_a_tag_each() -> None:
    rules = dict(
        line.split(" ::= ", 1)
        for line in article_grammar(ALL, min_images=2, max_images=2, required=["code", "search"]).splitlines()
    )
    # two positions for two required sources: the first tag is one of them, the second the other
    assert rules["seq0-cs"] == ('"\\n\\n" tag-search "\\n\\n" gap seq1-c | "\\n\\n" tag-code "\\n\\n" gap seq1-s')
    assert rules["seq1-c"] == '"\\n\\n" tag-code "\\n\\n" gap seq2'
    assert rules["seq1-s"] == '"\\n\\n" tag-search "\\n\\n" gap seq2'
    with pytest.raises(ValueError, match="2 required sources need 2 tags; at most 1"):
        article_grammar(ALL, min_images=1, max_images=1, required=["code", "search"])


def test_sentences_end_every_paragraph() -> None:
    rules = dict(line.split(" ::= ", 1) for line in article_grammar(ALL, min_images=0, max_images=1).splitlines())
    assert rules["para"] == "heading | sent1 sentn{0,6}"  # 700 characters: at most 7 sentences
    assert rules["sent1"].endswith(" end") and rules["sentn"].endswith(" end")
    assert rules["end"].startswith("[.!?:]")


# --- real llama.cpp ----------------------------------------------------------------------


def test_llama_cpp_rejects_a_bad_grammar(backend: OpenAICompatBackend) -> None:
    # The acceptance checks below mean something only if a broken grammar is an error.
    with pytest.raises(ModelError):
        complete(backend, [{"role": "user", "content": "hi"}], ChatOptions(max_tokens=2, grammar='root ::= "a" [b'))


@pytest.mark.parametrize(
    "grammar",
    [
        article_grammar(ALL, min_images=1, max_images=4, user_image_count=1, two_phase_code=False),
        article_grammar(ALL, min_images=0, max_images=6),
        article_grammar(ALL, min_images=1, max_images=3, required=["code", "search"]),
        code_grammar(),
    ],
    ids=["one-pass", "two-phase", "a-chart-and-a-photo-required", "code"],
)
def test_llama_cpp_accepts_our_grammars(backend: OpenAICompatBackend, grammar: str) -> None:
    out = complete(backend, [{"role": "user", "content": "hi"}], ChatOptions(max_tokens=3, grammar=grammar))
    assert out


def _check_article(text: str, available: list[str], lo: int, hi: int, user_images: int = 0) -> list[ToolCall]:
    tags = find_tags(text, user_image_count=user_images)
    assert all(isinstance(t, ToolCall) for t in tags), [t for t in tags if not isinstance(t, ToolCall)]
    assert lo <= len(tags) <= hi, text
    assert {t.source for t in tags} <= set(available)  # type: ignore[union-attr]
    assert text.startswith("# ") and "```" not in text
    # Outside the tags there is no '<' at all (no stray or half tags, no HTML).
    assert "<" not in re.sub(r"<imgen>.*?</imgen>", "", text, flags=re.DOTALL)
    return tags  # type: ignore[return-value]


@pytest.mark.parametrize("seed", [1, 2])
def test_small_model_writes_only_valid_tags(backend: OpenAICompatBackend, seed: int) -> None:
    available = ["search", "code", "diffusion"]
    grammar = article_grammar(available, min_images=1, max_images=2, max_paragraph_chars=120)
    tags = _check_article(_write(backend, available, grammar, seed), available, 1, 2)
    for tag in tags:
        if tag.source == "code":
            assert tag.params_dict() == {"code": ""}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_required_chart_and_photo_are_always_written(backend: OpenAICompatBackend, seed: int) -> None:
    grammar = article_grammar(ALL, min_images=1, max_images=3, max_paragraph_chars=120, required=["code", "search"])
    tags = _check_article(_write(backend, ALL, grammar, seed), ALL, 2, 3)
    assert {"code", "search"} <= {t.source for t in tags}


def test_edit_positions_with_small_model(backend: OpenAICompatBackend) -> None:
    # Edit only, one user image: tag 0 may edit image 0, tag 1 images 0..1 (found valid by the
    # parser with the same position rule).
    grammar = article_grammar(["edit"], min_images=2, max_images=2, user_image_count=1, max_paragraph_chars=80)
    tags = _check_article(_write(backend, ["edit"], grammar, 3, user_images=1), ["edit"], 2, 2, user_images=1)
    assert tags[0].params_dict()["img_index"] == 0


@pytest.mark.slow
def test_search_before_edit_when_no_user_images(backend: OpenAICompatBackend) -> None:
    grammar = article_grammar(["search", "edit"], min_images=2, max_images=2, max_paragraph_chars=80)
    tags = _check_article(_write(backend, ["search", "edit"], grammar, 4), ["search", "edit"], 2, 2)
    assert tags[0].source == "search"


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 9))
def test_small_model_all_tools_many_seeds(backend: OpenAICompatBackend, seed: int) -> None:
    grammar = article_grammar(ALL, min_images=2, max_images=3, max_paragraph_chars=200)
    _check_article(_write(backend, ALL, grammar, seed), ALL, 2, 3)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_small_model_one_pass_code_tags_parse(backend: OpenAICompatBackend, seed: int) -> None:
    grammar = article_grammar(["code"], min_images=1, max_images=1, max_paragraph_chars=120, two_phase_code=False)
    system = system_prompt({"code": None}, max_images=1, compact=True, two_phase_code=False)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Write about bike sales."}]
    text = complete(backend, messages, ChatOptions(max_tokens=900, temperature=1.0, seed=seed, grammar=grammar))  # type: ignore[arg-type]
    _check_article(text, ["code"], 1, 1)


def test_code_grammar_admits_only_plotting_imports(backend: OpenAICompatBackend) -> None:
    asked = (
        "Reply with exactly this code:\n```python\nimport requests\nfrom PIL import Image\nimport os\n"
        "import requests\nimport requests\nplt.plot([1, 2])\n```"
    )
    options = ChatOptions(max_tokens=120, temperature=0.0, seed=1, grammar=code_grammar())
    out = complete(backend, [{"role": "user", "content": asked}], options)  # type: ignore[arg-type]
    lines = [line.strip() for line in out.splitlines()]
    imports = [line for line in lines if line.startswith(("import ", "from "))]
    allowed = {"matplotlib", "mpl_toolkits", "numpy", "pandas", "seaborn", "math", "random", "datetime"}
    for line in imports:
        assert line.split()[1].split(".")[0] in allowed, line
