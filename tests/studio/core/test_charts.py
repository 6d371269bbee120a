"""ChartCoder: cleaning and compile checks on hand cases; write/repair against real SmolLM2."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from models.base import ChatOptions
from models.openai_compat import OpenAICompatBackend
from studio.core.charts import ChartCoder, clean_code, compile_check
from studio.core.grammar import code_grammar
from tests.llama_server import llama_server  # noqa: F401  (session fixture)

# --- clean_code -----------------------------------------------------------------------------


def test_fenced_block_with_prose_around() -> None:
    text = "Sure! Here is the code:\n\n```python\nx = [1, 2]\nplt.bar(x, x)\n```\n\nThis draws a bar chart."
    assert clean_code(text) == "x = [1, 2]\nplt.bar(x, x)"


def test_first_python_block_wins_and_bare_fence_works() -> None:
    text = "```text\nnot code\n```\n```py\na = 1\n```\n```python\nb = 2\n```"
    assert clean_code(text) == "a = 1"
    assert clean_code("```\nplt.plot([1, 2])\n```") == "plt.plot([1, 2])"


def test_unclosed_fence_from_a_cut_off_answer() -> None:
    text = '```python\nx = [1, 2, 3]\nplt.plot(x)\nplt.title("Cut o'
    assert clean_code(text) == "x = [1, 2, 3]\nplt.plot(x)"


def test_leading_prose_without_fence() -> None:
    text = "Here is the chart code:\nimport numpy as np\nplt.plot(np.arange(3))"
    assert clean_code(text) == "import numpy as np\nplt.plot(np.arange(3))"


def test_show_savefig_close_are_removed() -> None:
    text = (
        "plt.plot([1, 2])\nplt.savefig('out.png', dpi=100)\nfor i in range(2):\n    plt.show()\n"
        "plt.close()  # done\nplt.show()"
    )
    code = clean_code(text)
    assert code == "plt.plot([1, 2])\nfor i in range(2):\n    pass"
    assert compile_check(code) is None


def test_hopeless_text_is_returned_not_raised() -> None:
    out = clean_code("I cannot draw that chart (sorry")
    assert out == "I cannot draw that chart (sorry"
    assert compile_check(out) is not None
    assert clean_code("") == ""


def test_huge_output_is_capped() -> None:
    assert len(clean_code("x = 1\n" * 50_000)) <= 20_000


# --- compile_check ---------------------------------------------------------------------------


def test_compile_check() -> None:
    assert compile_check("x = [1, 2]\nplt.bar(x, x)") is None
    error = compile_check("x = [1, 2\nplt.bar(x x)")
    assert error is not None and error.startswith("SyntaxError:") and "(line " in error
    assert "\n" not in error
    assert compile_check("   \n") == "the chart code is empty"
    assert compile_check("x = 1\x00") is not None
    # Compiling never runs anything.
    assert compile_check("raise SystemExit(3)") is None


# --- ChartCoder with the real SmolLM2 server -------------------------------------------------


@pytest.fixture(scope="module")
def backend(llama_server: str) -> Iterator[OpenAICompatBackend]:  # noqa: F811
    client = OpenAICompatBackend(llama_server, read_timeout_s=120)
    yield client
    client.close()


def test_grammar_is_on_by_default_and_can_be_turned_off(backend: OpenAICompatBackend) -> None:
    assert ChartCoder(backend).options.grammar == code_grammar()
    assert ChartCoder(backend, ChatOptions(max_tokens=5), use_grammar=False).options.grammar is None


def test_messages_carry_description_and_clean_context(backend: OpenAICompatBackend) -> None:
    context = (
        "# Sales report\n\nSales rose. <imgen>{'source': 'search', 'description': 'x', 'params': {'query': 'q'}}"
        "</imgen>  More."
    )
    messages = ChartCoder(backend).messages("Bar chart of sales", context)
    last = messages[-1]["content"]
    assert isinstance(last, str)
    assert "Chart: Bar chart of sales" in last and "Sales rose. [image] More." in last and "<imgen>" not in last
    assert "Sales report Sales rose." in last and "#" not in last  # heading marks ended up in chart titles
    assert messages[0]["role"] == "system" and "plt" in str(messages[0]["content"])


@pytest.mark.parametrize("seed", [0])
def test_write_returns_compiling_code(backend: OpenAICompatBackend, seed: int) -> None:
    coder = ChartCoder(backend, ChatOptions(max_tokens=250, temperature=1.0, seed=seed))
    code = coder.write("Bar chart of bike sales per year: 2020 10, 2021 14, 2022 18", "Bike sales grew fast.")
    assert code.strip() and "```" not in code
    assert compile_check(code) is None, code
    assert "plt.show" not in code and "savefig" not in code


def test_repair_returns_compiling_code(backend: OpenAICompatBackend) -> None:
    coder = ChartCoder(backend, ChatOptions(max_tokens=200, temperature=0.7, seed=5))
    code = coder.repair(
        "plt.bar([1, 2], [3, 4]\n",
        "SyntaxError: '(' was never closed (line 1)",
        "Bar chart of two values",
        "",
    )
    assert code.strip() and "```" not in code
    assert compile_check(code) is None, code


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 9))
def test_write_compiles_over_many_seeds(backend: OpenAICompatBackend, seed: int) -> None:
    coder = ChartCoder(backend, ChatOptions(max_tokens=400, temperature=1.2, seed=seed))
    code = coder.write("Pie chart of transport modes: bike 30, car 50, bus 20", "How people get to work.")
    assert compile_check(code) is None, code
