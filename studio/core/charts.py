"""Phase 2 of two-phase code: chart code written by a dedicated model call.

Small models cannot write a chart's code inside the article's tag (measured by the team: the
1.5B model closes the tag early or fills the string with junk), so the article grammar makes
them leave ``{'code': ''}`` and put the chart's type and numbers in the description. The
engine then asks a ChartCoder for the code, compile-checks it, runs it in the sandbox and, on
an error, asks for one repair with the traceback:

    code = coder.write(description, context)     # plain Python, data inline
    error = compile_check(code)                   # None, or a readable last line
    ... run on the sandbox; on failure: code = coder.repair(code, error, description, context)

``ChartWritingTool`` (at the end) is the wrapper the tool runner sees: the engine, regeneration
and quality mode all get two-phase charts through it, without knowing the code tool by name.

The call is a few-shot chat (one worked example) and, by default, the ``code_grammar`` GBNF,
which admits one ```python block of a Python subset that compiles. The grammar is ignored by
servers that do not support it; ``clean_code`` then extracts the code from whatever came back.
Model output is hostile text: it is only ever compiled here, never run (the sandbox runs it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from models.base import ChatBackend, ChatOptions, Message, complete
from models.errors import Cancelled, StudioError
from models.vocab import Source
from studio.core.chart_checks import (
    chart_request,
    described_data,
    fallback_code,
    illustrative_note_code,
    number_sentences,
    photo_request,
    relevance,
    stated_numbers,
)
from studio.core.chart_data import chart_data, data_origin, made_up
from studio.core.grammar import code_grammar
from studio.core.picture_kinds import not_a_chart
from studio.core.protocol import TAG_RE, ToolCall
from tools.base import Availability, Tool, ToolContext, ToolResult
from tools.params import CodeParams

MAX_CODE_CHARS = 20_000  # longer output is a runaway model, not a chart
MAX_CONTEXT_CHARS = 1_200
MAX_ERROR_CHARS = 1_500
DEFAULT_OPTIONS = ChatOptions(max_tokens=700, temperature=0.2)
FRESH_TEMPERATURE = 0.8  # "again": new code at a new seed, so sample more freely

_SYSTEM = (
    "You write Python code that draws exactly one chart or diagram with matplotlib. These names are "
    "already imported: plt (matplotlib.pyplot), pd (pandas), sns (seaborn), np (numpy). Use the numbers "
    "the request and the text state, written inline as lists, every list of a series the same length; "
    "each series gets its own numbers. Give the chart a title and axis labels that name what the "
    "request names. Do not call plt.show(), plt.savefig() or plt.close(), do not read or write files, "
    "do not open images, do not download anything. Answer with one ```python code block and nothing else."
)
_NO_NUMBERS = (
    "The text states no numbers for this chart: use plausible round numbers (the chart will be marked as illustrative)."
)
# The one worked example is a shape with <slots>, not content: a content example (a bicycle chart)
# leaked into unrelated articles' charts. The code grammar admits no ``[<`` so the lists cannot be
# copied; the leak check (studio.quality.leaks) watches the strings.
_EXAMPLE_USER = "Chart: <chart type> of <what is measured>: <label> <number>, <label> <number>, <label> <number>"
_EXAMPLE_CODE = (
    "labels = [<the labels from the request>]\n"
    "values = [<one number per label, from the request>]\n"
    "plt.figure(figsize=(7, 4))\n"
    'plt.bar(labels, values, color="steelblue")\n'
    'plt.title("<what is measured>")\nplt.xlabel("<what the labels are>")\nplt.ylabel("<the unit of the numbers>")\n'
    "plt.tight_layout()"
)
EXAMPLE_TEXTS = (_EXAMPLE_USER, _EXAMPLE_CODE)
# The skeleton's slot texts of three words or more (shorter ones, "label", are real words of
# real charts): the code grammar drops the brackets, and the 1.5B model once labelled a chart's
# axes "what the labels are" / "the unit of the numbers".
EXAMPLE_SLOTS = tuple(
    sorted({m.lower() for m in re.findall(r"<([^<>]+)>", _EXAMPLE_USER + _EXAMPLE_CODE) if len(m.split()) >= 3})
)


def copied_slot(code: str) -> str | None:
    """The first example slot text the code copies (in any case), else None."""
    folded = " ".join(code.lower().split())
    return next((slot for slot in EXAMPLE_SLOTS if slot in folded), None)


_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
# Lines the runtime must not see: it saves the current figure itself, so showing, saving to a
# path of the model's choosing, or closing the figure would lose or misplace the chart.
_DROP_RE = re.compile(r"^(\s*)plt\.(show|savefig|close)\(.*\)\s*(#.*)?$")


def _strip_tags(text: str) -> str:
    """Tags become [image]; Markdown heading marks go (they ended up in chart titles)."""
    text = re.sub(r"(?m)^\s{0,3}#{1,6}\s+", "", TAG_RE.sub(" [image] ", text))
    return " ".join(text.split())


def _clip(text: str, limit: int, *, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    return "..." + text[-limit:] if keep_end else text[:limit] + "..."


def _compiles(code: str) -> bool:
    try:
        compile(code, "<chart>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _drop_runtime_calls(code: str) -> str:
    out = []
    for line in code.split("\n"):
        m = _DROP_RE.match(line)
        if m is None:
            out.append(line)
        elif m.group(1):  # inside a block: keep the block non-empty
            out.append(m.group(1) + "pass")
    return "\n".join(out)


def clean_code(text: str) -> str:
    """Plain Python from a model answer: the first fenced block if any (an unclosed fence from a
    cut-off answer counts), without plt.show()/savefig()/close(), with leading prose and a
    trailing cut-off line trimmed where that makes it compile. Imports are kept (harmless: the
    modules are pre-imported in the sandbox). Never raises; may return code that does not compile.
    """
    text = text[:MAX_CODE_CHARS].replace("\r\n", "\n")
    blocks = list(_FENCE_RE.finditer(text))
    if blocks:
        python = [b for b in blocks if b.group(1).lower() in ("python", "py", "python3")]
        text = (python or blocks)[0].group(2)
    code = _drop_runtime_calls(text).strip("\n")
    code = "\n".join(line.rstrip() for line in code.split("\n")).strip("\n")
    if not code.strip() or _compiles(code):
        return code
    lines = code.split("\n")
    # Leading prose ("Here is the code:") and a trailing half line (max_tokens hit) are the usual
    # damage; a few cheap compile attempts find the largest window that compiles.
    for start in range(min(4, len(lines))):
        for end in range(len(lines), max(start, len(lines) - 6), -1):
            candidate = "\n".join(lines[start:end]).strip("\n")
            if candidate.strip() and _compiles(candidate):
                return candidate
    return code


def compile_check(code: str) -> str | None:
    """None when the code compiles, else one readable line (what and where)."""
    if not code.strip():
        return "the chart code is empty"
    try:
        compile(code, "<chart>", "exec")
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        text = (exc.text or "").strip()
        shown = f": {_clip(text, 80)}" if text else ""
        return f"{type(exc).__name__}: {exc.msg}{where}{shown}"
    except ValueError as exc:  # e.g. a NUL byte in the source
        return f"ValueError: {exc}"
    return None


class ChartCoder:
    """Writes and repairs chart code with a chat backend (see the module docstring)."""

    def __init__(self, backend: ChatBackend, options: ChatOptions | None = None, *, use_grammar: bool = True) -> None:
        """options: sampling defaults (max_tokens, temperature, seed...); use_grammar adds the code
        GBNF, which llama.cpp servers enforce and others ignore."""
        self.backend = backend
        base = options or DEFAULT_OPTIONS
        self.options = dataclasses.replace(base, grammar=code_grammar()) if use_grammar else base

    def messages(self, description: str, context: str) -> list[Message]:
        """The few-shot chat for one chart: system rules, one worked example, the request."""
        return [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": _EXAMPLE_USER},
            {"role": "assistant", "content": f"```python\n{_EXAMPLE_CODE}\n```"},
            {"role": "user", "content": self._request(description, context)},
        ]

    def write(
        self, description: str, context: str, *, seed: int | None = None, cancel: Callable[[], bool] | None = None
    ) -> str:
        """Chart code for a tag's description, given the text around the tag. Raises ModelError,
        or Cancelled when ``cancel`` says stop while the model writes (its stream is closed).

        ``seed``: sample fresh code at this seed (regenerate "again"); None uses the defaults."""
        options = self.options
        if seed is not None:
            options = dataclasses.replace(options, temperature=FRESH_TEMPERATURE, seed=seed)
        return clean_code(complete(self.backend, self.messages(description, context), options, cancel=cancel))

    def repair(
        self, code: str, error: str, description: str, context: str, *, cancel: Callable[[], bool] | None = None
    ) -> str:
        """One repair turn: the failed code and its error go back to the model. Raises ModelError
        (or Cancelled, as ``write``)."""
        messages = self.messages(description, context)
        messages.append({"role": "assistant", "content": f"```python\n{_clip(code, MAX_CODE_CHARS)}\n```"})
        messages.append(
            {
                "role": "user",
                "content": "That code failed with this error:\n"
                f"{_clip(error.strip(), MAX_ERROR_CHARS, keep_end=True)}\n"
                "Write the whole corrected code, in one ```python block.",
            }
        )
        return clean_code(complete(self.backend, messages, self.options, cancel=cancel))

    @staticmethod
    def _request(description: str, context: str) -> str:
        chart = " ".join(description.split()) or "a chart that fits the text"
        plain_context = _strip_tags(context)
        around = _clip(plain_context, MAX_CONTEXT_CHARS, keep_end=True)
        lines = [f"Chart: {chart}"]
        if around:
            lines.append(f"Text around it: {around}")
        stated = number_sentences(plain_context[-3 * MAX_CONTEXT_CHARS :])
        if stated:
            lines.append("Numbers the text states: " + " ".join(stated))
        if not states_data(description, context):
            lines.append(_NO_NUMBERS)
        return "\n".join(lines)


def route_charts_to_code(call: ToolCall) -> ToolCall:
    """A chart or diagram asked of search / diffusion goes to the chart writer instead (measured:
    the 1.5B model wrote 'A bar chart showing the shares of ...' as a diffusion tag); the engine
    records the model's source as ``routed_from``. A photo-like description stays where it is."""
    if call.source not in (Source.SEARCH, Source.DIFFUSION) or not chart_request(call.description):
        return call
    if photo_request(call.description):
        return call
    return dataclasses.replace(call, source=Source.CODE, params=CodeParams(code=""))


