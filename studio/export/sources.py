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

    if block.source == "search":
        add("Query", params.get("query") or prov.get("query"))
        add("Image URL", prov.get("image_url"))
        add("Page", prov.get("page_url"))
        add("Page title", prov.get("title"))
        add("Site", prov.get("source"))
        add("Creator", prov.get("creator"))
        add("Licence", prov.get("licence") or prov.get("licence_hint"))
        add("Licence URL", prov.get("licence_url"))
        add("Provider", prov.get("provider"))
    elif block.source == "diffusion":
        add("Prompt", params.get("prompt") or prov.get("prompt"))
        add("Style", prov.get("style"))
        add("Seed", prov.get("seed"))
        add("Model", prov.get("model"))
        add("Image server", prov.get("server"))
    elif block.source == "code":
        raw_code = params.get("code") or prov.get("code")
        code = strip_controls(str(raw_code)) if raw_code else None
    elif block.source == "edit":
        index = params.get("img_index", prov.get("img_index"))
        add("Instruction", params.get("prompt") or prov.get("instruction"))
        if isinstance(index, int):
            number = figure_of_index.get(index)
            add("Edits image", f"#{index}" + (f" (figure {number})" if number else ""))
        add("Parent sha256", prov.get("parent_sha256"))
        add("Seed", prov.get("seed"))
        add("Model", prov.get("model"))
        add("Image server", prov.get("server"))
    return fields, code


def _credit(block: ImageBlock) -> tuple[str, str | None, str | None, str]:
    """(credit line, link title, link url, extra) for a shown image."""
    prov = block.provenance or {}
    if block.source == "search":
        from studio.export.tasl import tasl  # the TASL line (title, author, source, licence)

        credit = tasl(prov)
        return credit.line(), credit.title, credit.page_url, credit.extra
    if block.source == "diffusion":
        model = plain(prov.get("model"), 200) or "a diffusion model"
        seed = prov.get("seed")
        return f"Generated with {model}" + (f", seed {plain(seed)}" if seed is not None else ""), None, None, ""
    if block.source == "code":
        return "Chart drawn from code (see the appendix)", None, None, ""
    if block.source == "edit":
        model = plain(prov.get("model"), 200)
        return "Edited image" + (f" ({model})" if model else ""), None, None, ""
    return "", None, None, ""


def figures(article: Article) -> list[Figure]:
    """Every image block in order, with figure numbers, credits and reproduction records."""
    blocks = article.image_blocks()
    offset = len(article.user_images)
    numbers: dict[str, int] = {}
    for block in blocks:
        if block.status == BlockStatus.OK and embeddable(block):
            numbers[block.id] = len(numbers) + 1
    figure_of_index = {offset + i: numbers.get(b.id) for i, b in enumerate(blocks)}
    out: list[Figure] = []
    for block in blocks:
        fields, code = _reproduction(block, figure_of_index)
        number = numbers.get(block.id)
        if number is not None:
            credit, link_title, link_url, extra = _credit(block)
            mime = embeddable(block)
            out.append(Figure(block, number, mime, credit, link_title, link_url, None, extra, fields, code))
            continue
        if block.status == BlockStatus.OK:
            note = "The image could not be embedded: only PNG, JPEG, WebP and GIF images are allowed."
        elif block.status == BlockStatus.PLACEHOLDER:
            note = f"Placeholder, not generated: {plain(block.error, 1000) or 'no reason given'}"
        elif block.status in (BlockStatus.FAILED, BlockStatus.INVALID):
            what = "Image tag rejected" if block.status == BlockStatus.INVALID else "Image not generated"
            note = f"{what}: {plain(block.error, 1000) or 'no reason given'}"
        else:
            note = f"Image not generated yet ({block.status})."
        out.append(Figure(block, None, None, "", None, None, note, "", fields, code))
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
    parts = [article.brief, article.error or "", title or ""]
    for block in article.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        else:
            parts += [block.description, block.error or "", block.raw, str(block.params), str(block.provenance)]
    return "\n".join(parts)
