"""The studio's own instructions to the writing model (wording ours; format per docs/protocol.md).

Two variants:
- the full prompt, for LLM-I checkpoints and capable chat models: the whole format, the
  rules per source, what is switched off;
- the small-model prompt, short, with ONE compact example article built from the tools that
  are on. Small models copy the example's shape far better than they follow prose rules.

Only tools that are on are described as usable. A tool that is off is never offered; the full
prompt names it once as unavailable so a capable model does not try it anyway, the small
prompt does not name it at all (naming it primes a small model to use it).

In two-phase code mode (the default for small models) the article carries code tags with an
empty code string and a description that states the data; the chart code is written later by
studio.core.charts.ChartCoder in a dedicated call.
"""

from __future__ import annotations

from collections.abc import Mapping

from studio.core.protocol import format_tag
from tools.params import SOURCES

# One line per source: when to use it and what its params hold.
_SOURCE_GUIDE: dict[str, str] = {
    "search": (
        "`search` finds a real photo on the web. Use it for real, factual things: places, landmarks, "
        "people, animals, products, maps. params: {'query': 'a few search words'}"
    ),
    "diffusion": (
        "`diffusion` paints a new picture. Use it for imagined, conceptual or composed scenes that no "
        "photo shows. params: {'prompt': 'what the picture shows, its style and mood'}"
    ),
    "code": (
        "`code` draws a chart with Python. Use it for numbers: trends, comparisons, shares. "
        "params: {'code': '...'} with the data written inline in the code"
    ),
    "edit": (
        "`edit` changes an earlier image (style, colour, background, add or remove things) and keeps "
        "the rest. params: {'img_index': N, 'prompt': 'the change to make'}"
    ),
}

_CODE_RULES = (
    "Chart code: `plt` (matplotlib.pyplot), `pd` (pandas), `sns` (seaborn) and `np` (numpy) are "
    "already imported. Write the data inline, give the chart a title and axis labels, and do not "
    "call plt.show() or plt.savefig(): the figure is saved for you. Inside the code string write "
    'newlines as \\n and use double quotes (") for strings.'
)
_TWO_PHASE_CODE_RULES = (
    "For a chart write the tag with an empty code string, exactly {'code': ''}, and put the chart "
    "type and the numbers into the description (for example: 'Bar chart of honey per hive, 2019 to "
    "2023'). The chart code is written afterwards."
)


def _guide(source: str, two_phase: bool) -> str:
    if source == "code" and two_phase:
        return (
            "`code` draws a chart from numbers: trends, comparisons, shares. params: {'code': ''} "
            "(left empty here; the chart code is written afterwards from the description)"
        )
    return _SOURCE_GUIDE[source]


