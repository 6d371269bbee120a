"""A Tool is checked when its class is created: name and Params must match, also below a shared base."""

from __future__ import annotations

from abc import abstractmethod

import pytest

from models.errors import ToolError
from tools.base import Tool, ToolContext, ToolResult
from tools.image_servers import ServerDiffusionTool, ServerEditTool
from tools.params import CodeParams, DiffusionParams, SearchParams


class _SharedBase(Tool[SearchParams]):  # declares an abstract hook: a base, not a tool
    def run(self, params: SearchParams, context: ToolContext) -> ToolResult:
        return self._work(params)

    @abstractmethod
    def _work(self, params: SearchParams) -> ToolResult: ...


def test_a_shared_base_with_abstract_hooks_is_not_checked_but_its_tools_are() -> None:
    class Fine(_SharedBase):
        name = "search"
        Params = SearchParams

        def _work(self, params: SearchParams) -> ToolResult:
            return ToolResult.failure("offline")

    assert Fine().run(SearchParams(query="x"), ToolContext()).error == "offline"
    with pytest.raises(ToolError, match="Params must be tools.params.SearchParams"):

        class WrongParams(_SharedBase):
            name = "search"
            Params = CodeParams  # type: ignore[assignment]

            def _work(self, params: SearchParams) -> ToolResult:
                return ToolResult.failure("x")

    with pytest.raises(ToolError, match="name must be one of"):

        class NoName(_SharedBase):
            Params = SearchParams

            def _work(self, params: SearchParams) -> ToolResult:
                return ToolResult.failure("x")


def test_the_server_tools_share_one_base_and_keep_their_own_shapes() -> None:
    assert (ServerDiffusionTool.name, ServerDiffusionTool.Params) == ("diffusion", DiffusionParams)
    assert ServerEditTool.name == "edit" and ServerDiffusionTool.__mro__[1] is ServerEditTool.__mro__[1]
