"""seed_everything: one seed for python, numpy and torch (as Lightning's)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything"]

_MAX = np.iinfo(np.uint32).max


def seed_everything(seed: int | None = None, workers: bool = False) -> int:
    """Seed python, numpy and torch; `workers=True` also sets PL_SEED_WORKERS for worker seeding."""
    if seed is None:
        env = os.environ.get("PL_GLOBAL_SEED")
        seed = int(env) if env is not None else 0
    seed = int(seed)
    if not 0 <= seed <= _MAX:
        from statetrainer.errors import flag_error
        raise flag_error("seed", seed, f"an int in [0, {_MAX}]")
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PL_SEED_WORKERS"] = str(int(workers))
    return seed