def _offered(available: Mapping[str, str | None]) -> list[str]:
    unknown = sorted(set(available) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown tool source(s): {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    return [s for s in SOURCES if s in available and available[s] is None]


def _edit_rule() -> str:
    return (
        "`img_index` counts from 0 over one list: first the images the user gave you, then the images "
        "of your own tags in the order they appear. An edit may only point at an image that comes "
        "before it."
    )


def _example_tags(offered: list[str], two_phase_code: bool) -> list[tuple[str, str]]:
    """(paragraph before, tag) pairs of the bee example, one per offered source."""
    parts: list[tuple[str, str]] = []
    if "search" in offered:
        parts.append(
            (
                "A honey bee colony holds up to 60,000 bees. The queen lays the eggs, the workers "
                "collect nectar and build wax combs.",
                format_tag("search", "Honey bees on a wax comb", {"query": "honey bees on wax comb close up"}),
            )
        )
    if "code" in offered:
        code = (
            ""
            if two_phase_code
            else "years = [2019, 2020, 2021, 2022, 2023]\nhoney = [28, 25, 31, 27, 30]\n"
            'plt.bar(years, honey, color="goldenrod")\nplt.title("Honey per hive")\n'
            'plt.xlabel("Year")\nplt.ylabel("Honey (kg)")'
        )
        desc = "Bar chart of honey per hive in kg: 2019 28, 2020 25, 2021 31, 2022 27, 2023 30"
        parts.append(
            (
                "A strong hive gives 25 to 30 kg of honey a year, depending on the weather.",
                format_tag("code", desc, {"code": code}),
            )
        )
    if "diffusion" in offered:
        parts.append(
            (
                "Inside the hive, bees dance to tell each other where the flowers are.",
                format_tag(
                    "diffusion",
                    "A bee dancing on a comb",
                    {"prompt": "a honey bee doing a waggle dance on a golden comb, warm light, watercolor"},
                ),
            )
        )
    if "edit" in offered and parts:
        parts.append(
            (
                "In autumn the colony shrinks and the bees cluster to keep warm.",
                format_tag("edit", "The same scene in autumn colours", {"img_index": 0, "prompt": "autumn colours"}),
            )
        )
    return parts


def example_article(available: Mapping[str, str | None], *, two_phase_code: bool = True) -> str:
    """Our compact example article (bees), using only the tools that are on (at most 3 tags)."""
    parts = _example_tags(_offered(available), two_phase_code)[:3]
    lines = ["# How a Bee Colony Works", ""]
    if not parts:
        lines.append("Bees live in colonies of thousands. Each bee has a job, and together they make honey.")
        return "\n".join(lines)
    for paragraph, tag in parts:
        lines += [paragraph, "", tag, ""]
    lines.append("Without bees, many fruits and vegetables would not grow.")
    return "\n".join(lines)


def _style_line(style: str) -> list[str]:
    style = " ".join(style.split())
    return [f"Style: {style}"] if style else []


def system_prompt(
    off_reasons: Mapping[str, str | None],
    *,
    max_images: int,
    compact: bool,
    style: str = "",
    two_phase_code: bool | None = None,
) -> str:
    """The system message for the article writer.

    off_reasons: source -> None when the tool is on, or the reason it is off.
    compact: the short prompt for small local models (the grammar carries the format).
    two_phase_code: code tags carry an empty code string (chart code written later);
    defaults to ``compact``.
    """
    if max_images < 0:
        raise ValueError("max_images must be >= 0")
    two_phase = compact if two_phase_code is None else two_phase_code
    offered = _offered(off_reasons) if max_images > 0 else []
    if compact:
        return _small_prompt(off_reasons, offered, max_images, style, two_phase)
    return _full_prompt(off_reasons, offered, max_images, style, two_phase)


def _no_images_prompt(style: str) -> str:
    lines = [
        "You write clear, well organised articles in Markdown: a title line starting with '# ', "
        "then paragraphs. Do not include any images or image tags.",
        *_style_line(style),
    ]
    return "\n".join(lines)


def _small_prompt(
    available: Mapping[str, str | None], offered: list[str], max_images: int, style: str, two_phase: bool
) -> str:
    if not offered:
        return _no_images_prompt(style)
    lines = [
        "You write illustrated articles in Markdown. Start with a title line '# ...', then write short "
        "paragraphs. Between paragraphs, on its own line, put an image tag:",
        "<imgen>{'source': SOURCE, 'description': 'short caption', 'params': {...}}</imgen>",
        f"Use 1 to {max_images} tags. Sources you can use:",
        *(f"- {_guide(s, two_phase)}" for s in offered),
    ]
    if "edit" in offered:
        lines.append(_edit_rule())
    if "code" in offered:
        lines.append(_TWO_PHASE_CODE_RULES if two_phase else _CODE_RULES)
    lines += [
        "Never use the ' character inside the tag's texts. Never put a tag in a code block.",
        *_style_line(style),
        "",
        "Example:",
        "",
        example_article(available, two_phase_code=two_phase),
    ]
    return "\n".join(lines)


def _full_prompt(
    available: Mapping[str, str | None], offered: list[str], max_images: int, style: str, two_phase: bool
) -> str:
    if not offered:
        return _no_images_prompt(style)
    lines = [
        "You are the writer of an illustrated article. Write it in Markdown (a '# ' title line, then "
        "paragraphs, sub-headings where they help) and place pictures by writing image tags. Each tag is "
        "turned into a picture by a tool, at the place where you write it.",
        "",
        "The tag format, exactly:",
        "<imgen>{'source': SOURCE, 'description': DESCRIPTION, 'params': PARAMS}</imgen>",
        "- The part between <imgen> and </imgen> is a Python dict literal with exactly the keys 'source', "
        "'description' and 'params', no others.",
        "- 'description' is a short caption of what the picture shows; readers see it.",
        "- 'params' holds exactly the keys of the chosen source, listed below.",
        "- Write the tag as plain text on its own line where the picture belongs. Never wrap it in a code "
        "block or backticks, and do not announce it ('Here is an image:'); the text around it should read "
        "naturally with the picture in place.",
        "",
        "Sources you can use:",
        *(f"- {_guide(s, two_phase)}" for s in offered),
    ]
    off = [s for s in SOURCES if s in available and available[s] is not None]
    if off:
        lines.append("Not available now, do not use: " + ", ".join(off) + ".")
    lines.append("")
    if "edit" in offered:
        lines += [_edit_rule(), ""]
    if "code" in offered:
        lines += [_TWO_PHASE_CODE_RULES if two_phase else _CODE_RULES, ""]
    lines += [
        f"Use at most {max_images} image tags, each where it helps the reader; pick the source that fits "
        "each picture. Keep strings inside a tag on one line.",
        *_style_line(style),
        "",
        "A short example of the shape (your articles are longer):",
        "",
        example_article(available, two_phase_code=two_phase),
    ]
    return "\n".join(lines)


def user_prompt(brief: str, *, wanted_images: int | None, user_image_count: int) -> str:
    """The user message: the brief, how many images are wanted, and the user's own images.

    wanted_images: None leaves the number to the model, 0 asks for none, N asks for exactly N.
    """
    if wanted_images is not None and wanted_images < 0:
        raise ValueError("wanted_images must be None or >= 0")
    if user_image_count < 0:
        raise ValueError("user_image_count must be >= 0")
    lines = [brief.strip()]
    if wanted_images == 0:
        lines.append("Write it without images.")
    elif wanted_images == 1:
        lines.append("Include exactly 1 image tag.")
    elif wanted_images is not None:
        lines.append(f"Include exactly {wanted_images} image tags.")
    if user_image_count == 1:
        lines.append("I attached 1 image; it is img_index 0.")
    elif user_image_count > 1:
        lines.append(f"I attached {user_image_count} images; they are img_index 0 to {user_image_count - 1}.")
    return "\n\n".join(lines)
