"""Did anything from our prompts' examples reach an article? An n-gram overlap check.

Every example string the prompts show (studio.core.prompts.example_texts, the chart writer's
worked example studio.core.charts.EXAMPLE_TEXTS) is cut into *phrases* (sentences, quoted
strings, <slot> texts). A phrase is leaked into an output when the output holds one of its word
n-grams (``n`` words in a row, lower-cased, punctuation ignored), or the whole phrase when it is
shorter than ``n`` but at least ``MIN_WORDS`` words. The output is everything the article shows:
its text, every image description, every string param and the chart code's strings. The tag
syntax itself is not output (it is the format, not content).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.chart_checks import chart_labels

N = 4
MIN_WORDS = 3
_WORD = re.compile(r"[a-z0-9]+")
_STRING = re.compile(r"\"([^\"\n]*)\"|'([^'\n]*)'")
_PHRASE_SPLIT = re.compile(r"[.!?\n]+|\\n|<|>|'|\"|\{|\}|\[|\]|\(|\)|:")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def example_phrases(examples: Iterable[str]) -> list[str]:
    """The phrases of the example strings worth checking (>= MIN_WORDS words), without repeats."""
    out: dict[str, None] = {}
    for example in examples:
        for part in _PHRASE_SPLIT.split(example):
            phrase = " ".join(_words(part))
            if len(phrase.split()) >= MIN_WORDS:
                out[phrase] = None
    return list(out)


def _grams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@dataclass(frozen=True)
class LeakReport:
    phrases: int  # example phrases checked
    leaked: tuple[str, ...]  # phrases found in the output
    overlap: float  # share of the examples' n-grams that occur in the output

    def to_dict(self) -> dict[str, object]:
        return {"phrases": self.phrases, "leaked": list(self.leaked), "overlap": round(self.overlap, 4)}


def check_leaks(output: str, examples: Iterable[str], n: int = N) -> LeakReport:
    """Which example phrases occur in ``output`` (see the module docstring)."""
    phrases = example_phrases(examples)
    words = _words(output)
    out_grams = {k: _grams(words, k) for k in range(MIN_WORDS, n + 1)}
    leaked = []
    total = hits = 0
    for phrase in phrases:
        pw = phrase.split()
        k = min(n, len(pw))
        grams = _grams(pw, k)
        found = grams & out_grams[k]
        total += len(grams)
        hits += len(found)
        if found:
            leaked.append(phrase)
    return LeakReport(len(phrases), tuple(leaked), hits / total if total else 0.0)


def article_output_text(article: Article) -> str:
    """Everything an article shows a reader: text, descriptions, string params, chart strings."""
    parts: list[str] = []
    for block in article.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
            continue
        assert isinstance(block, ImageBlock)
        parts.append(block.description)
        for key, value in block.params.items():
            if key == "code" and isinstance(value, str):
                parts += chart_labels(value)
                parts += [a or b for a, b in _STRING.findall(value)]
            elif isinstance(value, str):
                parts.append(value)
    return "\n".join(parts)


def prompt_examples() -> list[str]:
    """Every example string the writer and the chart writer are shown."""
    from studio.core.charts import EXAMPLE_TEXTS
    from studio.core.prompts import example_texts

    return [*example_texts(), *EXAMPLE_TEXTS]
