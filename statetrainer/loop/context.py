"""The loop context the guards read: fn, progress, settings, stop rules, ranks."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["LoopConfig", "Ranks", "LoopContext"]


@dataclass
class LoopConfig:
    """Settings resolved for one run (numbers of batches known once the data is)."""

    validation_enabled: bool = False
    sanity_steps: float = 0
    check_val_every_n_epoch: Optional[int] = 1
    val_check_batch: float = math.inf
    num_training_batches: float = math.inf
    accumulate_grad_batches: Callable[[int], int] = lambda epoch: 1


@dataclass
class Ranks:
    global_rank: int = 0
    local_rank: int = 0
    node_rank: int = 0
    world_size: int = 1
    prepare_data_per_node: bool = True


class LoopContext:
    """What guards may look at. `eval_has_next` is rebound to the running evaluation/prediction."""

    def __init__(self, progress, stop, ranks: Ranks):
        self.fn: Optional[str] = None
        self.progress = progress
        self.stop = stop
        self.ranks = ranks
        self.config = LoopConfig()
        self.eval_has_next: Callable[[], bool] = lambda: False
