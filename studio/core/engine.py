"""The orchestrator: model chunks in, typed events out, an article built on the way.

Each valid tag starts on its tool the moment it closes, on a bounded thread pool, while the
model keeps streaming; an edit waits only for its target image (chained on that image's
future, so a waiting edit holds no worker); one failing tool never stops the article.

Threads: a reader thread drains the model stream and schedules tools; workers run tools;
the caller's thread only yields events from a queue. All article mutation happens under
one lock, and every event is a value snapshot.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from models.base import FINISH_LENGTH, drain
from models.errors import StudioError
from models.vocab import IN_FLIGHT, BlockStatus
from studio.core.article import REPETITION, SECTION_ENDED, Article, ImageBlock, TextBlock
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
from studio.core.guards import TextGuard
from studio.core.protocol import InvalidTag, ParsedTag, ToolCall, oversized_tag, parse_tag
from studio.core.routing import Routed
from studio.core.runner import ToolRunner, text_before
from studio.core.stream import UNTERMINATED_REASON, Opened, Piece, Tag, TagStreamLexer, Text
from tools.base import ToolContext, ToolResult, outcome_of
from tools.params import IMAGE_INDEX


@dataclass(frozen=True)
class EngineOptions:
    """max_response_chars / max_tags: per-article caps; past either the model stream is no longer
    read, the article keeps everything before it and says why (``Article.error``)."""

    max_concurrent_tools: int = 3
    style: str = ""
    max_response_chars: int = 2_000_000
    max_tags: int = 200
    # A chance to re-route a valid call before it is queued (the routing check, studio.core.routing:
    # a chart asked of diffusion goes to the chart writer; a caption copied from the prompt is
    # replaced); the block records what the model wrote as provenance ``routed_from`` (its source),
    # ``routed_to`` and ``routed_why`` (a ``Routed`` result's reason) and ``caption_from_model``.
    route: Callable[[ToolCall], ToolCall | Routed] | None = None
    # Where the numbers of chart code written in the tags come from ("response": a pasted response).
    code_from: str = ""


_STREAM_DONE = object()
STOPPED_REASON = "stopped by the user before this image was made"
STOPPED_ARTICLE = "stopped by the user; what was written before is kept"


class _Stopped(Exception):
    """The caller stopped reading: end the reader without touching the article."""


class _Capped(Exception):
    """The response passed a per-article cap (``Article.error`` says which): stop reading it."""


class _Looped(Exception):
    """The stream guard found the model repeating itself: close its stream, keep the article."""


class Engine:
    """Runs tags on the tool runner. One Engine may serve many articles (it holds no
    per-article state). It knows no tool by name: an edit is any call whose params name an
    ``img_index``, and tool-specific work (two-phase chart code) lives in tool wrappers."""

    def __init__(self, runner: ToolRunner, *, options: EngineOptions | None = None) -> None:
        self.runner = runner
        self.options = options or EngineOptions()

    def run(
        self,
        chunks: Iterable[str],
        article: Article | None = None,
        *,
        stop: threading.Event | None = None,
        guard: TextGuard | None = None,
        join_last_text: bool = False,
    ) -> Iterator[Event]:
        """Consume model chunks, yield events; the last event is always ArticleDone.

        ``join_last_text``: the first text goes on at the end of the article's last block when
        that is text (a continuation of a paragraph that ended mid-sentence), not in a new block.

        ``stop``: when set, the model stream is closed at its next chunk, tool calls not yet
        finished fail with STOPPED_REASON (their late results are dropped) and ArticleDone comes
        at once with ``stopped=True``; everything written before is kept.

        ``guard``: the stream guards (studio.core.guards) every text piece passes through; what
        they drop is recorded in ``article.removed``; a repetition closes the model stream.
        """
        run = _Run(self, article or Article(), stop, guard)
        last = run.article.blocks[-1] if run.article.blocks else None
        if join_last_text and isinstance(last, TextBlock):
            run.text_block = last
        return run.events(chunks)


class _Run:
    """The state of one article being written."""

    def __init__(
        self, engine: Engine, article: Article, stop: threading.Event | None = None, guard: TextGuard | None = None
    ) -> None:
        self.engine = engine
        self.guard = guard
        self.stop = stop or threading.Event()
        self.article = article
        self.lock = threading.Lock()
        self.events_q: queue.Queue[object] = queue.Queue()
        self.pool = ThreadPoolExecutor(max(1, engine.options.max_concurrent_tools), thread_name_prefix="tool")
        self.futures: dict[int, Future[ToolResult | None]] = {}
        self.routed: dict[str, dict[str, str]] = {}  # block id -> what the model wrote, where the route changed it
        self.outstanding = 0
        self.stopped = threading.Event()
        self.text_block: TextBlock | None = None
        # tags count from the images already there, so a continued article keeps its img_index order
        self.tag_position = len(article.image_blocks())

    # --- the caller's side -------------------------------------------------------------
    def events(self, chunks: Iterable[str]) -> Iterator[Event]:
        started = time.perf_counter()
        reader = threading.Thread(target=self._read, args=(chunks,), name="model-stream", daemon=True)
        reader.start()
        stream_done = False
        try:
            while True:
                with self.lock:
                    if stream_done and self.outstanding == 0 and self.events_q.empty():
                        break
                try:
                    item = self.events_q.get(timeout=0.1)
                except queue.Empty:
                    item = None
                if self.stop.is_set():
                    yield from self._stopped(started)
                    return
                if item is None:
                    continue
                if item is _STREAM_DONE:
                    stream_done = True
                    continue
                yield item  # type: ignore[misc]
            seconds = time.perf_counter() - started
            yield ArticleDone(self.article, seconds, self.article.error, cut_off=self.article.cut_off)
        finally:
            self.stopped.set()
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _stopped(self, started: float) -> Iterator[Event]:
        """The user stopped the article: what is queued gets its last events now, in order."""
        with self.lock:
            self.stopped.set()
            pending: list[Event] = []
            while True:
                try:
                    item = self.events_q.get_nowait()
                except queue.Empty:
                    break
                if item is not _STREAM_DONE:
                    pending.append(item)  # type: ignore[arg-type]
            for block in self.article.image_blocks():
                if block.status in IN_FLIGHT:
                    block.status, block.error = BlockStatus.FAILED, STOPPED_REASON
                    pending.append(ToolCallFailed(block.id, block.source or "", STOPPED_REASON, 0.0))
            self.article.error = self.article.error or STOPPED_ARTICLE
        yield from pending
        yield ArticleDone(self.article, time.perf_counter() - started, self.article.error, stopped=True)

    def _emit(self, event: Event) -> None:
        self.events_q.put(event)

    # --- the model stream ----------------------------------------------------------------
    def _read(self, chunks: Iterable[str]) -> None:
        lexers = [TagStreamLexer(report_open=True)]  # a list: a redirect after a loop starts a fresh one
        options = self.engine.options
        read = [0]

        def feed(chunk: str) -> None:
            if self.stopped.is_set() or self.stop.is_set():
                raise _Stopped
            if read[0] + len(chunk) > options.max_response_chars:
                chunk = chunk[: max(0, options.max_response_chars - read[0])]
                self.article.error = (
                    f"the model's response passed the {options.max_response_chars:,}-character limit "
                    "for one article; the rest was not read"
                )
            read[0] += len(chunk)
            for piece in lexers[0].feed(chunk):
                if self.tag_position >= options.max_tags and not isinstance(piece, Text):
                    self.article.error = f"the response holds more than {options.max_tags} tags; the rest was not read"
                    break
                self._on_piece(piece)
                if self.guard is not None and self.guard.looped:
                    if not self._redirected(chunks):
                        raise _Looped
                    lexers[0] = TagStreamLexer(report_open=True)  # the rest of the looping part is dropped
                    break
            if self.article.error:
                raise _Capped

        try:
            self.article.cut_off = drain(chunks, feed) == FINISH_LENGTH
        except (_Stopped, _Looped):
            close = getattr(chunks, "close", None)
            if callable(close):
                close()  # ends the model's HTTP stream, so the server stops generating
        except _Capped:
            pass
        except StudioError as exc:
            self.article.error = str(exc)
        except Exception as exc:  # a backend bug must not lose the article written so far
            self.article.error = f"the model stream broke: {type(exc).__name__}: {exc}"
        finally:
            looped = self.guard is not None and self.guard.looped
            if not self.stop.is_set() and not looped:
                for piece in lexers[0].close():
                    if isinstance(piece, Text) or self.tag_position < options.max_tags:
                        self._on_piece(piece)
                if self.guard is not None:
                    self._guarded(self.guard.close())
            self.events_q.put(_STREAM_DONE)

    def _redirected(self, chunks: Iterable[str]) -> bool:
        """After a loop: where the chunk source can end just the part that loops and go on with the
        next (``skip_section``: an outlined article's next section, or the pictures still owed,
        studio.core.owed), it does and the guard resumes; True then. Otherwise the article ends
        here. A source whose headings are its own (``owns_headings``: an outline's) keeps the
        heading the guard held when the loop came: the loop was the model's, the heading was not."""
        skip = getattr(chunks, "skip_section", None)
        if self.guard is None or not callable(skip) or not skip():
            return False
        self._guarded(self._own_paragraph(self.guard.resume(keep_headings=getattr(chunks, "owns_headings", False))))
        with self.lock:
            for i in range(len(self.article.removed) - 1, -1, -1):
                removal = self.article.removed[i]
                if removal.kind == REPETITION:
                    note = getattr(chunks, "redirect_note", SECTION_ENDED)  # what the source did next
                    self.article.removed[i] = dataclasses.replace(removal, reason=removal.reason + note)
                    break
        return True

    def _own_paragraph(self, heading: str) -> str:
        """A heading given back after a loop starts its own paragraph, whatever the guard kept
        before it (a 1.5B run showed "...18th century. ## The First Bicycle": not a heading)."""
        if not heading.lstrip("\n").startswith("#"):
            return heading
        last = self.article.blocks[-1] if self.article.blocks else None
        before = last.text if isinstance(last, TextBlock) else ""
        gap = "" if not before or before.endswith("\n\n") else "\n" if before.endswith("\n") else "\n\n"
        return gap + heading.lstrip("\n")

    def _on_piece(self, piece: Piece) -> None:
        if self.stop.is_set():
            return
        if isinstance(piece, Text):
            self._guarded(piece.text if self.guard is None else self.guard.feed(piece.text))
            return
        if self.guard is not None:  # the text before a tag ends there
            self._guarded(self.guard.boundary())
            if self.guard.looped:
                return  # nothing after a repetition is kept, tags included
        if isinstance(piece, Opened):
            self._opened()
            return
        if isinstance(piece, Tag) and piece.size is not None:
            tag: ParsedTag = oversized_tag(piece.raw, piece.size)
        elif isinstance(piece, Tag):
            tag = parse_tag(piece.raw, tag_position=self.tag_position, user_image_count=len(self.article.user_images))
        else:
            tag = InvalidTag(piece.raw[:2048], UNTERMINATED_REASON)
        self.tag_position += 1
        changed: dict[str, str] = {}
        if isinstance(tag, ToolCall) and self.engine.options.route is not None:
            outcome = self.engine.options.route(tag)
            routed = outcome.call if isinstance(outcome, Routed) else outcome
            if routed.source != tag.source:
                changed["routed_from"] = tag.source
                changed["routed_to"] = routed.source
                if isinstance(outcome, Routed):
                    changed["routed_why"] = outcome.why
            if routed.description != tag.description:
                changed["caption_from_model"] = tag.description
            tag = routed
        with self.lock:
            if self.stopped.is_set():
                return
            self.text_block = None
            block = self.article.add_image(tag)
            if changed:
                self.routed[block.id] = changed
            if isinstance(tag, ToolCall):
                self.outstanding += 1
                self._emit(
                    ToolCallQueued(
                        block.id, block.image_index, block.source or "", block.description, block.params, block.raw
                    )
                )
            else:
                self._emit(
                    ToolCallInvalid(block.id, block.image_index, tag.raw, tag.reason, tag.source, tag.description)
                )
        if isinstance(tag, ToolCall):
            self._schedule(block, tag)

    def _opened(self) -> None:
        """Say at once that a picture is being planned here: a tag can take the model half a
        minute to write, and nothing else would change on the page meanwhile. No block is
        added: the tag's own event follows when it closes (or ArticleDone when it never does)."""
        with self.lock:
            if self.stopped.is_set():
                return
            self._emit(TagOpened(len(self.article.user_images) + len(self.article.image_blocks())))

    def _guarded(self, text: str) -> None:
        """Append text that passed the guards; record what they removed."""
        with self.lock:
            if self.stopped.is_set():
                return
            if self.guard is not None:
                self.article.removed.extend(self.guard.take_removals())
            if not text:
                return
            if self.text_block is None:
                self.text_block = self.article.add_text()
            self.text_block.text += text
            self._emit(TextDelta(self.text_block.id, text))

    # --- tools ---------------------------------------------------------------------------
    def _schedule(self, block: ImageBlock, call: ToolCall) -> None:
        future: Future[ToolResult | None] = Future()
        self.futures[block.image_index] = future
        index = getattr(call.params, IMAGE_INDEX, None)
        # no parent needed: not an edit, or the edit tool is off (the runner makes a placeholder)
        if not isinstance(index, int) or self.engine.runner.off_reason(call.source) is not None:
            self._submit(block, call, future, None)
            return
        if index < len(self.article.user_images):
            self._submit(block, call, future, self.article.user_images[index])
            return
        target = self.futures.get(index)
        if target is None:  # the target's tag was invalid: it has no image
            self._finish(block, call, future, self._missing_parent(index))
            return

        def after_target(done: Future[ToolResult | None]) -> None:
            result = None if done.cancelled() else done.result()
            if result is None or not result.ok:
                self._finish(block, call, future, self._missing_parent(index))
            else:
                self._submit(block, call, future, result.image)

        target.add_done_callback(after_target)

    def _missing_parent(self, index: int) -> ToolResult:
        # no lock: this may run inside a future's callback under it; the target block is final
        # (its status and error are set before its future completes)
        _, why = self.article.parent_image(index)
        return ToolResult.failure(why or f"the image to edit (index {index}) has no image")

    def _submit(
        self, block: ImageBlock, call: ToolCall, future: Future[ToolResult | None], parent: bytes | None
    ) -> None:
        if self.stopped.is_set():
            future.set_result(None)
            return
        try:
            self.pool.submit(self._work, block, call, future, parent)
        except RuntimeError:  # pool shut down: the caller stopped reading
            future.set_result(None)

    def _work(self, block: ImageBlock, call: ToolCall, future: Future[ToolResult | None], parent: bytes | None) -> None:
        with self.lock:
            block.status = BlockStatus.RUNNING
            self._emit(ToolCallStarted(block.id, call.source))
        self._finish(block, call, future, self._run_tool(block, call, parent))

    def _run_tool(self, block: ImageBlock, call: ToolCall, parent: bytes | None) -> ToolResult:
        context = ToolContext(
            parent_image=parent,
            style=self.engine.options.style,
            description=call.description,
            text_before=self._context_before(block),
            cancel=self.stopped,  # Stop (or a caller that stops reading) ends the tool's work too
            brief=self.article.brief,
            code_from=self.engine.options.code_from,
        )
        return self.engine.runner.run(call.source, call.params, context)

    def _context_before(self, block: ImageBlock) -> str:
        with self.lock:
            return text_before(self.article, block.id)

    def _finish(self, block: ImageBlock, call: ToolCall, future: Future[ToolResult | None], result: ToolResult) -> None:
        with self.lock:
            if self.stopped.is_set():  # stopped: this block already failed with the reason; drop the late result
                future.set_result(None)
                return
            block.seconds = result.seconds
            block.provenance = dict(result.provenance)
            block.provenance.update(self.routed.get(block.id, {}))
            if result.params is not None:  # a wrapper filled the params in (two-phase chart code)
                block.params = dict(result.params)
            outcome = outcome_of(result, call.source)
            block.status, block.error = outcome.status, outcome.error
            if outcome.ok:
                block.image, block.mime = result.image, result.mime
                event: Event = ToolCallFinished(
                    block.id, call.source, result.seconds, block.provenance, result.image, result.mime, block.params
                )
            else:
                event = ToolCallFailed(
                    block.id,
                    call.source,
                    outcome.error or "",
                    result.seconds,
                    block.provenance,
                    block.params,
                    placeholder=result.placeholder,
                )
            # decrement before emitting: when the consumer sees the last final event, the count is 0
            self.outstanding -= 1
            self._emit(event)
        future.set_result(result)
