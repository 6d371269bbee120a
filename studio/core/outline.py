"""Outline-first writing for long briefs: the headings first, then the article section by section.

A brief that asks for N sections (steps, items) gets N. Measured on the embedded 1.5B model: an
"eight sections" history stopped after four, one of them repeating itself, when the whole article
was one request. Here the writer:

1. asks the model for the outline alone: a ``# `` title and exactly N ``## `` headings (under
   ``outline_grammar`` where the backend takes a grammar; parsed leniently where it does not);
2. writes each section as its own request, the article so far prefilled as the model's unfinished
   answer (as ``continue_article`` does), within an even share of the token budget, under a section
   grammar (paragraphs and image tags, no headings) and with the next heading as a stop string;
3. finishes a sentence that a section's token share cut off with one short continuation under a
   grammar that admits only the rest of that sentence.

The images the brief wants are spread over the sections (each section's grammar admits exactly the
tags that fall due in it, so the article's count is the one asked for), and the picture kinds the
brief names are required in the first sections that hold a tag.

A section that loops keeps its heading (it is the outline's, not the model's: the guard gives it
back); one whose first sentence looped, so nothing of it was kept, is asked for once more.

Pictures still owed after the last section (a section that looped ended before its tag) are
asked for once more (studio.core.owed).

Everything here is chunks: the engine turns them into the one typed event stream (a heading is
text), so the UI, the store and the guards see an outlined article as any other.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass

from models.base import FINISH_LENGTH, ChatBackend, ChatOptions, FinishStream, Message
from studio.core.agent import (
    Brief,
    WriterServices,
    continuation_messages,
    continuation_options,
    picture_range,
    tee,
)
from studio.core.article import REPETITION, SECTION_ENDED, SECTION_RETRIED, Article
from studio.core.brief_plan import BriefPlan
from studio.core.grammar import TITLE_MAX, article_grammar
from studio.core.owed import owed_writer
from studio.core.protocol import CLOSE, OPEN
from tools.params import SOURCES

HEADING_MAX = 80  # characters of one outline heading
OUTLINE_TOKENS_PER_SECTION = 24  # the outline request's budget: a title and N short headings
SECTION_MIN_TOKENS = 96  # a section's share of the budget never goes below this
TAG_TOKENS = 110  # one image tag (a 120-character caption and its params) in a section's budget
SENTENCE_TAIL_TOKENS = 60  # the continuation that finishes a sentence a section's share cut off
SENTENCE_TAIL_MAX = 300  # characters of that rest of a sentence


@dataclass(frozen=True)
class Outline:
    title: str
    headings: tuple[str, ...]

    def to_text(self) -> str:
        return "\n".join([f"# {self.title}", *(f"## {h}" for h in self.headings)])


@dataclass(frozen=True)
class SectionImages:
    """How many image tags the whole article holds (the writer's wanted count made a range)."""

    least: int
    most: int
    required: tuple[str, ...] = ()  # sources the brief names a picture for (one tag each at least)

    def due(self, section: int, sections: int, written: int) -> tuple[int, int]:
        """(min, max) tags for 0-based ``section`` of ``sections``, ``written`` tags already
        written: the tags fall due evenly, rounded up, so the first picture comes early."""
        least = max(0, math.ceil((section + 1) * self.least / sections) - written)
        most = max(least, math.ceil((section + 1) * self.most / sections) - written)
        return least, most


# --- the outline -----------------------------------------------------------------------------
def outline_grammar(sections: int) -> str:
    """GBNF: a ``# `` title line, a blank line, then exactly ``sections`` ``## `` heading lines."""
    if sections < 1:
        raise ValueError("an outline needs at least one section")
    rules = {
        "root": f'"# " title "\\n\\n" item{{{sections}}}',
        "item": '"## " head "\\n"',
        "title": f"[^\\n<#`*[ ] [^\\n<`[]{{0,{TITLE_MAX - 1}}}",
        "head": f"[^\\n<#`*[ ] [^\\n<`[]{{0,{HEADING_MAX - 1}}}",
    }
    return "\n".join(f"{name} ::= {body}" for name, body in rules.items()) + "\n"


def outline_messages(brief: str, sections: int, language: str = "") -> list[Message]:
    """The outline request: the brief, and the shape of the answer (no image rules: no tags here)."""
    tongue = f"Write the title and headings in {language}." if language else "Write them in the brief's language."
    system = (
        "You plan articles. Answer with the outline only: the article's title on a line starting with '# ', "
        f"then exactly {sections} section headings, one per line, each starting with '## '. A heading is a "
        f"few words naming one part of the article; the parts come in the article's order. {tongue}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": brief.strip()}]


