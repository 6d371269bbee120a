"""A correct streaming diff for Gradio (installed once, by ``install()``, when the UI is built).

Gradio sends each streamed output after the first as a list of edits against the previous one
(``gradio.utils.diff``, applied by the browser and by gradio_client). Gradio 6.31's diff shifts
the index of every ``delete`` in a list's edit list, including deletes that belong to lists
nested inside it, so a value whose nested lists shrink (a card losing a part while the article
loses a block) is rebuilt wrongly: ``{"blocks": [{"body": ["a", "b"]}, {"body": [...]}]}`` to
``{"blocks": [{"body": ["a"]}]}`` deletes ``blocks[0]`` instead of ``blocks[1]``. The page then
shows the wrong article, or gradio_client raises IndexError. Here a list's own deletes go last,
from its end backwards, so no index needs shifting and nested edits stay as they are.
"""

from __future__ import annotations

from typing import Any

Edit = list[Any]


def diff(old: Any, new: Any) -> list[Edit]:
    """The edits (Gradio's format: ``[action, path, value]``) that turn ``old`` into ``new``."""
    return _compare(old, new, [])


def _compare(old: Any, new: Any, path: list[Any]) -> list[Edit]:
    if old == new:
        return []
    if type(old) is not type(new):
        return [["replace", path, new]]
    if isinstance(old, str) and new.startswith(old):
        return [["append", path, new[len(old) :]]]
    if isinstance(old, list):
        common = min(len(old), len(new))
        edits: list[Edit] = []
        for i in range(common):
            edits.extend(_compare(old[i], new[i], [*path, i]))
        edits.extend(["delete", [*path, i], None] for i in range(len(old) - 1, common - 1, -1))
        edits.extend(["add", [*path, i], new[i]] for i in range(common, len(new)))
        return edits
    if isinstance(old, dict):
        edits = []
        for key in old:
            if key in new:
                edits.extend(_compare(old[key], new[key], [*path, key]))
            else:
                edits.append(["delete", [*path, key], None])
        edits.extend(["add", [*path, key], new[key]] for key in new if key not in old)
        return edits
    return [["replace", path, new]]


def install() -> None:
    """Use this diff for every streamed output (gradio.blocks calls ``utils.diff`` at run time)."""
    import gradio.utils

    if gradio.utils.diff is not diff:
        gradio.utils._studio_original_diff = gradio.utils.diff  # type: ignore[attr-defined]
        gradio.utils.diff = diff
