"""A stored block named for people (``models.block_names``), for history labels and refusals.

Call it before the change, so the label names the block as the writer knew it when the step
began (an insert names the new block). No block id reaches what a writer reads.
"""

from __future__ import annotations

from models.block_names import block_name, capitalised
from storage.rows import version_row
from storage.schema import Block


def name_of(block: Block, number: int | None = None) -> str:
    """``block`` by its version ``number`` (default: the current one): ``paragraph "First words…"``,
    ``chart "Its caption"``..."""
    version = version_row(block, number or block.current_version)
    return block_name(
        block.kind,
        text=version.text,
        source=version.source,
        provenance=version.provenance,
        description=version.description,
    )


__all__ = ["capitalised", "name_of"]
