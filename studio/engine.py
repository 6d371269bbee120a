"""The orchestrator: model chunks in, typed events out, an article built on the way.

Each valid tag starts on its tool the moment it closes, on a bounded thread pool, while the
model keeps streaming; an edit waits only for its target image (chained on that image's
future, so a waiting edit holds no worker); one failing tool never stops the article.

Threads: a reader thread drains the model stream and schedules tools; workers run tools;
the caller's thread only yields events from a queue. All article mutation happens under
one lock, and every event is a value snapshot.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from models.errors import StudioError
from studio.article import Article, ImageBlock, TextBlock
from studio.events import (
    ArticleDone,
    Event,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallInvalid,
    ToolCallQueued,
    ToolCallStarted,
)
from studio.protocol import InvalidTag, ToolCall, parse_tag
from studio.stream import UNTERMINATED_REASON, Tag, TagStreamLexer, Text, Unterminated
from tools.base import Tool, ToolContext, ToolResult
from tools.params import PARAMS_BY_SOURCE


class CodeWriter(Protocol):
    """Writes chart code for a code tag whose code was left empty (two-phase small models)."""

    def write(self, description: str, context: str) -> str: ...

    def repair(self, code: str, error: str, description: str, context: str) -> str: ...


@dataclass(frozen=True)
class EngineOptions:
    max_concurrent_tools: int = 3
    style: str = ""


_STREAM_DONE = object()


class Engine:
    """Runs tags on tools. One Engine may serve many articles (it holds no per-article state)."""

    def __init__(
        self,
        tools: Mapping[str, Tool],
        *,
        options: EngineOptions | None = None,
        code_writer: CodeWriter | None = None,
        off_reasons: Mapping[str, str] | None = None,
    ) -> None:
        self.tools = dict(tools)
        self.options = options or EngineOptions()
        self.code_writer = code_writer
        self.off_reasons = dict(off_reasons or {})

    def run(self, chunks: Iterable[str], article: Article | None = None) -> Iterator[Event]:
        """Consume model chunks, yield events; the last event is always ArticleDone."""
        return _Run(self, article or Article()).events(chunks)


class _Run:
    """The state of one article being written."""

    def __init__(self, engine: Engine, article: Article) -> None:
        self.engine = engine
        self.article = article
        self.lock = threading.Lock()
        self.events_q: queue.Queue[object] = queue.Queue()
        self.pool = ThreadPoolExecutor(max(1, engine.options.max_concurrent_tools), thread_name_prefix="tool")
        self.futures: dict[int, Future[ToolResult | None]] = {}
        self.outstanding = 0
        self.stopped = threading.Event()
        self.text_block: TextBlock | None = None
        self.tag_position = 0

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
                item = self.events_q.get()
                if item is _STREAM_DONE:
                    stream_done = True
                    continue
                yield item  # type: ignore[misc]
            yield ArticleDone(self.article, time.perf_counter() - started, self.article.error)
        finally:
            self.stopped.set()
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _emit(self, event: Event) -> None:
        self.events_q.put(event)

    # --- the model stream ----------------------------------------------------------------
    def _read(self, chunks: Iterable[str]) -> None:
        lexer = TagStreamLexer()
        try:
            for chunk in chunks:
                if self.stopped.is_set():
                    return
                for piece in lexer.feed(chunk):
                    self._on_piece(piece)
        except StudioError as exc:
            self.article.error = str(exc)
        except Exception as exc:  # a backend bug must not lose the article written so far
            self.article.error = f"the model stream broke: {type(exc).__name__}: {exc}"
        finally:
            for piece in lexer.close():
                self._on_piece(piece)
            self.events_q.put(_STREAM_DONE)

    def _on_piece(self, piece: Text | Tag | Unterminated) -> None:
        if isinstance(piece, Text):
            with self.lock:
                if self.text_block is None:
                    self.text_block = self.article.add_text()
                self.text_block.text += piece.text
                self._emit(TextDelta(self.text_block.id, piece.text))
            return
        if isinstance(piece, Tag):
            tag = parse_tag(piece.raw, tag_position=self.tag_position, user_image_count=len(self.article.user_images))
        else:
            tag = InvalidTag(piece.raw, UNTERMINATED_REASON)
        self.tag_position += 1
        with self.lock:
            self.text_block = None
            block = self.article.add_image(tag)
            if isinstance(tag, ToolCall):
                self.outstanding += 1
                self._emit(
                    ToolCallQueued(block.id, block.image_index, block.source or "", block.description, block.params)
                )
            else:
                self._emit(
                    ToolCallInvalid(block.id, block.image_index, tag.raw, tag.reason, tag.source, tag.description)
                )
        if isinstance(tag, ToolCall):
            self._schedule(block, tag)

    # --- tools ---------------------------------------------------------------------------
    def _schedule(self, block: ImageBlock, call: ToolCall) -> None:
        future: Future[ToolResult | None] = Future()
        self.futures[block.image_index] = future
        if call.source != "edit":
            self._submit(block, call, future, None)
            return
        index = call.params.img_index  # type: ignore[attr-defined]
        if index < len(self.article.user_images):
            self._submit(block, call, future, self.article.user_images[index])
            return
        target = self.futures.get(index)
        if target is None:  # the target's tag was invalid: it has no image
            self._finish(block, call, future, self._missing_parent(index, self.article.image_at(index)))
            return

        def after_target(done: Future[ToolResult | None]) -> None:
            result = None if done.cancelled() else done.result()
            if result is None or not result.ok:
                self._finish(block, call, future, self._missing_parent(index, self.article.image_at(index)))
            else:
                self._submit(block, call, future, result.image)

        target.add_done_callback(after_target)

    @staticmethod
    def _missing_parent(index: int, parent: ImageBlock | None) -> ToolResult:
        why = parent.error if parent is not None and parent.error else "it has no image"
        return ToolResult.failure(f"the image to edit (index {index}) failed to generate: {why}")

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
            block.status = "running"
            self._emit(ToolCallStarted(block.id, call.source))
        started = time.perf_counter()
        try:
            result = self._run_tool(block, call, parent)
        except Exception as exc:  # a tool bug becomes data on its block
            result = ToolResult.failure(f"the {call.source} tool crashed: {type(exc).__name__}: {exc}")
        self._finish(block, call, future, result.with_seconds(time.perf_counter() - started))

    def _run_tool(self, block: ImageBlock, call: ToolCall, parent: bytes | None) -> ToolResult:
        tool = self.engine.tools.get(call.source)
        if tool is None:
            reason = self.engine.off_reasons.get(call.source, "it is not enabled")
            return ToolResult.failure(f"the {call.source} tool is off: {reason}")
        context = ToolContext(parent_image=parent, style=self.engine.options.style)
        params = call.params
        writer = self.engine.code_writer
        if call.source == "code" and writer is not None and not params.code.strip():  # type: ignore[attr-defined]
            return self._write_and_run_chart(block, call, tool, writer, context)
        return tool.run(params, context)

    def _write_and_run_chart(
        self, block: ImageBlock, call: ToolCall, tool: Tool, writer: CodeWriter, context: ToolContext
    ) -> ToolResult:
        """Two-phase chart: ask the writer for code, run it, repair once with the sandbox's error."""
        neighbours = self._context_before(block)
        try:
            code = writer.write(call.description, neighbours)
        except StudioError as exc:
            return ToolResult.failure(f"could not get chart code from the model: {exc}")
        result = self._run_code(block, tool, code, context)
        if result.ok:
            return result
        try:
            code = writer.repair(code, result.error or "", call.description, neighbours)
        except StudioError as exc:
            return ToolResult.failure(f"{result.error} (and the repair request failed: {exc})", result.provenance)
        return self._run_code(block, tool, code, context)

    def _run_code(self, block: ImageBlock, tool: Tool, code: str, context: ToolContext) -> ToolResult:
        params = PARAMS_BY_SOURCE["code"](code=code)
        self._set_params(block, params.model_dump())
        return tool.run(params, context)

    def _set_params(self, block: ImageBlock, params: dict[str, object]) -> None:
        with self.lock:
            block.params = params

    def _context_before(self, block: ImageBlock) -> str:
        with self.lock:
            position = self.article.blocks.index(block)
            texts = [b.text for b in self.article.blocks[:position] if isinstance(b, TextBlock)]
        return ("\n".join(texts))[-1500:]

    def _finish(self, block: ImageBlock, call: ToolCall, future: Future[ToolResult | None], result: ToolResult) -> None:
        with self.lock:
            block.seconds = result.seconds
            block.provenance = dict(result.provenance)
            if result.ok and result.image:
                block.status, block.image, block.mime, block.error = "ok", result.image, result.mime, None
                event: Event = ToolCallFinished(
                    block.id, call.source, result.seconds, block.provenance, result.image, result.mime, block.params
                )
            else:
                block.status = "failed"
                block.error = result.error or f"the {call.source} tool returned no image"
                event = ToolCallFailed(
                    block.id, call.source, block.error, result.seconds, block.provenance, block.params
                )
            # decrement before emitting: when the consumer sees the last final event, the count is 0
            self.outstanding -= 1
            self._emit(event)
        future.set_result(result)
