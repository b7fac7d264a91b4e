"""The iterator a step receives when it declares a `dataloader_iter` argument (Lightning's flavour):
the step pulls as many batches as it likes, each as `(batch, batch_idx, dataloader_idx)`, untransferred.

The batch hooks around such a step see the last batch pulled so far: before the step, the one the
previous step pulled last (`(None, 0, 0)` at the very start); after it, the one this step pulled last.
"""
from __future__ import annotations

from typing import Any

__all__ = ["StepIterator"]


class StepIterator:
    """Reads the evaluation cursor on demand; ends (StopIteration) when every stream is used up."""

    def __init__(self, cursor):
        self.cursor = cursor
        self.last: tuple[Any, int, int] = (None, 0, 0)

    def __iter__(self) -> "StepIterator":
        return self

    def __next__(self) -> tuple[Any, int, int]:
        if not self.cursor.has_next():
            raise StopIteration
        self.last = self.cursor.fetch()
        return self.last
