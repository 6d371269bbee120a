"""Fixtures shared by the model tests: one SmolLM2 llama.cpp server per session."""

from tests.llama_server import llama_server  # noqa: F401  (re-exported fixture)
