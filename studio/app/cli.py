"""Command line: write an article from a brief, render an existing LLM-I response, export.

    python -m studio write "BRIEF" --out DIR      (embedded model by default)
    python -m studio render RESPONSE.txt --out DIR
    python -m studio tools                         (which tools are on, and how to turn one on)
    python -m studio export DIR_OR_PROJECT --format html|pdf|md|docx --out PATH
    python -m studio prefs export --out DIR        (a TRL dataset: DPO, reward, KTO, vision DPO)
    python -m studio taste train [--user NAME]     (a reward model of the user's own choices)
    python -m studio bench BRIEFS.jsonl --out DIR [--limit N] [--quality N]

Progress goes to stderr while the article streams; the paths written go to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, assert_never

from models.base import capabilities_of
from models.errors import StudioError
from models.vocab import BlockStatus
from studio.app.logs import configure_logging
from studio.app.settings import Settings, load_settings
from studio.core.events import (
    ArticleDone,
    Event,
    TagOpened,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallInvalid,
    ToolCallQueued,
    ToolCallStarted,
)

if TYPE_CHECKING:
    from studio.app.services import Services
    from studio.core.agent import Brief


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for flag, key in (
        ("backend", "backend"),
        ("base_url", "openai_base_url"),
        ("model", "openai_model"),
        ("gguf", "embedded_gguf"),
        ("weights", "embedded_weights"),
        ("threads", "embedded_threads"),
        ("max_tokens", "max_tokens"),
        ("tools", "tools_enabled"),
        ("max_images", "max_images"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value.split(",") if key == "tools_enabled" else value
    return load_settings(**overrides)


class Progress:
    """Prints the article as it streams, and one line per tool event."""

    def __init__(self, out: TextIO, *, show_text: bool = True) -> None:
        self.out = out
        self.show_text = show_text
        self.at_line_start = True

    def _line(self, text: str) -> None:
        if not self.at_line_start:
            self.out.write("\n")
        self.out.write(text + "\n")
        self.at_line_start = True
        self.out.flush()

    def __call__(self, event: Event) -> None:
        match event:
            case TextDelta():
                if self.show_text and event.text:
                    self.out.write(event.text)
                    self.at_line_start = event.text.endswith("\n")
                    self.out.flush()
            case TagOpened():
                self._line(f"  [image {event.image_index}] planning a picture…")
            case ToolCallQueued():
                self._line(f"  [image {event.image_index}] {event.source} queued: {event.description}")
            case ToolCallStarted():
                self._line(f"  [{event.block_id}] {event.source} running")
            case ToolCallFinished():
                self._line(f"  [{event.block_id}] {event.source} ok in {event.seconds:.1f}s")
            case ToolCallFailed():
                self._line(f"  [{event.block_id}] {event.source} FAILED in {event.seconds:.1f}s: {event.error}")
            case ToolCallInvalid():
                self._line(f"  [image {event.image_index}] INVALID tag: {event.reason}")
            case ArticleDone():
                images = event.article.image_blocks()
                ok = sum(b.status == BlockStatus.OK for b in images)
                self._line(f"done in {event.seconds:.1f}s: {ok}/{len(images)} images ok")
                if event.error:
                    self._line(f"the model stream stopped early: {event.error}")
                if event.article.guard_note():  # e.g. "repetition removed: ..." (article.json: "removed")
                    self._line(f"NOTE: {event.article.guard_note()}")
                if event.cut_off:
                    self._line(
                        "CUT OFF: the model stopped at its token limit, so the article may end mid-sentence "
                        "(raise STUDIO_MAX_TOKENS, or continue it)"
                    )
            case _:
                assert_never(event)


def _consume(
    events: Iterable[Event],
    out_dir: Path,
    quiet: bool,
    wanted: int | None = None,
    writer: dict[str, str | None] | None = None,
) -> int:
    from studio.export.outdir import save_article_dir
    from studio.quality.honesty import count_note

    progress = Progress(sys.stderr, show_text=not quiet)
    done: ArticleDone | None = None
    for event in events:
        progress(event)
        if isinstance(event, ArticleDone):
            done = event
    assert done is not None, "the engine always ends with ArticleDone"
    paths = save_article_dir(done.article, out_dir, writer=writer)
    images = done.article.image_blocks()
    if wanted is not None:  # an exact count is met, or the reason is said
        why = count_note(len(images), -1 if wanted <= 0 else wanted, done.article, done.cut_off)
        print(f"images: {len(images)} written" + (f"; {why}" if why else ", as wanted"), file=sys.stderr)
    for block in images:
        if block.status == BlockStatus.PLACEHOLDER:
            print(f"placeholder {block.id} ({block.source}): {block.error}", file=sys.stderr)
    print(paths["html"])
    print(paths["json"])
    return 1 if done.error else 0


def _read_images(paths: Sequence[str] | None) -> tuple[bytes, ...]:
    return tuple(Path(p).read_bytes() for p in paths or ())


def cmd_write(args: argparse.Namespace) -> int:
    from models.base import model_name_of
    from studio.app.services import build_services
    from studio.core.agent import Brief, write_article

    settings = _settings_from(args)
    services = build_services(settings)
    try:
        for line in services.describe_tools():
            print(f"  tool {line}", file=sys.stderr)
        print(f"  model: {services.backend.describe()}", file=sys.stderr)
        brief = Brief(args.brief, wanted_images=args.images, user_images=_read_images(args.image), style=args.style)
        writer = {"written_by": "model", "backend": services.backend.name, "model": model_name_of(services.backend)}
        if args.quality > 1:
            return _write_quality(brief, services, args, writer)
        return _consume(write_article(brief, services), Path(args.out), args.quiet, args.images, writer)
    finally:
        services.close()


def _write_quality(
    brief: Brief, services: Services, args: argparse.Namespace, writer: dict[str, str | None] | None = None
) -> int:
    """Quality mode: N candidates, the judge (or the rule reward) picks, then polish."""
    import json

    from studio.export.outdir import save_article_dir
    from studio.quality.scaling import CandidateEvent, ScalingNote, collect_with, write_best_article

    judge, image_judge = services.judges()
    progress = Progress(sys.stderr, show_text=False)

    def show(event: object) -> None:
        if isinstance(event, ScalingNote):
            print(f"quality: {event.message}", file=sys.stderr)
        elif isinstance(event, CandidateEvent) and not isinstance(event.event, (TextDelta, ArticleDone)):
            progress(event.event)

    events = write_best_article(brief, services, candidates=args.quality, judge=judge, image_judge=image_judge)
    result = collect_with(events, show)
    paths = save_article_dir(result.article, Path(args.out), writer=writer)
    scores = Path(args.out) / "quality.json"
    scores.write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
    print(paths["html"])
    print(paths["json"])
    print(scores)
    return 1 if result.article.error else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from studio.app.services import build_services
    from studio.quality.benchmark import format_table, load_briefs, run_benchmark, summarize

    briefs = load_briefs(Path(args.briefs))[: args.limit] if args.limit else load_briefs(Path(args.briefs))
    services = build_services(_settings_from(args))
    judge, image_judge = services.judges()
    weak = ""
    try:
        if args.judge == "embedded" and judge is None:
            judge, weak = embedded_judge(services)
        for line in services.describe_tools():
            print(f"  tool {line}", file=sys.stderr)
        print(f"  model: {services.backend.describe()}", file=sys.stderr)
        print(
            f"  judge: {weak or (judge.describe() if judge else 'none (STUDIO_JUDGE_BASE_URL unset)')}", file=sys.stderr
        )
        rows = run_benchmark(
            briefs,
            services,
            Path(args.out),
            quality=args.quality,
            judge=judge,
            image_judge=image_judge,
            progress=lambda msg: print(msg, file=sys.stderr, flush=True),
            judge_label=weak,
        )
    finally:
        services.close()
    summary = summarize(rows)
    summary["judge_label"] = weak
    print(format_table(rows, summary))
    print(Path(args.out) / "report.html")
    return 0


WEAK_JUDGE = "WEAK local judge: the embedded writer model scores text and tags (no image judge)"


def embedded_judge(services: Any) -> tuple[Any, str]:
    """A text judge on the embedded llama.cpp server (``bench --judge embedded``) and its label."""
    from models.judge import Judge

    backend = services.backend
    if not capabilities_of(backend).in_process:
        raise SystemExit("--judge embedded needs the embedded backend (or set STUDIO_JUDGE_BASE_URL)")
    backend.start()
    judge = Judge(backend.base_url, backend.gguf.name, timeout_s=600.0, retries=1)
    return judge, f"{WEAK_JUDGE}, model {backend.gguf.name}"


def cmd_render(args: argparse.Namespace) -> int:
    from studio.app.services import build_services
    from studio.core.agent import PASTED_WRITER, render_response

    text = Path(args.response).read_text(encoding="utf-8")
    settings = _settings_from(args)
    services = build_services(settings, backend=_NoChat())
    # A pasted response: no model of ours wrote it; the user may say where it came from.
    writer = {"written_by": "render", "backend": PASTED_WRITER, "model": " ".join(args.source.split()) or None}
    try:
        events = render_response(
            text, services, user_images=_read_images(args.image), style=args.style, brief=args.brief.strip()
        )
        return _consume(events, Path(args.out), quiet=True, writer=writer)
    finally:
        services.close()


def cmd_tools(args: argparse.Namespace) -> int:
    from studio.app.services import build_tools, check_availability

    settings = _settings_from(args)
    tools = build_tools(settings)
    try:
        for source, status in check_availability(tools).items():
            print(f"{source:10s} {'on' if status.ok else 'off'}  {status.reason}")
    finally:
        for tool in tools.values():
            tool.close()
    return 0


class _NoChat:
    """``render`` executes an existing response: no chat model is involved."""

    name = "none"

    def stream(self, messages, options):
        raise StudioError("render does not chat")

    def describe(self) -> str:
        return "none (rendering an existing response)"

    def model_name(self) -> None:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmi-studio", description="LLM-I Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tools", help="comma-separated tools to enable (default: all)")
        p.add_argument("--image", action="append", help="a user image (repeatable); img_index 0, 1, ...")
        p.add_argument("--style", default="", help="article-wide style for diffusion/edit prompts")

    write = sub.add_parser("write", help="write an illustrated article from a brief")
    write.add_argument("brief")
    write.add_argument("--out", required=True, help="output directory")
    write.add_argument("--images", type=int, default=None, help="how many images (default: model decides)")
    write.add_argument("--max-images", type=int, default=None)
    write.add_argument("--backend", choices=["embedded", "openai"])
    write.add_argument("--base-url", help="OpenAI-compatible server URL (vLLM: http://127.0.0.1:8000/v1)")
    write.add_argument("--model", help="model name on the server")
    write.add_argument("--gguf", help="embedded: a GGUF file to use instead of the shipped weights")
    write.add_argument("--weights", help="embedded: qwen2.5-coder-1.5b | qwen2.5-coder-0.5b | smollm2-135m")
    write.add_argument("--threads", type=int)
    write.add_argument("--max-tokens", type=int)
    write.add_argument("--quiet", action="store_true", help="do not echo the article text")
    write.add_argument("--quality", type=int, default=1, help="quality mode: write N candidates, keep the best")
    common(write)
    write.set_defaults(func=cmd_write)

    bench = sub.add_parser("bench", help="write and score every brief of a JSONL set; table + HTML report")
    bench.add_argument("briefs", help="JSONL: id, prompt, wanted_images, tools, [rubric, category, style]")
    bench.add_argument("--out", required=True, help="output directory")
    bench.add_argument("--limit", type=int, default=None, help="only the first N briefs")
    bench.add_argument("--quality", type=int, default=1, help="quality mode with N candidates per brief")
    bench.add_argument(
        "--judge",
        choices=["configured", "embedded"],
        default="configured",
        help="embedded: when no STUDIO_JUDGE_BASE_URL is set, the embedded model judges text and tags "
        "(a weak judge, labelled so in the report)",
    )
    for flag in ("--backend", "--base-url", "--model", "--gguf", "--weights", "--threads", "--max-tokens", "--tools"):
        kwargs: dict[str, object] = {"type": int} if flag in ("--threads", "--max-tokens") else {}
        if flag == "--backend":
            kwargs["choices"] = ["embedded", "openai"]
        bench.add_argument(flag, **kwargs)  # type: ignore[arg-type]
    bench.set_defaults(func=cmd_bench)

    render = sub.add_parser("render", help="execute the tags of an existing LLM-I response")
    render.add_argument("response", help="a text file holding the response")
    render.add_argument("--out", required=True)
    render.add_argument("--brief", default="", help="what the response was written for (the article keeps it)")
    render.add_argument("--source", default="", help="where the response came from, e.g. a model name (kept with it)")
    common(render)
    render.set_defaults(func=cmd_render)

    tools = sub.add_parser("tools", help="which tools can work now, and how to turn one on")
    tools.add_argument("--tools", help=argparse.SUPPRESS)
    tools.set_defaults(func=cmd_tools)

    serve = sub.add_parser("serve", help="serve the studio UI (the same as `python app.py`)")
    serve.set_defaults(func=lambda _args: _serve())

    from studio.app.prefs_cli import add_prefs_parser

    add_prefs_parser(sub)

    from studio.app.taste_cli import add_taste_parser

    add_taste_parser(sub)

    from studio.app.users_cli import add_users_parser

    add_users_parser(sub)

    try:
        from studio.app.export_cli import add_export_parser
    except ImportError:  # pragma: no cover - export package missing only in a broken checkout
        pass
    else:
        add_export_parser(sub)
    return parser


def _serve() -> int:
    from studio.app.serve import serve

    return serve()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        return int(args.func(args) or 0)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
