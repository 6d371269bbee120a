"""The studio's own instructions to the writing model (wording ours; format per docs/protocol.md).

Two variants:
- the full prompt, for LLM-I checkpoints and capable chat models: the whole format, the rules
  per source, and what happens to a picture whose tool is off;
- the small-model prompt, short (the GBNF grammar carries the format for small local models).

All four sources are always offered, each described by what it is for (search: real photos of
real things; diffusion: illustrations and scenes; code: charts and diagrams from data; edit:
changes to an earlier or uploaded image), so the writer can pick the tool the picture needs. A
tag for a tool that is off becomes a placeholder block the user fills later (studio.core.runner);
offering only the tools that are on made small models fake photos with chart code.

No example content. Examples leaked into articles (a bee-article sentence ended unrelated
articles), so the prompts show only tag *shapes* whose slots are ``<angle-bracket words>``: the
article grammar admits no ``<`` in any text, so a small model cannot copy a slot verbatim, and
``EXAMPLE_TEXTS`` lists every example string for the harness's leak check
(studio.quality.leaks).

In two-phase code mode (the default for small models) the article carries code tags with an
empty code string and a description that states the data; the chart code is written later by
studio.core.charts.ChartCoder in a dedicated call.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.vocab import Source
from studio.core.brief_plan import BriefPlan, plan_text
from tools.params import PARAMS_BY_SOURCE, SOURCES, param_slots

# One line per source: what it is for, then its params. Slots are <angle-bracket words>.
# No lists of example subjects: a 1.5B run copied "real photos of real places, landmarks, people,
# animals and products" into an article's text, and ended a diffusion prompt with the slot's words
# "its style and mood". The purpose is a short noun phrase after the colon; slots are 1-3 words.
_PURPOSE: dict[str, str] = {
    Source.SEARCH: "`search`: photos of real things (a web image search).",
    Source.DIFFUSION: "`diffusion`: illustrations and imagined scenes (image generation).",
    Source.CODE: "`code`: charts and diagrams of data (Python plotting). Never photos.",
    Source.EDIT: "`edit`: changes to an earlier image or to an image the user gave.",
}
_DESCRIPTIONS: dict[str, str] = {
    Source.SEARCH: "<photo caption>",
    Source.DIFFUSION: "<picture caption>",
    Source.CODE: "<chart type> of <measure>: <label> <number>, <label> <number>",
    Source.EDIT: "<edited picture caption>",
}

_CODE_RULES = (
    "Chart code: `plt` (matplotlib.pyplot), `pd` (pandas), `sns` (seaborn) and `np` (numpy) are "
    "already imported. Write the data inline, give the chart a title and axis labels, and do not "
    "call plt.show() or plt.savefig(): the figure is saved for you. Do not open files. Inside the "
    'code string write newlines as \\n and use double quotes (") for strings.'
)
_TWO_PHASE_CODE_RULES = (
    "For a chart write the tag with an empty code string, exactly {'code': ''}, and put the chart "
    "type and the numbers from your text into the description. The chart code is written afterwards."
)
_CHOOSE = (
    "Pick the source by what the picture is: a photo of something real is `search`, an illustration "
    "is `diffusion`, only charts and diagrams of data are `code`, a change to an earlier image is `edit`."
)
_SLOTS = (
    "The words in angle brackets are slots to fill with your own words; they are not content. The "
    "description is a short caption of this one picture. Pictures appear only through these tags, never "
    "as Markdown images or links."
)


def params_shape(source: str, *, two_phase_code: bool = True) -> str:
    """The params of a ``source`` tag with <slots>, from its Params model (tools.params): a number
    slot bare, a text slot quoted, a param the tool may fill in (chart code) empty when
    ``two_phase_code``."""
    model = PARAMS_BY_SOURCE[source]
    parts = []
    for name, kind, slot in param_slots(source):
        empty = two_phase_code and name in model.may_be_empty
        parts.append(f"'{name}': " + ("''" if empty else f"<{slot}>" if kind is int else f"'<{slot}>'"))
    return "{" + ", ".join(parts) + "}"


def tag_shape(source: str, *, two_phase_code: bool = True) -> str:
    """The shape of one tag of ``source`` with <slots> (never example content)."""
    params = params_shape(source, two_phase_code=two_phase_code)
    return f"<imgen>{{'source': '{source}', 'description': '{_DESCRIPTIONS[source]}', 'params': {params}}}</imgen>"


def _check(off_reasons: Mapping[str, str | None]) -> None:
    unknown = sorted(set(off_reasons) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown tool source(s): {', '.join(unknown)}; known: {', '.join(SOURCES)}")


def _edit_rule() -> str:
    return (
        "`img_index` counts from 0 over one list: first the images the user gave you, then the images "
        "of your own tags in the order they appear. An edit may only point at an image that comes "
        "before it."
    )


def _style_line(style: str) -> list[str]:
    style = " ".join(style.split())
    return [f"Style: {style}"] if style else []


def _count_line(max_images: int, exact: bool) -> str:
    if exact:
        return f"Use exactly {max_images} image tag{'s' if max_images != 1 else ''}."
    return f"Use 1 to {max_images} image tags."


def system_prompt(
    off_reasons: Mapping[str, str | None],
    *,
    max_images: int,
    compact: bool,
    style: str = "",
    two_phase_code: bool | None = None,
    exact_count: bool = False,
) -> str:
    """The system message for the article writer.

    off_reasons: source -> None when the tool is on, or the reason it is off (every source is
    offered either way; the full prompt says that an off tool's picture becomes a placeholder).
    max_images: 0 asks for an article without images. exact_count: the user asked for exactly
    ``max_images``. compact: the short prompt for small local models (the grammar carries the
    format). two_phase_code: code tags carry an empty code string (chart code written later);
    defaults to ``compact``.
    """
    if max_images < 0:
        raise ValueError("max_images must be >= 0")
    _check(off_reasons)
    two_phase = compact if two_phase_code is None else two_phase_code
    if max_images == 0:
        return _no_images_prompt(style)
    if compact:
        return _small_prompt(max_images, style, two_phase, exact_count)
    return _full_prompt(off_reasons, max_images, style, two_phase, exact_count)


def _no_images_prompt(style: str) -> str:
    lines = [
        "You write clear, well organised articles in Markdown: a title line starting with '# ', "
        "then paragraphs. This article has no images: do not write any image tag.",
        *_style_line(style),
    ]
    return "\n".join(lines)


def _sources_block(two_phase: bool, *, purposes: bool = True) -> list[str]:
    """One item per source: its tag shape, after a line saying what it is for when ``purposes``."""
    lines = []
    for s in SOURCES:
        shape = tag_shape(s, two_phase_code=two_phase)
        lines += [f"- {_PURPOSE[s]}", f"  {shape}"] if purposes else [f"- {shape}"]
    return lines


def _small_prompt(max_images: int, style: str, two_phase: bool, exact: bool) -> str:
    lines = [
        "You write illustrated articles in Markdown. Start with a title line '# ', then write short "
        "paragraphs. Between paragraphs, on its own line, put an image tag. The four sources and their tags:",
        # No purpose lines here: the 1.5B model copied them into its text ("Search: photos of real
        # things (a web image search)."); the one _CHOOSE sentence says what each source is for.
        *_sources_block(two_phase, purposes=False),
        _SLOTS,
        _CHOOSE,
        "Write about the subject only: never about these rules, the sources or the tags.",
        _edit_rule(),
        _TWO_PHASE_CODE_RULES if two_phase else _CODE_RULES,
        _count_line(max_images, exact),
        "Never use the ' character inside the tag's texts. Never put a tag in a code block.",
        "End the article with a complete sentence.",
        *_style_line(style),
    ]
    return "\n".join(lines)


def _full_prompt(
    off_reasons: Mapping[str, str | None], max_images: int, style: str, two_phase: bool, exact: bool
) -> str:
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
        "- 'params' holds exactly the keys of the chosen source, shown below.",
        "- Write the tag as plain text on its own line where the picture belongs. Never wrap it in a code "
        "block or backticks, and do not announce it ('Here is an image:'); the text around it should read "
        "naturally with the picture in place.",
        "",
        "The four sources, what each is for, and the shape of its tag:",
        *_sources_block(two_phase),
        _SLOTS,
        "",
        _CHOOSE,
    ]
    off = [s for s in SOURCES if off_reasons.get(s) is not None]
    if off:
        lines.append(
            "Some tools are off right now (" + ", ".join(off) + "). Still pick the source the picture needs: "
            "a tag for a tool that is off becomes a placeholder the user fills later. Do not draw a photo "
            "or an illustration with code instead."
        )
    lines += ["", _edit_rule(), "", _TWO_PHASE_CODE_RULES if two_phase else _CODE_RULES, ""]
    lines += [
        _count_line(max_images, exact) + " Place each where it helps the reader.",
        "Keep strings inside a tag on one line. End the article with a complete sentence.",
        *_style_line(style),
    ]
    return "\n".join(lines)


# Every example string our prompts show (tag shapes with slots, the purpose lines); the leak check
# compares each with every output (studio.quality.leaks). Measured: the 1.5B model copied purpose
# lines into a caption and into an article's text.
def example_texts() -> list[str]:
    out = [tag_shape(s, two_phase_code=tp) for s in SOURCES for tp in (True, False)]
    out += list(_DESCRIPTIONS.values()) + [params_shape(s, two_phase_code=False) for s in SOURCES]
    out += [line.split("`: ", 1)[1] for line in _PURPOSE.values()]  # what each source is for
    out += [_CHOOSE]
    return out


# What the user message adds when the brief names a kind of picture (studio.core.brief_plan).
_ASKED: dict[str, str] = {
    Source.CODE: "Draw the chart I ask for with a `code` tag (search and diffusion cannot draw data).",
    Source.SEARCH: "Show the photo I ask for with a `search` tag.",
    Source.DIFFUSION: "Show the illustration I ask for with a `diffusion` tag.",
    Source.EDIT: "Make the change I ask for to my image with an `edit` tag.",
}


def language_line(plan: BriefPlan) -> str:
    """The line that asks for the brief's language ("" for English, the prompts' own language)."""
    return "" if plan.language == "en" else f"Write the whole article in {plan.language_name}."


def user_prompt(brief: str, *, wanted_images: int | None, user_image_count: int, plan: BriefPlan | None = None) -> str:
    """The user message: the brief, how many images are wanted, the pictures it asks for, its
    language, and the user's own images.

    wanted_images: None leaves the number to the model, 0 or -1 asks for none, N asks for exactly N.
    plan: the brief read once (studio.core.brief_plan); read here from ``brief`` when not given.
    """
    plan = plan or plan_text(brief, wanted_images=wanted_images, user_images=user_image_count)
    if wanted_images is not None and wanted_images < -1:
        raise ValueError("wanted_images must be None, -1 (none), 0 (none) or a positive count")
    if user_image_count < 0:
        raise ValueError("user_image_count must be >= 0")
    lines = [brief.strip()]
    if wanted_images is not None and wanted_images <= 0:
        lines.append("Write it without images: no image tags at all.")
    elif wanted_images == 1:
        lines.append("Include exactly 1 image tag.")
    elif wanted_images is not None:
        lines.append(f"Include exactly {wanted_images} image tags.")
    if wanted_images is None or wanted_images > 0:
        lines += [_ASKED[source] for source in plan.kinds]
    if user_image_count == 1:
        lines.append("I attached 1 image; it is img_index 0.")
    elif user_image_count > 1:
        lines.append(f"I attached {user_image_count} images; they are img_index 0 to {user_image_count - 1}.")
    if language_line(plan):
        lines.append(language_line(plan))
    return "\n\n".join(lines)
