"""What every exporter needs to know about an image block, decided once.

Each format (HTML, Markdown bundle, DOCX) shows the same credits and the same reproduction
record; interpreting provenance in one place keeps them in agreement. Everything here is
plain data built from UNTRUSTED strings (model output, web page titles and URLs): the
formats escape it for their own context. The only judgement made here is which URLs are
safe to turn into links (``safe_url``) and which image bytes may be embedded
(``sniff_mime``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from models.provenance import Credit, chart_numbers, credit_for, is_illustrative, origin_of, public_model_name
from models.vocab import BlockStatus
from models.vocab import article_title as title_rule
from studio.core.article import Article, ImageBlock, TextBlock

# Raster formats every target (browser, WeasyPrint, Word after conversion) displays, keyed
# by the magic bytes that prove them. SVG (script-capable) and everything else are refused.
RASTER_MIMES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_BLOCK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_URL_CHARS = 2048


def sniff_mime(data: bytes | None) -> str | None:
    """The raster mime the bytes really are, or None (the declared mime is not trusted).

    Pillow reads the header (``Image.open`` decodes no pixels) and names the format; only the
    four allowed rasters are tried, so SVG, HTML or anything else is None."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=_PIL_FORMATS) as image:
            return Image.MIME.get(image.format or "")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


_PIL_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")


def embeddable(block: ImageBlock) -> str | None:
    """The mime to embed the block's image with, or None when it must not be embedded.

    The declared mime must be an allowed raster type and agree with the bytes.
    """
    declared = (block.mime or "").lower()
    actual = sniff_mime(block.image)
    if actual is None or declared not in RASTER_MIMES or declared != actual:
        return None
    return actual


def safe_url(url: object) -> str | None:
    """``url`` when it is an absolute http(s) URL fit for a link, else None.

    javascript:, data:, file:, relative and protocol-relative URLs, and URLs with control
    characters or whitespace are all refused: a credit without a link beats a live payload.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        return None
    if _CONTROL_RE.search(url) or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def safe_block_id(block_id: str) -> str:
    """Block ids become file names (images/<id>.<ext>): only a plain token is allowed."""
    if not _BLOCK_ID_RE.match(block_id):
        raise ValueError(f"unsafe block id {block_id!r}")
    return block_id


def plain(value: object, limit: int = 2000) -> str:
    """A provenance value as one line of text: control characters dropped, length capped."""
    text = "" if value is None else str(value)
    text = _CONTROL_RE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def strip_controls(text: str) -> str:
    """Multi-line text with the control characters XML cannot hold removed (keeps \\n, \\t)."""
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


@dataclass(frozen=True)
class Figure:
    """One image block as every format presents it."""

    block: ImageBlock
    number: int | None  # figure number among embedded images; None when not shown
    mime: str | None  # embeddable mime, None when there is no image to show
    credit: str  # one plain-text credit line ("" when none)
    link_title: str | None  # search: the page title
    link_url: str | None  # search: the page URL, only when safe
    note: str | None  # why there is no picture (failed/invalid/refused), plain text
    credit_extra: str = ""  # search: "site, licence" shown after the linked title
    fields: list[tuple[str, str]] = field(default_factory=list)  # reproduction record
    code: str | None = None
    alt: str = ""  # the image's text alternative (alt text, else the caption)
    illustrative: bool = False  # a chart with made-up numbers: the figure says so

    @property
    def ext(self) -> str:
        return RASTER_MIMES[self.mime] if self.mime else "bin"


Fields = list[tuple[str, str]]


def _reproduction(block: ImageBlock, figure_of_index: dict[int, int | None]) -> tuple[Fields, str | None]:
    """The tool call and provenance as labelled fields, plus code for a <pre>."""
    params, prov = block.params or {}, block.provenance or {}
    fields: list[tuple[str, str]] = []
    code: str | None = None

    def add(label: str, value: object) -> None:
        if value is not None and value != "":
            fields.append((label, plain(value)))

    origin = origin_of(block.source, prov)
    if origin == "upload":
        add("Origin", "supplied by the author")
        add("File name", prov.get("uploaded"))
        return fields, None
    if origin == "url":
        add("Origin", "an image the author gave by URL")
        add("URL", prov.get("url"))
        return fields, None
    if block.source == "search":
        add("Query", params.get("query") or prov.get("query"))
        add("Image URL", prov.get("image_url"))
        add("Page", prov.get("page_url"))
        add("Page title", prov.get("title"))
        add("Site", prov.get("source"))
        add("Creator", prov.get("creator"))
        add("Licence", prov.get("licence") or "not known")
        add("Licence URL", prov.get("licence_url"))
        add("Provider", prov.get("provider"))
    elif block.source == "diffusion":
        add("Prompt", params.get("prompt") or prov.get("prompt"))
        add("Style", prov.get("style"))
        add("Seed", prov.get("seed"))
        add("Model", public_model_name(prov.get("model")))
    elif block.source == "code":
        raw_code = params.get("code") or prov.get("code")
        code = strip_controls(str(raw_code)) if raw_code else None
        add("Numbers", chart_numbers(prov))
    elif block.source == "edit":
        index = params.get("img_index", prov.get("img_index"))
        add("Instruction", params.get("prompt") or prov.get("instruction"))
        if isinstance(index, int):
            number = figure_of_index.get(index)
            add("Edits image", f"#{index}" + (f" (figure {number})" if number else ""))
        add("Parent sha256", prov.get("parent_sha256"))
        add("Seed", prov.get("seed"))
        add("Model", public_model_name(prov.get("model")))
    return fields, code


def _credit(block: ImageBlock) -> Credit:
    """The shown version's credit (``models.provenance.credit_for``), its link checked here. A web
    image's line is its TASL credit (``studio.export.tasl``: title, author, source, licence)."""
    credit = credit_for(block.source, block.provenance)
    if credit.origin == "search":
        from studio.export.tasl import tasl  # imports this module: imported here

        parts = tasl(block.provenance or {})
        return Credit(credit.origin, credit.label, parts.line(), parts.title, parts.page_url, parts.extra)
    return Credit(credit.origin, credit.label, credit.line, credit.link_title, safe_url(credit.link_url), credit.extra)


