"""Markdown bundle: a zip with article.md, images/ and SOURCES.md.

article.md keeps the model's Markdown text as written (it is the article's source) and puts
each image tag's picture in its place as ``![description](images/<id>.<ext>)`` with an
italic caption line. Descriptions, titles, errors and provenance are untrusted, so every
such string is written on one line with a backslash before each character that would make
Markdown there (CommonMark renders an escaped punctuation character as itself): no link, image,
HTML tag, entity, code span or emphasis can be smuggled in through them. Only those characters:
the file is what a writer pastes, and a backslash before every parenthesis is noise to a
reader. Such text starts a line only through ``md_line``, which escapes a block marker there
(``-``, ``1.``, ``>``, ``#``); table pipes need none (no line of it can be a delimiter row).
Links are written only for safe http(s) URLs, in <angle> form.
"""

from __future__ import annotations

import io
import re
import zipfile

from studio.core.article import Article, TextBlock
from studio.export.sources import Figure, article_title, figures, plain, safe_block_id

# Always Markdown: code spans, emphasis, link and image brackets.
_ALWAYS = frozenset("`*[]")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")
_HEADING_CLOSE_RE = re.compile(r"(?:^|(?<=\s))#+\s*$")  # "Top #": a heading's closing sequence
# A fence longer than any backtick run in the code keeps the code block closed.
_BACKTICKS_RE = re.compile(r"`+")


def _needs_escape(text: str, i: int, tildes: int) -> bool:
    char = text[i]
    before = text[i - 1] if i else " "
    after = text[i + 1] if i + 1 < len(text) else ""
    if char in _ALWAYS:
        return True
    if char == "\\":  # escapes the next punctuation (ours too, at the end), else shows as itself
        return after == "" or after in _PUNCTUATION
    if char == "_":  # between letters or digits (snake_case) it cannot open or close emphasis
        return not (before.isalnum() and after.isalnum())
    if char == "<":  # an HTML tag or an autolink starts with a letter, "/", "!" or "?"
        return after.isalpha() or after in "/!?"
    if char == "&":  # only an entity reference turns into another character
        return _ENTITY_RE.match(text, i) is not None
    if char == "~":  # strikethrough needs a pair
        return tildes > 1
    return False


def md_text(value: object, limit: int = 2000) -> str:
    """Untrusted text as inert Markdown inline text: one line, a backslash only before what
    Markdown would otherwise read as markup (see the module docstring)."""
    text = plain(value, limit)
    tildes = text.count("~")
    return "".join(("\\" + c) if _needs_escape(text, i, tildes) else c for i, c in enumerate(text))


def md_heading(value: object, limit: int = 2000) -> str:
    """``md_text`` for a heading's text: a closing run of ``#`` ("Top #") stays text."""
    text = md_text(value, limit)
    closing = _HEADING_CLOSE_RE.search(text)
    return text if closing is None else text[: closing.start()] + "\\" + text[closing.start() :]


_BLOCK_START_RE = re.compile(r"[#>+=|-]|\d+(?=[.)])")


def md_line(value: object, limit: int = 2000) -> str:
    """``md_text`` for the start of a line: a heading, quote, list or table marker stays text."""
    text = md_text(value, limit)
    start = _BLOCK_START_RE.match(text)
    if start is None:
        return text
    end = start.end()
    return "\\" + text if start.group()[0] in "#>+=|-" else text[:end] + "\\" + text[end:]


def md_link(title: str, url: str | None) -> str:
    """``[title](<url>)`` for a safe URL (no spaces, no angle brackets), else the title."""
    if url and "<" not in url and ">" not in url:
        return f"[{md_text(title)}](<{url}>)"
    return md_text(title)


def md_code(code: str, lang: str = "python") -> str:
    longest = max((len(m) for m in _BACKTICKS_RE.findall(code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{code.rstrip()}\n{fence}"


def image_name(figure: Figure) -> str:
    return f"images/{safe_block_id(figure.block.id)}.{figure.ext}"


def _figure_md(figure: Figure) -> str:
    desc = figure.block.description
    if figure.number is None:
        # the name on its own line, as the HTML export shows it
        return f"> **{md_text(desc) or 'Image'}**  \n> {md_line(figure.note)}"
    caption = f"*Figure {figure.number}. {md_text(desc)}*"
    if figure.illustrative:
        caption += "  \n**Illustrative numbers: not data.**"
    if figure.link_url:
        extra = f" ({md_text(figure.credit_extra)})" if figure.credit_extra else ""
        caption += f"  \nSource: {md_link(figure.link_title or 'source', figure.link_url)}{extra}"
    elif figure.credit:
        caption += f"  \n{md_text(figure.credit)}"
    return f"![{md_text(figure.alt, 500)}]({image_name(figure)})\n\n{caption}"


def article_markdown(article: Article, title: str | None = None, *, include_unfinished: bool = False) -> str:
    """article.md: the text blocks as written, image blocks as images with captions."""
    by_id = {f.block.id: f for f in figures(article, include_unfinished=include_unfinished)}
    parts: list[str] = []
    if title and title.strip():
        parts.append(f"# {md_heading(title, 300)}\n\n")
    for block in article.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif block.id in by_id:
            parts.append(f"\n\n{_figure_md(by_id[block.id])}\n\n")
    text = "".join(parts).strip() + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def sources_markdown(article: Article, title: str | None = None, *, include_unfinished: bool = False) -> str:
    """SOURCES.md: credits and the tool call of every image (to reproduce the article)."""
    lines = [f"# Sources: {md_heading(article_title(article, title), 300)}", ""]
    if article.brief.strip():
        lines += ["Brief:", "", md_code(article.brief, "text"), ""]
    for position, figure in enumerate(figures(article, include_unfinished=include_unfinished), start=1):
        block = figure.block
        name = f"Figure {figure.number}" if figure.number else f"Image {position}"
        lines.append(f"## {name}: {md_heading(block.description)}")
        lines.append("")
        lines.append(f"- Tool: {md_text(block.source or 'unknown')}; status: {md_text(block.status)}")
        if figure.alt:
            lines.append(f"- Alt text: {md_text(figure.alt, 500)}")
        if figure.number:
            lines.append(f"- File: `{image_name(figure)}`")
        if figure.link_url:
            lines.append(f"- Credit: {md_link(figure.link_title or 'source', figure.link_url)}")
        elif figure.credit:
            lines.append(f"- Credit: {md_text(figure.credit)}")
        if figure.note:
            lines.append(f"- Note: {md_text(figure.note)}")
        lines += [f"- {md_text(label)}: {md_text(value)}" for label, value in figure.fields]
        if figure.code:
            lines += ["", md_code(figure.code)]
        lines.append("")
    return "\n".join(lines)


def render_markdown_zip(
    article: Article, *, appendix: bool = True, title: str | None = None, include_unfinished: bool = False
) -> bytes:
    """The bundle as zip bytes. SOURCES.md is always written: credits are not optional."""
    del appendix  # the bundle's SOURCES.md is both credits and appendix
    buffer = io.BytesIO()
    keep = include_unfinished
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("article.md", article_markdown(article, title, include_unfinished=keep))
        bundle.writestr("SOURCES.md", sources_markdown(article, title, include_unfinished=keep))
        for figure in figures(article):
            if figure.number and figure.block.image:
                # Images are already compressed: store them as they are.
                bundle.writestr(image_name(figure), figure.block.image, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()
