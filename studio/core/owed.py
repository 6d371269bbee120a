"""Pictures the brief asks for that the model has not written yet, written after its prose.

The repetition guard stops a model that loops, and the article ends at its last full sentence.
Before this module, a loop before the first tag ended the article with none of the pictures the
brief asks for ("with one chart": no chart), and only the guard's note said why; SmolLM2 did so in
the browser test, and the 1.5B model in the shipped briefs.

Now, where the backend takes a grammar, the pictures still owed (the brief's count, and each kind
it names) are asked for in one more request: the article so far as the model's unfinished answer,
under a grammar that admits exactly the owed tags, each followed by a short paragraph. An outlined
article (studio.core.outline) asks for them after its last section, for the same reason.

Without a grammar nothing can make the model write a tag, so nothing is asked: the guard's note
stays the honest account.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from models.base import ChatBackend, ChatOptions, FinishStream, Message
from studio.core.agent import Brief, WriterServices, continuation_messages, continuation_options, picture_range
from studio.core.article import OWED_PICTURES, Article
from studio.core.grammar import article_grammar
from tools.params import SOURCES

OWED_TAG_TOKENS = 110  # one tag (a 120-character caption and its params)
OWED_PARAGRAPH_TOKENS = 120  # the short paragraph after each owed tag


@dataclass(frozen=True)
class Owed:
    """The tags still owed: how many, and the sources the brief names that none has used yet."""

    count: int
    missing: tuple[str, ...]


def owed_pictures(article: Article, least: int, most: int, required: tuple[str, ...]) -> Owed | None:
    """What the article still owes of ``least``..``most`` tags using each of ``required`` once
    (None: nothing). A tag the studio re-routed counts with its final source."""
    written = article.image_blocks()
    done = {b.source for b in written}
    missing = tuple(s for s in dict.fromkeys(required) if s not in done)
    count = min(max(least - len(written), len(missing)), most - len(written))
    return Owed(count, missing[:count]) if count > 0 else None


def owed_grammar(owed: Owed, *, user_image_count: int, max_paragraph_chars: int, two_phase_code: bool) -> str | None:
    """GBNF for exactly ``owed.count`` tags (using the missing sources), back to back, then a
    short paragraph; None when no such tags can stand here (an edit with nothing to edit). The
    tags come first: a model that loops in a paragraph between them lost the second (measured)."""
    try:
        gbnf = article_grammar(
            SOURCES,
            min_images=owed.count,
            max_images=owed.count,
            user_image_count=user_image_count,
            max_paragraph_chars=max_paragraph_chars,
            two_phase_code=two_phase_code,
            required=owed.missing,
        )
    except ValueError:
        return None
    lines = []
    for line in gbnf.splitlines():
        name, _, body = line.partition(" ::= ")
        if name == "root":  # the title and the paragraphs before the first tag were written already
            body = body.replace('title "\\n\\n" gap ', "", 1) + ' "\\n\\n" gap'
        elif name.startswith("seq"):
            body = body.replace('"\\n\\n" gap ', "")
        elif name == "para":  # no heading after a picture: the article's prose ended at the loop
            body = body.replace("heading | ", "", 1)
        elif name in ("title", "heading"):
            continue
        lines.append(f"{name} ::= {body}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class OwedWriter:
    """What asking for the owed pictures needs: the backend, the writer's messages and options,
    the range and kinds the brief asks for, and the settings that shape a grammar."""

    backend: ChatBackend
    messages: list[Message]
    options: ChatOptions
    least: int
    most: int
    required: tuple[str, ...]
    use_grammar: bool
    user_image_count: int = 0
    max_paragraph_chars: int = 700
    two_phase_code: bool = True

    def requested(self, article: Article) -> tuple[list[Message], ChatOptions] | None:
        """The request for the owed tags after the article so far (None: none owed, or no grammar
        to make the model write them)."""
        owed = owed_pictures(article, self.least, self.most, self.required)
        if owed is None or not self.use_grammar:
            return None
        written = len(article.image_blocks())
        grammar = owed_grammar(
            owed,
            user_image_count=self.user_image_count + written,
            max_paragraph_chars=self.max_paragraph_chars,
            two_phase_code=self.two_phase_code,
        )
        if grammar is None:
            return None
        tokens = owed.count * (OWED_TAG_TOKENS + OWED_PARAGRAPH_TOKENS)
        options = dataclasses.replace(self.options, max_tokens=tokens, grammar=grammar, stop=())
        so_far = article.to_llmi_text().rstrip()
        return continuation_messages(self.messages, so_far), continuation_options(options)

    def request(self, article: Article) -> Iterator[str] | None:
        """The stream of that request (None where there is none)."""
        requested = self.requested(article)
        return None if requested is None else iter(self.backend.stream(*requested))


def owed_writer(brief: Brief, services: WriterServices, messages: list[Message], options: ChatOptions) -> OwedWriter:
    """The owed-pictures writer of one article: the writer's messages and options as sent."""
    least, most, required = picture_range(brief.plan, services)
    return OwedWriter(
        services.backend,
        messages,
        options,
        least,
        most,
        required,
        use_grammar=services.uses_grammar,
        user_image_count=brief.plan.user_images,
        max_paragraph_chars=services.limits.max_paragraph_chars,
        two_phase_code=services.two_phase_code,
    )


class RedirectableChunks:
    """One request's chunks, which a loop may redirect once to the pictures still owed
    (``skip_section``, as the engine calls it on an outlined article). Its StopIteration carries
    the finish reason of the stream it is reading."""

    redirect_note = OWED_PICTURES

    def __init__(self, chunks: FinishStream | Iterator[str], owed: Callable[[], Iterator[str] | None]) -> None:
        self._chunks: Iterator[str] = iter(chunks)
        self._owed = owed
        self.redirected = False

    def __iter__(self) -> RedirectableChunks:
        return self

    def __next__(self) -> str:
        return next(self._chunks)

    def skip_section(self) -> bool:
        if self.redirected:
            return False
        rest = self._owed()
        if rest is None:
            return False
        self.close()
        self._chunks, self.redirected = rest, True
        return True

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if callable(close):
            close()