def alt_text(block: ImageBlock) -> str:
    """The image's text alternative: the alt text the author set, else the caption."""
    return plain(block.provenance.get("alt"), 500) or plain(block.description, 500)


MISSING_NOTE = "Figure missing."


def shown(block: ImageBlock) -> bool:
    """Does the block have a picture every export can show (it came out ok and may be embedded)?"""
    return block.status == BlockStatus.OK and embeddable(block) is not None


def figures(article: Article, *, include_unfinished: bool = False) -> list[Figure]:
    """Every image block in order, with figure numbers, credits and reproduction records.

    A block without a picture (a placeholder, a failed or invalid call, an image that may not be
    embedded) is left out, unless ``include_unfinished``: then it is a neutral "Figure missing."
    note. Its error text is never shown: it is for the studio's operator, not the reader (the
    publish check names such blocks before an export).
    """
    blocks = article.image_blocks()
    offset = len(article.user_images)
    numbers: dict[str, int] = {}
    for block in blocks:
        if shown(block):
            numbers[block.id] = len(numbers) + 1
    figure_of_index = {offset + i: numbers.get(b.id) for i, b in enumerate(blocks)}
    out: list[Figure] = []
    for block in blocks:
        number = numbers.get(block.id)
        if number is None and not include_unfinished:
            continue
        fields, code = _reproduction(block, figure_of_index)
        alt = alt_text(block)
        if number is not None:
            c = _credit(block)
            out.append(
                Figure(block, number, embeddable(block), c.line, c.link_title, c.link_url, None, c.extra, fields, code,
                       alt, c.origin == "chart" and is_illustrative(block.provenance))
            )  # fmt: skip
            continue
        out.append(Figure(block, None, None, "", None, None, MISSING_NOTE, "", fields, code, alt))
    return out


def article_title(article: Article, title: str | None = None) -> str:
    """The given title, else the one title rule (``models.vocab.article_title``: the first Markdown
    heading, else the brief's first line), so a file's name and its title agree."""
    if title and title.strip():
        return plain(title, 300)
    return plain(title_rule((b.text for b in article.blocks if isinstance(b, TextBlock)), article.brief), 300)


_CJK_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")),  # kana
    ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")),  # hangul
    ("zh", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")),  # han
)


def cjk_languages(text: str) -> list[str]:
    """The fontconfig languages ("ja", "ko", "zh") whose scripts occur in ``text``."""
    return [lang for lang, pattern in _CJK_SCRIPTS if pattern.search(text)]


def all_text(article: Article, title: str | None = None) -> str:
    """Every string an export may print (to decide which fonts it needs)."""
    parts = [article.brief, title or ""]
    for block in article.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        else:
            parts += [block.description, block.raw, str(block.params), str(block.provenance)]
    return "\n".join(parts)
