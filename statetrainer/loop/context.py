"""What the guards look at: the position, the stop rules over it, the run's fn, the ranks (read from
the strategy each time: a process group may set them after the Trainer was built) and the running
evaluation's cursor."""
from __future__ import annotations

from typing import Callable, Optional

__all__ = ["LoopContext"]


def _no_batch() -> bool:
    return False


class LoopContext:
    """Built once per Trainer; `fn` and `eval_has_next` follow the current run."""

    def __init__(self, position, stop, strategy_ref: Callable[[], object]):
        self.fn: Optional[str] = None
        self.position = position
        self.stop = stop
        self._strategy = strategy_ref
        self.prepare_data_per_node = True
        self.eval_has_next: Callable[[], bool] = _no_batch  # a module-level function: the trainer pickles

    @property
    def ranks(self):
        """The strategy: global_rank, local_rank, node_rank, world_size."""
        return self._strategy()
