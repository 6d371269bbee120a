"""LLM and multimodal judges: clients of any OpenAI-compatible chat endpoint.

Three modes, as the paper's reward and LLMI-Bench use them:

- ``judge_text``: text score and image-tag score, 1-5 each, on the *processed* answer (tags
  already replaced by ``<image>`` / ``<fail_to_generate_image>``);
- ``judge_images``: image quality, task relevance, text-image relevance, 1-5 each; the rendered
  images go into the user message as data URLs (OpenAI vision format), failed images are named
  as failed, and more than ``MAX_JUDGED_IMAGES`` images score 1 without calling the judge;
- ``judge_rubric``: each criterion 0 (not met) / 1 (partly) / 2 (fully met) with a justification.

The prompt wording is ours. Judge output is hostile text (models/judge_parse.py reads it):
scores are read from JSON (fenced or wrapped in prose), or from "Text score: 4" / "4/5" lines; a
missing or out-of-range score makes the answer unusable and the judge is asked again, up to
``retries`` more times. Every failure ends as an explicit ``JudgeUnavailable`` with a reason; no score is ever made up.

Transport is ``OpenAICompatBackend`` (one HTTP path for chat and judges). Connection errors and
timeouts are not retried: a judge that is down or too slow will not be better a second later,
and retrying would multiply the wait of every article scored.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from models.base import ChatOptions, Message
from models.errors import ModelError, ModelTimeout, ModelUnreachable
from models.judge_parse import IMAGE_FIELDS, TEXT_FIELDS, excerpt, parse_rubric, parse_scores, sniff_mime
from models.openai_compat import OpenAICompatBackend

MAX_JUDGED_IMAGES = 10  # the paper: an answer with more images scores 1 on every image criterion
T = TypeVar("T")
JUDGE_START_HINT = (
    "start an OpenAI-compatible judge (e.g. `vllm serve Qwen/Qwen2.5-VL-7B-Instruct --port 8001`) "
    "or set STUDIO_JUDGE_BASE_URL"
)


# ------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class TextJudgement:
    text: int  # 1-5: quality of the writing for the prompt
    tags: int  # 1-5: placement and use of the images (tags)
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "text", **asdict(self)}


@dataclass(frozen=True)
class ImageJudgement:
    quality: int  # 1-5: the images themselves
    task: int  # 1-5: relevance of the images to the prompt
    text_image: int  # 1-5: fit between each image and the text around it
    reason: str

    @property
    def mean(self) -> float:
        return (self.quality + self.task + self.text_image) / 3

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "images", **asdict(self)}


@dataclass(frozen=True)
class CriterionScore:
    criterion: str
    score: int  # 0 not met, 1 partly, 2 fully met
    justification: str


@dataclass(frozen=True)
class RubricJudgement:
    scores: tuple[CriterionScore, ...]

    @property
    def total(self) -> int:
        return sum(s.score for s in self.scores)

    @property
    def fraction(self) -> float:
        """Share of the attainable points (2 per criterion); 0.0 for an empty rubric."""
        return self.total / (2 * len(self.scores)) if self.scores else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "rubric",
            "scores": [asdict(s) for s in self.scores],
            "total": self.total,
            "fraction": self.fraction,
        }


@dataclass(frozen=True)
class JudgeUnavailable:
    """No score: the judge could not be reached, timed out, or never gave usable scores."""

    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "unavailable", "reason": self.reason}


# ------------------------------------------------------------------------------------ prompts
_TEXT_SYSTEM = """You are a strict reviewer of illustrated articles.
You get a writing task and the answer. In the answer every picture appears as a placeholder:
<image> where a picture was produced, <fail_to_generate_image> where it failed.
Rate two things from 1 (very poor) to 5 (excellent):
- text_score: is the writing accurate, complete, well organised and on task?
- tag_score: are pictures placed where they help, one per distinct point, never redundant,
  with the text around each placeholder introducing what it shows? Failed pictures count against it.