def states_data(description: str, context: str) -> bool:
    """Does the request or the text just before it state numbers for the chart?"""
    return bool(stated_numbers(description) or number_sentences(_strip_tags(context)[-MAX_CONTEXT_CHARS:]))


STOPPED = "stopped before the chart was drawn"

NOT_A_CHART = (
    "code draws charts and diagrams only, and this asks for a photo or an illustration ({what}). "
    "Upload an image for this block, or run it again with search (a real photo) or diffusion (an illustration)."
)


class ChartWritingTool(Tool[CodeParams]):
    """Two-phase chart code as a tool wrapper: a code call with an empty ``code`` gets its code
    from the ChartCoder (description + the text before the block, from the context), runs it on
    the wrapped code tool, and on a failure asks for one repair with the error.

    In order: code that is already there runs (checked as below); a photo-like request for new
    code is refused (a placeholder block, never a faked picture); the
    code is compile-checked before it reaches the sandbox; a chart whose title and axis labels
    share no word with its description counts as a failure to repair; when the text states no
    numbers the chart is stamped "Illustrative numbers"; when the model's code fails twice (or the
    model cannot be asked), or still does not match its description after the repair while the
    description states the data, a plain bar chart of that data is drawn from our own template,
    marked ``fallback`` in provenance. Provenance also records ``relevance``,
    ``illustrative`` and ``repaired``.

    A context seed means "again" (regenerate): the code is sampled fresh at that seed. The
    result carries the code that ran in ``params``, so the block records what was drawn. Code
    that is already there runs as it is (plus the relevance record), so LLM-I checkpoints that
    write their own code are untouched.
    """

    name = Source.CODE
    Params = CodeParams

    def __init__(self, base: Tool[CodeParams], coder: ChartCoder) -> None:
        self.base = base
        self.coder = coder

    def availability(self) -> Availability:
        return self.base.availability()

    def run(self, params: CodeParams, context: ToolContext) -> ToolResult:
        description = context.description
        if params.code.strip():  # code that is there draws what it draws, whatever the words say
            return self._settle(self._checked(params.code, context, {}), context)
        if not_a_chart(description):
            what = _clip(" ".join(description.split()), 80)
            return ToolResult.placeholder_for(NOT_A_CHART.format(what=what), {"placeholder": "not_a_chart"})
        illustrative = not states_data(description, context.text_before)
        try:
            code = self.coder.write(description, context.text_before, seed=context.seed, cancel=context.should_stop)
        except Cancelled:
            return self._out_of_time(context, None, "the model did not finish the chart code in time")
        except StudioError as exc:
            return self._fallback(context, f"could not get chart code from the model: {exc}")
        first = self._attempt(code, context, illustrative)
        invented = None if illustrative or not first.ok else made_up(chart_data(code).values)
        if first.ok and first.provenance.get("relevance", {}).get("ok") and invented is None:
            return self._settle(first, context)
        error = first.error or str(first.provenance.get("relevance", {}).get("reason", ""))
        if invented is not None and not error:  # all-equal or 1, 2, 3 values are no data: repair once
            error = f"{invented}: use the numbers the text states, one per label"
        if context.should_stop():
            return self._out_of_time(context, first, f"{error} (no time left to repair it)")
        try:
            repaired = self.coder.repair(code, error, description, context.text_before, cancel=context.should_stop)
        except Cancelled:
            return self._out_of_time(context, first, f"{error} (the repair did not finish in time)")
        except StudioError as exc:
            return first if first.ok else self._fallback(context, f"{error} (and the repair request failed: {exc})")
        second = self._attempt(repaired, context, illustrative, repaired_from=error)
        if second.ok and second.provenance.get("relevance", {}).get("ok"):
            return self._settle(second, context)
        drawn = second if second.ok else first if first.ok else None
        if drawn is None:
            return self._fallback(context, f"{error}; after one repair: {second.error}")
        if described_data(description):
            # A chart whose title and labels match nothing in its caption misleads the reader
            # (the 1.5B model labelled a solar-capacity chart "City 1" .. "City 10"); the caption
            # states the data, so our plain chart of it is the honest picture.
            why = str(drawn.provenance.get("relevance", {}).get("reason", "")) or error
            return self._fallback(context, f"after one repair the chart still did not match its description: {why}")
        return self._settle(drawn, context)

    def _out_of_time(self, context: ToolContext, first: ToolResult | None, why: str) -> ToolResult:
        """The caller stopped (no result wanted) or the time limit came: keep a chart that ran,
        else draw the plain fallback (a sandbox run, well within the runner's grace)."""
        if context.cancelled():
            return ToolResult.failure(STOPPED)
        if first is not None and first.ok:
            return self._settle(first, context)
        return self._fallback(context, why)

    def _attempt(self, code: str, context: ToolContext, illustrative: bool, *, repaired_from: str = "") -> ToolResult:
        if illustrative and code.strip():
            code = f"{code}\n{illustrative_note_code()}"
        extra: dict[str, object] = {"illustrative": illustrative}
        if repaired_from:
            extra["repaired"] = _clip(repaired_from, 300)
        slot = copied_slot(code)
        if slot is not None:  # the example's slot text is no label: never draw it (a leaked example)
            copied = f"the code copies the example's placeholder text {slot!r}: write the real labels and title"
            return ToolResult.failure(copied, {**extra, "copied_slot": slot}).with_params({"code": code})
        problem = compile_check(code)
        if problem is not None:  # never send code that cannot compile to the sandbox
            return ToolResult.failure(problem, {**extra, "compile_error": problem}).with_params({"code": code})
        return self._checked(code, context, extra)

    def _checked(self, code: str, context: ToolContext, extra: dict[str, object]) -> ToolResult:
        result = self.base.run(CodeParams(code=code), context).with_params({"code": code})
        fit = relevance(context.description, code)
        return dataclasses.replace(result, provenance={**result.provenance, **extra, "relevance": fit.to_dict()})

    def _fallback(self, context: ToolContext, why: str) -> ToolResult:
        code, illustrative = fallback_code(context.description)
        result = self._checked(code, context, {"illustrative": illustrative, "fallback": _clip(why, 500)})
        if result.ok:
            return self._settle(result, context)
        return ToolResult.failure(f"{why}; the plain fallback chart failed too: {result.error}", result.provenance)

    def _settle(self, result: ToolResult, context: ToolContext) -> ToolResult:
        """Record where a drawn chart's numbers came from (``data_from``). Numbers that are made up
        (all equal, 1, 2, 3 ..., or stated nowhere) make the chart illustrative: it is drawn again
        with the "Illustrative numbers" note, so the picture itself says so."""
        if not result.ok:
            return result
        code = str((result.params or {}).get("code", ""))
        if result.provenance.get("illustrative"):
            return dataclasses.replace(result, provenance={**result.provenance, "data_from": "illustrative"})
        data = chart_data(code)
        if not data:  # computed or no numbers (a diagram): nothing to say about their origin
            return result
        origin = context.code_from or data_origin(
            data.values, brief=context.brief, text=f"{context.description}\n{_strip_tags(context.text_before)}"
        )
        why = made_up(data.values) or ("" if origin and origin != "illustrative" else "the numbers are stated nowhere")
        if not why:
            return dataclasses.replace(result, provenance={**result.provenance, "data_from": origin})
        extra = {k: v for k, v in result.provenance.items() if k in ("repaired", "fallback", "relevance")}
        marked = {**extra, "illustrative": True, "data_from": "illustrative", "illustrative_why": _clip(why, 200)}
        redrawn = self._checked(f"{code}\n{illustrative_note_code()}", context, marked)
        return redrawn if redrawn.ok else dataclasses.replace(result, provenance={**result.provenance, **marked})

    def close(self) -> None:
        self.base.close()