_NUMBERED = re.compile(r"^\s*(?:#{2,3}\s+|\d{1,2}[.)]\s+|[-*]\s+)(.+)$")


def parse_outline(text: str, sections: int) -> Outline:
    """The title and at most ``sections`` headings of an outline answer. Lenient for a model that
    wrote without the grammar: ``## h``, ``1. h`` and ``- h`` lines are headings; an answer with
    fewer headings keeps those it has (the harness reports the section count it got)."""
    title, headings = "", list[str]()
    for line in text.splitlines():
        stripped = line.strip()
        if not title and stripped.startswith("# "):
            title = stripped[2:].strip()
            continue
        found = _NUMBERED.match(stripped)
        if found and len(headings) < sections:
            heading = " ".join(found.group(1).replace("<", " ").replace("`", " ").split()).strip("#* ")
            if heading:
                headings.append(heading[:HEADING_MAX])
    return Outline(title[:TITLE_MAX] or (headings[0] if headings else ""), tuple(headings))


# --- the sections ----------------------------------------------------------------------------
def _rules(gbnf: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in gbnf.splitlines():
        name, _, body = line.partition(" ::= ")
        if body:
            out[name] = body
    return out


def section_grammar(
    images: tuple[int, int],
    *,
    user_image_count: int,
    max_paragraph_chars: int,
    two_phase_code: bool,
    required: Sequence[str] = (),
) -> str:
    """GBNF for one section's body: the article grammar's paragraphs and tags, less its title and
    its headings (the outline gave them). ``user_image_count``: the user's images plus the tags
    written in earlier sections, so an edit may point at any of them."""
    least, most = images
    last_error: ValueError | None = None
    for floor in dict.fromkeys((least, 0)):  # 0: e.g. an edit with nothing to edit yet
        try:
            gbnf = article_grammar(
                SOURCES,
                min_images=floor,
                max_images=most,
                user_image_count=user_image_count,
                max_paragraph_chars=max_paragraph_chars,
                two_phase_code=two_phase_code,
                required=required[:floor] if floor else (),
            )
            break
        except ValueError as exc:
            last_error = exc
    else:
        raise ValueError(f"no section grammar fits: {last_error}")
    rules = _rules(gbnf)
    rules["root"] = rules["root"].replace('title "\\n\\n" ', "", 1)
    if floor:  # a tag is due: one sentence leads to it, so the section's share cannot run out first
        rules["root"] = rules["root"].replace("gap ", "sent1 ", 1)
    rules["para"] = rules["para"].replace("heading | ", "", 1)
    for unused in ("title", "heading"):
        rules.pop(unused, None)
    return "\n".join(f"{name} ::= {body}" for name, body in rules.items()) + "\n"


def sentence_tail_grammar() -> str:
    """The rest of one sentence and its end: what finishes a section its token share cut off."""
    return f"root ::= [^\\n<`[.!?:]{{0,{SENTENCE_TAIL_MAX}}} [.!?:]{{1,3}}\n"


def section_messages(messages: list[Message], outline: Outline, index: int, so_far: str) -> list[Message]:
    """The writer's messages with the outline and which section comes now added to the user
    message, and the article so far (ending in this section's heading) as the unfinished answer."""
    user = messages[-1]
    note = (
        f"Follow this outline:\n{outline.to_text()}\n\n"
        f"Now write only the section '{outline.headings[index]}' ({index + 1} of {len(outline.headings)}), "
        "without headings."
    )
    content = user["content"]
    added: Message = {
        "role": "user",
        "content": f"{content}\n\n{note}" if isinstance(content, str) else [*content, {"type": "text", "text": note}],
    }
    return [*messages[:-1], added, {"role": "assistant", "content": so_far}]


_ENDS = tuple(".!?…:;\"'”’)»]}。！？；：」』）")
_SOURCE = re.compile(r"'source':\s*'(\w+)'")


def _open_tag(text: str) -> bool:
    return text.rfind(OPEN) > text.rfind(CLOSE)


def _mid_sentence(text: str) -> bool:
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    return bool(last) and not text.endswith("\n") and not last.endswith(_ENDS)


@dataclass(frozen=True)
class SectionWriter:
    """What writing the sections needs: the backend, the writer's messages and options (grammar
    or not), the images, and the settings that shape a grammar."""

    backend: ChatBackend
    messages: list[Message]
    options: ChatOptions
    images: SectionImages
    use_grammar: bool
    user_image_count: int = 0
    max_paragraph_chars: int = 700
    two_phase_code: bool = True
    continuations: int = 1  # 0: a section cut off by its share is not finished
    language: str = ""

    def outline(self, brief: str, sections: int) -> Generator[str, None, tuple[Outline, str]]:
        """Ask for the outline; its title line is yielded as soon as it is written (the page shows
        it while the headings come). Returns the outline as read (``parse_outline``) and what was
        yielded ("" when the answer did not start with a title)."""
        grammar = outline_grammar(sections) if self.use_grammar else None
        tokens = OUTLINE_TOKENS_PER_SECTION * (sections + 2)
        options = dataclasses.replace(self.options, max_tokens=tokens, grammar=grammar, stop=())
        stream = iter(self.backend.stream(outline_messages(brief, sections, self.language), options))
        text, shown, looked = "", "", False
        try:
            for chunk in stream:
                text += chunk
                if not looked and "\n" in text:
                    looked = True
                    first = text.split("\n", 1)[0].strip()
                    if first.startswith("# ") and first[2:].strip():
                        shown = f"# {parse_outline(first, sections).title}\n\n"
                        yield shown
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
        return parse_outline(text, sections), shown

    def section_tokens(self, sections: int, tags: int = 0) -> int:
        """A section's share of the budget for its text, plus TAG_TOKENS per tag that may fall in
        it (a share alone ran out mid-tag on SmolLM2: 600 tokens over six sections)."""
        spent = OUTLINE_TOKENS_PER_SECTION * (sections + 2) + TAG_TOKENS * self.images.most
        text = max(SECTION_MIN_TOKENS, (self.options.max_tokens - spent) // max(1, sections))
        return text + TAG_TOKENS * tags

    def stream(
        self, outline: Outline, article: Article, control: SectionChunks, *, title_shown: bool = False
    ) -> FinishStream:
        """The article's chunks: title, then each heading and its section. Returns the last
        finish reason (FINISH_LENGTH when the article ends cut off); each sentence finished after
        a section's share ran out counts in ``article.continuations``. A section the engine asks
        to skip (``control.skip_section``: it began to loop) ends there; the next one begins."""
        so_far = f"# {outline.title}\n\n"
        if not title_shown:
            yield so_far
        sections = len(outline.headings)
        finish: str | None = None
        for index, heading in enumerate(outline.headings):
            if index:
                gap = _gap(so_far)
                yield gap
                so_far += gap + f"## {heading}\n\n"
            else:
                so_far += f"## {heading}\n\n"
            yield f"## {heading}\n\n"
            if control.skipping:  # the last sentence before this heading looped (judged only now):
                # that loop ended the section before; this one is still written, after what was kept
                so_far = _kept(article, control).rstrip() + f"\n\n## {heading}\n\n"
            body: list[str] = []
            request = self._section_request(outline, index, so_far)
            finish = yield from self.request(request, body, control)
            if finish == SKIPPED and _only_heading(article, heading):
                # its very first sentence looped, so the section would stand empty: it is asked for
                # once more (another seed, or a seeded run writes the same loop); a second loop
                # leaves the heading with nothing under it and the next section follows
                finish, body = yield from self._ask_again(article, request, control)
            if finish == SKIPPED:
                so_far = _kept(article, control)
                continue
            so_far += "".join(body)
            if finish == FINISH_LENGTH and _open_tag(so_far) and self._may_continue(article, sections):
                article.continuations += 1  # cut inside a tag: the model writes the rest of it
                rest: list[str] = []
                finish = yield from self.request(self._tag_rest_request(outline, index, so_far), rest, control)
                so_far = _kept(article, control) if finish == SKIPPED else so_far + "".join(rest)
            if _open_tag(so_far):
                return FINISH_LENGTH  # still open: nothing after it could be read as text (cut off)
            if finish == FINISH_LENGTH and _mid_sentence(so_far) and self._may_continue(article, sections):
                article.continuations += 1
                tail: list[str] = []
                finish = yield from self.request(self._tail_request(outline, index, so_far), tail, control)
                so_far = _kept(article, control) if finish == SKIPPED else so_far + "".join(tail)
            if finish == SKIPPED:
                continue
            # the section's paragraph end now, not with the next heading: its last sentence is
            # judged while the section can still be asked for again (the last section's only
            # sentence, judged when the stream ended, left an empty section: measured, 1.5B)
            gap = _gap(so_far)
            if gap:
                yield gap
                so_far += gap
            if control.skipping:
                so_far = _kept(article, control)
                if _only_heading(article, heading):
                    finish, body = yield from self._ask_again(article, request, control)
                    so_far = _kept(article, control) if finish == SKIPPED else so_far + "".join(body)
        return None if finish == SKIPPED else finish

    def _ask_again(
        self, article: Article, request: tuple[list[Message], ChatOptions], control: SectionChunks
    ) -> Generator[str, None, tuple[str | None, list[str]]]:
        """The section's request once more, with another seed; its loop's removal says so."""
        _note_retry(article)
        control.skipping = False
        body: list[str] = []
        finish = yield from self.request(_reseeded(request), body, control)
        return finish, body

    def _may_continue(self, article: Article, sections: int) -> bool:
        return article.continuations < self.continuations * sections

    def request(
        self, request: tuple[list[Message], ChatOptions], into: list[str], control: SectionChunks
    ) -> FinishStream:
        """One request's chunks, kept in ``into``; it ends early (SKIPPED) when the engine asks
        for the next section, and its stream is closed, so the server stops generating."""
        stream = self.backend.stream(*request)
        try:
            while not control.skipping:
                try:
                    chunk = next(stream)
                except StopIteration as stop:
                    return stop.value if isinstance(stop.value, str) else None
                into.append(chunk)
                yield chunk
            return SKIPPED
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()

    def _section_request(self, outline: Outline, index: int, so_far: str) -> tuple[list[Message], ChatOptions]:
        written = so_far.count(OPEN)
        done = set(_SOURCE.findall(so_far))
        least, most = self.images.due(index, len(outline.headings), written)
        missing = tuple(s for s in self.images.required if s not in done)
        grammar = None
        if self.use_grammar:
            grammar = section_grammar(
                (least, most),
                user_image_count=self.user_image_count + written,
                max_paragraph_chars=self.max_paragraph_chars,
                two_phase_code=self.two_phase_code,
                required=missing,
            )
        tokens = self.section_tokens(len(outline.headings), most)
        options = dataclasses.replace(self.options, max_tokens=tokens, grammar=grammar, stop=("\n## ", "\n# "))
        return section_messages(self.messages, outline, index, so_far), continuation_options(options)

    def _tail_request(self, outline: Outline, index: int, so_far: str) -> tuple[list[Message], ChatOptions]:
        grammar = sentence_tail_grammar() if self.use_grammar else None
        options = dataclasses.replace(self.options, max_tokens=SENTENCE_TAIL_TOKENS, grammar=grammar, stop=("\n",))
        return section_messages(self.messages, outline, index, so_far), continuation_options(options)

    def _tag_rest_request(self, outline: Outline, index: int, so_far: str) -> tuple[list[Message], ChatOptions]:
        """The rest of a tag the section's share cut: no grammar (a grammar cannot start inside a
        tag); a tag still not closed after it ends the article, marked cut off."""
        options = dataclasses.replace(self.options, max_tokens=TAG_TOKENS, grammar=None, stop=())
        return section_messages(self.messages, outline, index, so_far), continuation_options(options)


SKIPPED = "skipped"  # a section's request ended early: the engine asked for the next section


def _only_heading(article: Article, heading: str) -> bool:
    """The article ends in this section's heading: nothing of the section was kept."""
    return article.to_llmi_text().rstrip().endswith(f"## {heading}")


def _kept(article: Article, control: SectionChunks) -> str:
    """After a skip (the section, or the rest of its sentence or tag, looped): the next request
    goes on from what the guard kept, and reads its own stream again (a skip left set would end
    the next section's request before it began: that section was never written)."""
    control.skipping = False
    return article.to_llmi_text()


def _reseeded(request: tuple[list[Message], ChatOptions]) -> tuple[list[Message], ChatOptions]:
    messages, options = request
    return messages, options if options.seed is None else dataclasses.replace(options, seed=options.seed + 1)


def _note_retry(article: Article) -> None:
    """The loop's removal says what came next: the section asked for again, not the next one.
    (The engine noted SECTION_ENDED on this reader thread just before the writer resumed.)"""
    for i in range(len(article.removed) - 1, -1, -1):
        removal = article.removed[i]
        if removal.kind == REPETITION and removal.reason.endswith(SECTION_ENDED):
            reason = removal.reason.removesuffix(SECTION_ENDED) + SECTION_RETRIED
            article.removed[i] = dataclasses.replace(removal, reason=reason)
            return


def _gap(text: str) -> str:
    """What puts the next heading at the start of its own paragraph."""
    return "" if text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"


class SectionChunks:
    """An outlined article's chunks: an iterator the engine reads as any model stream (its
    StopIteration carries the finish reason), which it may ask to end the section that is being
    written (``skip_section``, after a loop) and to close (stop, a loop it cannot redirect)."""

    owns_headings = True  # its headings are the outline's: a loop in a section never drops one (engine)

    def __init__(self) -> None:
        self.skipping = False
        self._chunks: Iterator[str] = iter(())

    def feed_from(self, chunks: Iterator[str]) -> SectionChunks:
        self._chunks = chunks
        return self

    def __iter__(self) -> SectionChunks:
        return self

    def __next__(self) -> str:
        return next(self._chunks)

    def skip_section(self) -> bool:
        self.skipping = True
        return True

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if callable(close):
            close()


def section_images(plan: BriefPlan, services: WriterServices) -> SectionImages:
    """The article's image count as a range over its sections (None: one at least, and each kind
    the brief names, up to the settings' maximum; 0: none; N: exactly N)."""
    return SectionImages(*picture_range(plan, services))


def write_sections(
    brief: Brief, services: WriterServices, messages: list[Message], options: ChatOptions, article: Article
) -> SectionChunks:
    """The chunks of an article outlined in ``brief.plan.sections`` sections (see the module
    docstring). Where the model's outline holds no heading, the article is written in one request
    instead, so no brief is lost to it."""
    plan, limits = brief.plan, services.limits
    sections = max(1, plan.sections or 1)
    writer = SectionWriter(
        services.backend,
        messages,
        options,
        section_images(plan, services),
        use_grammar=services.uses_grammar,
        user_image_count=plan.user_images,
        max_paragraph_chars=limits.max_paragraph_chars,
        two_phase_code=services.two_phase_code,
        continuations=limits.max_continuations,
        language=plan.language_name,
    )
    control = SectionChunks()

    def chunks() -> FinishStream:
        outline, title = yield from writer.outline(plan.text, sections)
        if not outline.headings and title:  # the article goes on from the title it shows
            request = continuation_messages(messages, title)
            plain = continuation_options(dataclasses.replace(options, grammar=None))
            return (yield from tee(services.backend.stream(request, plain), []))
        if not outline.headings:
            return (yield from tee(services.backend.stream(messages, options), []))
        finish = yield from writer.stream(outline, article, control, title_shown=bool(title))
        pictures = owed.requested(article) if finish != FINISH_LENGTH else None
        if pictures is None:  # (a section that looped may have left a picture it owed unwritten)
            return finish
        control.skipping = False
        return (yield from writer.request(pictures, [], control))

    owed = owed_writer(brief, services, messages, options)
    return control.feed_from(chunks())