Answer with JSON only, no other text:
{"text_score": <1-5>, "tag_score": <1-5>, "reason": "<one or two sentences>"}"""

_IMAGE_SYSTEM = """You are a strict reviewer of the pictures in illustrated articles.
You get a writing task, the answer text (pictures appear as <image> or, where generation failed,
<fail_to_generate_image>), and the pictures in order. A picture that failed to generate is missing
and must lower every score.
Rate from 1 (very poor) to 5 (excellent):
- image_quality: are the pictures clear, well made, free of artefacts and unreadable text?
- task_relevance: do the pictures serve the task?
- text_image_relevance: does each picture match the text around its placeholder?
Answer with JSON only, no other text:
{"image_quality": <1-5>, "task_relevance": <1-5>, "text_image_relevance": <1-5>, "reason": "<one or two sentences>"}"""

_RUBRIC_SYSTEM = """You grade an answer against a rubric.
For each numbered criterion give 0 (not met), 1 (partly met) or 2 (fully met) and a short justification.
Answer with JSON only, no other text, one entry per criterion in the given order:
{"scores": [{"criterion": 1, "score": <0-2>, "justification": "<why>"}, ...]}"""


# -------------------------------------------------------------------------------------- judge
class Judge:
    """One judge endpoint. Thread-safe (one httpx client); several articles may be judged at once."""

    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str = "EMPTY",
        *,
        timeout_s: float = 60.0,
        retries: int = 2,
        connect_timeout_s: float = 5.0,
        settings_prefix: str = "STUDIO_JUDGE_",
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        """``timeout_s`` bounds one whole judge answer; ``retries`` is how many more times an
        unusable answer (no scores, HTTP error) is asked again. ``settings_prefix`` names the
        settings in error messages (STUDIO_IMAGE_JUDGE_ for the multimodal judge)."""
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._prefix = settings_prefix
        self._backend = OpenAICompatBackend(
            base_url,
            model,
            api_key,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=timeout_s,
            start_hint=JUDGE_START_HINT.replace("STUDIO_JUDGE_", settings_prefix),
            settings_prefix=settings_prefix,
        )

    @property
    def base_url(self) -> str:
        return self._backend.base_url

    def describe(self) -> str:
        return "judge: " + self._backend.describe()

    def test_connection(self) -> tuple[bool, str]:
        """(ok, a sentence saying what works or what to start / set). Never raises."""
        return self._backend.test_connection()

    def close(self) -> None:
        self._backend.close()

    # ------------------------------------------------------------------------------- modes
    def judge_text(self, prompt: str, processed_answer: str) -> TextJudgement | JudgeUnavailable:
        """Text and image-tag scores (1-5) of an answer whose tags are already replaced by placeholders."""
        user = f"## Task\n{prompt}\n\n## Answer\n{processed_answer}"
        messages: list[Message] = [{"role": "system", "content": _TEXT_SYSTEM}, {"role": "user", "content": user}]

        def parse(text: str) -> TextJudgement | None:
            found = parse_scores(text, TEXT_FIELDS)
            return TextJudgement(found[0]["text"], found[0]["tags"], found[1]) if found else None

        return self._ask(messages, parse, self.max_tokens)

    def judge_images(
        self,
        prompt: str,
        processed_answer: str,
        images: Sequence[bytes | None],
        mimes: Sequence[str] | None = None,
    ) -> ImageJudgement | JudgeUnavailable:
        """Image quality, task and text-image relevance (1-5). ``None`` in ``images`` is a failed
        image: the judge is told which ones failed. More than MAX_JUDGED_IMAGES: 1 each, no call."""
        if len(images) > MAX_JUDGED_IMAGES:
            return ImageJudgement(
                1, 1, 1, f"{len(images)} images, more than {MAX_JUDGED_IMAGES}: scored 1 without asking the judge"
            )
        if mimes is not None and len(mimes) != len(images):
            raise ValueError(f"{len(mimes)} mime types for {len(images)} images")
        parts = image_parts(images, mimes)
        failed = [i + 1 for i, data in enumerate(images) if not data]
        if not images:
            summary = "The answer contains no pictures."
        elif failed:
            summary = (
                f"The answer has {len(images)} pictures; number(s) {', '.join(map(str, failed))} failed to "
                "generate and are missing. Missing pictures must lower the scores."
            )
        else:
            summary = f"The answer has {len(images)} pictures, all shown below in order."
        head = f"## Task\n{prompt}\n\n## Answer text\n{processed_answer}\n\n## Pictures\n{summary}"
        content: list[dict[str, Any]] = [{"type": "text", "text": head}, *parts]
        messages: list[Message] = [{"role": "system", "content": _IMAGE_SYSTEM}, {"role": "user", "content": content}]

        def parse(text: str) -> ImageJudgement | None:
            found = parse_scores(text, IMAGE_FIELDS)
            if not found:
                return None
            s = found[0]
            return ImageJudgement(s["quality"], s["task"], s["text_image"], found[1])

        return self._ask(messages, parse, self.max_tokens)

    def judge_rubric(
        self,
        prompt: str,
        answer: str,
        criteria: Sequence[str],
        images: Sequence[bytes | None] = (),
        mimes: Sequence[str] | None = None,
    ) -> RubricJudgement | JudgeUnavailable:
        """Each criterion 0/1/2 with a justification (LLMI-Bench). ``images``, when given, are
        attached as for ``judge_images`` (for a multimodal judge)."""
        criteria = [str(c) for c in criteria]
        if not criteria:
            return RubricJudgement(())
        listed = "\n".join(f"{i}. {c}" for i, c in enumerate(criteria, 1))
        text = f"## Task\n{prompt}\n\n## Answer\n{answer}\n\n## Criteria\n{listed}"
        content: str | list[dict[str, Any]] = text
        if images:
            content = [{"type": "text", "text": text}, *image_parts(images, mimes)]
        messages: list[Message] = [{"role": "system", "content": _RUBRIC_SYSTEM}, {"role": "user", "content": content}]

        def parse(text: str) -> RubricJudgement | None:
            found = parse_rubric(text, len(criteria))
            if found is None:
                return None
            return RubricJudgement(tuple(CriterionScore(c, s, j) for c, (s, j) in zip(criteria, found, strict=True)))

        return self._ask(messages, parse, self.max_tokens + 120 * len(criteria))

    # ------------------------------------------------------------------------------ helpers
    def _ask(self, messages: list[Message], parse: Callable[[str], T | None], max_tokens: int) -> T | JudgeUnavailable:
        """Ask, parse, ask again on an unusable answer; JudgeUnavailable with the reason otherwise."""
        options = ChatOptions(max_tokens=max_tokens, temperature=self.temperature, top_p=1.0, seed=0)
        tries = self.retries + 1
        last = ""
        for _ in range(tries):
            try:
                text = self._complete(messages, options)
            except _Deadline:
                return JudgeUnavailable(
                    f"the judge at {self.base_url} did not finish its answer within {self.timeout_s:g} s "
                    f"({self._prefix}TIMEOUT_S): raise it for a slow judge"
                )
            except ModelError as exc:
                if _is_transport_failure(exc):
                    return JudgeUnavailable(self._transport_reason(exc))
                last = f"error: {exc}"
                continue
            result = parse(text)
            if result is not None:
                return result
            last = f"last answer: {excerpt(text)}"
        return JudgeUnavailable(f"the judge's answer had no usable scores after {tries} tries: {last}")

    def _complete(self, messages: list[Message], options: ChatOptions) -> str:
        """The whole answer, within timeout_s in total (httpx's read timeout is per chunk only)."""
        deadline = time.monotonic() + self.timeout_s
        chunks: list[str] = []
        stream = self._backend.stream(messages, options)
        try:
            for chunk in stream:
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _Deadline
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
        return "".join(chunks)

    def _transport_reason(self, exc: ModelError) -> str:
        if isinstance(exc, ModelTimeout):
            return (
                f"the judge at {self.base_url} sent nothing for {self.timeout_s:g} s ({self._prefix}TIMEOUT_S): "
                "raise it for a slow judge, or check that the server is not stuck"
            )
        return str(exc)


class _Deadline(Exception):
    """The judge kept talking past timeout_s."""


def _is_transport_failure(exc: ModelError) -> bool:
    """Down or too slow: asking again would not help (an HTTP error status or a bad stream might)."""
    return isinstance(exc, ModelUnreachable | ModelTimeout)


def image_parts(images: Sequence[bytes | None], mimes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """OpenAI vision content parts: a numbered caption per picture, then its data URL (or 'FAILED')."""
    parts: list[dict[str, Any]] = []
    for i, data in enumerate(images):
        if not data:
            parts.append({"type": "text", "text": f"Picture {i + 1}: FAILED TO GENERATE (missing)"})
            continue
        mime = mimes[i] if mimes else sniff_mime(data)
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        parts.append({"type": "text", "text": f"Picture {i + 1}:"})
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts
