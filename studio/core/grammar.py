"""GBNF grammars (llama.cpp) that let a small model write only valid LLM-I articles.

``article_grammar`` admits: a Markdown title line, then paragraphs interleaved with between
``min_images`` and ``max_images`` tags, each tag on its own line and exactly of the form
``<imgen>{'source': 'S', 'description': '...', 'params': {...}}</imgen>`` with the per-source
keys of docs/protocol.md. Every tag the grammar admits parses as a valid ToolCall with
``studio.core.protocol.find_tags``:

- string contents exclude ``'``, ``\\``, ``<`` and newlines, so no string can close early or
  swallow the closing tag; search/diffusion/edit strings start with a visible character (the
  protocol rejects blank ones);
- an edit's ``img_index`` is enumerated per tag position: the tag at 0-based position k may
  point at 0..(user_image_count + k - 1) only, so an edit first with no user images is
  impossible;
- only the sources passed in ``available`` have rules at all (the writer passes all four: a tag for
  a tool that is off becomes a placeholder block), and with ``max_images=0`` there is no tag
  rule at all: the article is a title and paragraphs.

Two-phase code (the default): code tags carry ``{'code': ''}`` and the chart code comes from a
dedicated call (studio.core.charts.ChartCoder, with ``code_grammar``). Measured by the team: a
code string inside the article grammar steered the 0.5B model well but made the 1.5B model try
to close the tag early and fill the string with junk, so the one-pass code rule is kept only
for models that do not need two phases.

``code_grammar`` admits one fenced Python block (the shape coder models write on their own)
drawn from a small Python subset that always compiles: assignments, calls, imports, comments
and one-level ``for`` loops, with strings, numbers, lists, tuples, dicts and simple f-strings.
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.params import PARAMS_BY_SOURCE, SOURCES, edit_targets, edits_images, param_slots

# Length caps of tag strings (characters). Generous for a caption / query / prompt, small
# enough that a looping model is cut off quickly.
DESCRIPTION_MAX = 120
QUERY_MAX = 120
PROMPT_MAX = 300
TITLE_MAX = 100
# One-pass code string (two_phase_code=False): lines and characters per line.
CODE_MAX_LINES = 40
CODE_LINE_MAX = 160
# Paragraphs between two tags (and before the first / after the last).
PARAGRAPHS_PER_GAP = 2
# A paragraph is whole sentences (see ``article_grammar``): one sentence holds at most
# SENTENCE_MAX characters (or max_paragraph_chars, when smaller), and a paragraph at most one
# sentence per SENTENCE_SHARE characters of max_paragraph_chars (700: 7 sentences).
SENTENCE_MAX = 400
SENTENCE_SHARE = 100


def _text(first: str, rest: str, max_len: int) -> str:
    """A GBNF run: one ``first`` char then up to max_len - 1 ``rest`` chars."""
    return f"{first} {rest}{{0,{max_len - 1}}}"


def _lit(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# A param's value rule in the grammar: a text param's rule has its name, except chart code (the
# "code-body" rule: lines, no quote); a number param (img_index) lists the indices it may take.
_VALUE_RULE = {"code": "code-body"}


def _tag_body(source: str, two_phase_code: bool, indices: str = "") -> str:
    """The GBNF of one ``source`` tag, built from its Params model (tools.params), as the prompt's
    tag shape and ``protocol.format_tag`` are."""
    model = PARAMS_BY_SOURCE[source]
    parts = []
    for name, kind, _ in param_slots(source):
        if kind is int:
            parts.append(f"'{name}': \" ( {indices} ) \"")
        elif two_phase_code and name in model.may_be_empty:
            parts.append(f"'{name}': ''")
        else:
            parts.append(f"'{name}': '\" {_VALUE_RULE.get(name, name)} \"'")
    return f"\"<imgen>{{'source': '{source}', 'description': '\" desc \"', 'params': {{{', '.join(parts)}}}}}</imgen>\""


def _positions(available: Sequence[str], max_images: int, user_image_count: int) -> list[list[str]]:
    """For each tag position, which sources can be used there (edit needs an earlier image)."""
    out: list[list[str]] = []
    for k in range(max_images):
        here: list[str] = [
            s for s in SOURCES if s in available and (not edits_images(s) or edit_targets(user_image_count + k))
        ]
        if not here:
            break  # no tag can stand here, so none can follow either
        out.append(here)
    return out


def article_grammar(
    available: Sequence[str],
    *,
    min_images: int,
    max_images: int,
    user_image_count: int = 0,
    max_paragraph_chars: int = 700,
    two_phase_code: bool = True,
    required: Sequence[str] = (),
) -> str:
    """GBNF for a whole article; raises ValueError when the request cannot be met.

    ``required``: sources that one tag at least must use each (the brief asks for a chart and a
    photo: ``("code", "search")``)."""
    unknown = sorted(set(available) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown tool source(s): {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    if not 0 <= min_images <= max_images:
        raise ValueError(f"need 0 <= min_images <= max_images, got {min_images}, {max_images}")
    if user_image_count < 0 or max_paragraph_chars < 2:
        raise ValueError("user_image_count must be >= 0 and max_paragraph_chars >= 2")
    sentence_max = min(max_paragraph_chars, SENTENCE_MAX)
    sentences = max(1, -(-max_paragraph_chars // SENTENCE_SHARE))
    positions = _positions(available, max_images, user_image_count)
    if len(positions) < min_images:
        raise ValueError(
            f"cannot place {min_images} image(s) with sources {list(available)} "
            f"and {user_image_count} user image(s): an edit needs an earlier image"
        )
    rules: dict[str, str] = {
        "root": 'title "\\n\\n" gap seq0',
        "title": '"# " ' + _text("[^\\n<#` ]", "[^\\n<`]", TITLE_MAX),
        # No '<' (no stray tags or HTML), no backtick (no code fences), no '[' (no Markdown image
        # or link: the 1.5B model wrote ![...](https://example.com/...) pictures), one line per
        # paragraph. A paragraph is a heading or whole sentences, so no paragraph (and so no
        # article) can end mid-sentence: a flat length cap ended 5 of 21 articles mid-sentence.
        "para": f"heading | sent1 sentn{{0,{sentences - 1}}}",
        "heading": '"#"{2,3} " " ' + _text("[^\\n<`[# ]", "[^\\n<`[]", TITLE_MAX),
        "sent1": _text("[^\\n<`[ .!?:#]", "[^\\n<`[.!?:]", sentence_max) + " end",
        "sentn": _text("[^\\n<`[.!?:]", "[^\\n<`[.!?:]", sentence_max) + " end",
        "end": "[.!?:]{1,3} [)\"'\u201d\u00bb]?",
        "gap": f'para ("\\n\\n" para){{0,{PARAGRAPHS_PER_GAP - 1}}}',
        # Caption: no quote of either kind (the protocol's code fallback forbids both).
        "desc": _text("[^'\"\\\\<\\n ]", "[^'\"\\\\<\\n]", DESCRIPTION_MAX),
        "query": _text("[^'\\\\<\\n ]", "[^'\\\\<\\n]", QUERY_MAX),
        "prompt": _text("[^'\\\\<\\n ]", "[^'\\\\<\\n]", PROMPT_MAX),
    }
    for name in SOURCES:
        if name in available and positions and not edits_images(name):  # no position: no tag rule at all
            rules[f"tag-{name}"] = _tag_body(name, two_phase_code)
    if not two_phase_code and "code" in available and positions:
        # Any char but the quote, '<' and backslash: the string cannot close early, cannot hold
        # </imgen>, and the protocol's fallback reads its raw newlines verbatim.
        rules["code-body"] = f'cline ("\\n" cline){{0,{CODE_MAX_LINES - 1}}}'
        rules["cline"] = f"[^'\\\\<\\n]{{0,{CODE_LINE_MAX}}}"
    for k, here in enumerate(positions):
        options = [f"tag-{s}" for s in here if not edits_images(s)]
        for s in here:
            if edits_images(s):  # the indices it may name depend on the position
                indices = " | ".join(_lit(str(i)) for i in edit_targets(user_image_count + k))
                rules[f"tag-{s}{k}"] = _tag_body(s, two_phase_code, indices)
                options.append(f"tag-{s}{k}")
        rules[f"tag{k}"] = " | ".join(options)
        more = f'"\\n\\n" tag{k} "\\n\\n" gap seq{k + 1}'
        rules[f"seq{k}"] = f'{more} | ""' if k >= min_images else more
    n = len(positions)
    rules[f"seq{n}"] = '""'
    if required:
        _require_all(rules, positions, required)
    return "\n".join(f"{name} ::= {body}" for name, body in rules.items()) + "\n"


def _state(k: int, missing: tuple[str, ...]) -> str:
    """The rule for "k tags written, these required sources still missing" (seq{k} when none are)."""
    return f"seq{k}-" + "".join(source[0] for source in missing) if missing else f"seq{k}"


def _require_all(rules: dict[str, str], positions: list[list[str]], required: Sequence[str]) -> None:
    """Rewrite the tag sequence so that every ``required`` source is used by one tag at least.

    A state is (tags written, required sources still missing); a state with sources missing cannot
    end, and a tag is offered only where the sources still missing fit in the positions left, so
    every path the grammar allows ends with all of them written."""
    wanted = tuple(dict.fromkeys(required))
    for source in wanted:
        if not any(source in here for here in positions):
            raise ValueError(f"no tag position can use {source!r}")
    n = len(positions)
    if len(wanted) > n:
        raise ValueError(f"{len(wanted)} required sources need {len(wanted)} tags; at most {n} are allowed here")

    def feasible(k: int, missing: tuple[str, ...]) -> bool:  # can positions k.. still hold them?
        return len(missing) <= n - k and all(any(s in here for here in positions[k:]) for s in missing)

    todo, done = [(0, wanted)], set()
    while todo:
        k, missing = todo.pop()
        if (k, missing) in done:
            continue
        done.add((k, missing))
        groups: dict[tuple[str, ...], list[str]] = {}
        for option in rules[f"tag{k}"].split(" | "):
            source = option.removeprefix("tag-").rstrip("0123456789")  # tag-edit3: the edit tag at position 3
            after = tuple(s for s in missing if s != source)
            if feasible(k + 1, after):
                groups.setdefault(after, []).append(option)
        if not groups:
            raise ValueError(f"cannot place the required sources {list(missing)} from tag {k + 1} on")
        alternatives = []
        for after, options in groups.items():
            tag = options[0] if len(options) == 1 else "( " + " | ".join(options) + " )"
            alternatives.append(f'"\\n\\n" {tag} "\\n\\n" gap {_state(k + 1, after)}')
            if after:
                todo.append((k + 1, after))
        rules[_state(k, missing)] = " | ".join(alternatives)
    rules["root"] = f'title "\\n\\n" gap {_state(0, wanted)}'
    del rules["seq0"]  # unreachable now (only root referred to it)


# --- phase 2: chart code ------------------------------------------------------------------

# A Python subset that always compiles (unless a keyword is used as a name, which only happens
# when a model writes a construct outside the subset): one statement per line; for / if-elif-else
# blocks up to three levels deep; def at the top level (the only place `return` is allowed).
_CODE_RULES: dict[str, str] = {
    "root": '"```python\\n" line0{1,60} "```"',
    "comment": '"#" [^\\n`]{0,100}',
    "simple": 'import-stmt | assign | expr | "pass" | "del " target',
    "simple-f": 'simple | "return" ( " " expr ( ", " expr ){0,3} )?',
    "import-stmt": '"import " module ( " as " name )? | "from " module " import " name ( ", " name ){0,5}',
    # Only plotting/maths modules: the 1.5B model otherwise looped on `from PIL import ...` /
    # `import requests` lines until its token limit (none of them can run in the sandbox anyway).
    "module": '( "matplotlib" | "mpl_toolkits" | "numpy" | "pandas" | "seaborn" | "math" | "random" | "datetime" )'
    ' ( "." name ){0,2}',
    "dotted": 'name ( "." name ){0,3}',
    "assign": 'target ( ", " target ){0,3} " = " expr | target " " ( "+=" | "-=" | "*=" | "/=" ) " " expr',
    "target": 'name ( "." name | "[" expr "]" ){0,3}',
    "for-head": '"for " name ( ", " name ){0,2} " in " expr ":\\n"',
    "params": 'name ( "=" expr )? ( ", " name ( "=" expr )? ){0,6}',
    "expr": 'unary ( binop unary ){0,8} ( " if " unary ( binop unary )? " else " unary )?',
    "binop": '" + " | " - " | " * " | " / " | " // " | " % " | " ** " | " == " | " != " | " < " | " > " '
    '| " <= " | " >= " | " and " | " or " | " in " | " not in " | " is " | " is not "',
    # A number takes no trailers: 2022.shape is a syntax error ("invalid decimal literal").
    "unary": '( "-" | "not " )? ( number | postfix )',
    "postfix": 'atom ( "." name | "(" args? ")" | "[" subscript "]" ){0,6}',
    "atom": 'name | string | fstring | list | paren | dict | "lambda " name ": " expr',
    "subscript": 'expr | expr? ":" expr?',
    "args": 'arg ( ", " arg ){0,15}',
    "arg": 'name "=" expr | expr | "*" name | "**" name',
    "list": '"[" ( expr ( ", " expr ){0,40} | expr " for " name ( ", " name )? " in " expr )? "]"',
    "paren": '"(" ( expr ( "," ( " " expr ( ", " expr ){0,10} )? )? )? ")"',
    "dict": '"{" ( expr ": " expr ( ", " expr ": " expr ){0,30} )? "}"',
    "name": "[a-zA-Z_] [a-zA-Z0-9_]{0,30}",
    "number": '[0-9]{1,12} ( "." [0-9]{1,8} )? ( "e" "-"? [0-9]{1,3} )?',
    "string": '"\'" [^\'\\\\\\n`]{0,80} "\'" | "\\"" [^"\\\\\\n`]{0,80} "\\""',
    # f-strings: plain chars, or a {name.attr} / {name:.1f} field (nothing that could nest quotes).
    "fstring": '"f\\"" ( [^"\\\\\\n`{}] | "{" dotted ( ":" [.0-9a-z,%]{1,6} )? "}" ){0,60} "\\""',
}
_CODE_DEPTH = 3


def _code_block_rules() -> dict[str, str]:
    """Lines per indentation level; suffix -f marks a function body (where return is legal)."""
    rules: dict[str, str] = {}
    for level in range(_CODE_DEPTH):
        for in_def in (False, True) if level else (False,):
            sfx = f"{level}{'-f' if in_def else ''}"
            ind = _lit("    " * level) + " " if level else ""
            simple = "simple-f" if in_def else "simple"
            stmt = [f'{ind}{simple} "\\n"']
            if level + 1 < _CODE_DEPTH:
                inner = f"{level + 1}{'-f' if in_def else ''}"
                body = f"body{inner}"
                stmt.append(f"{ind}for-head {body}")
                stmt.append(
                    f'{ind}"if " expr ":\\n" {body} ( {ind}"elif " expr ":\\n" {body} ){{0,4}} '
                    f'( {ind}"else:\\n" {body} )?'
                )
                if level == 0:
                    stmt.append('"def " name "(" params? "):\\n" body1-f')
            rules[f"stmt{sfx}"] = " | ".join(f"( {s} )" for s in stmt)
            rules[f"line{sfx}"] = f'stmt{sfx} | {ind}comment "\\n"'
            if level:
                # A block needs a statement; comments alone do not make one.
                rules[f"body{sfx}"] = f'( {ind}comment "\\n" ){{0,2}} stmt{sfx} line{sfx}{{0,11}}'
    return rules


def code_grammar() -> str:
    """GBNF for phase 2: one ```python fenced block in a compiling Python subset."""
    rules = {**_CODE_RULES, **_code_block_rules()}
    return "\n".join(f"{name} ::= {body}" for name, body in rules.items()) + "\n"
