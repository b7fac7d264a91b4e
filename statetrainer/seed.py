"""Seeding: seed_everything, reset_seed and isolate_rng (as Lightning's)."""
from __future__ import annotations

import contextlib
import logging
import os
import random
from typing import Iterator

import numpy as np
import torch

__all__ = ["isolate_rng", "reset_seed", "seed_everything"]

log = logging.getLogger(__name__)
_MAX = np.iinfo(np.uint32).max


def _seed_from_environment(verbose: bool) -> int:
    env = os.environ.get("PL_GLOBAL_SEED")
    if env is None:
        if verbose:
            from statetrainer.utilities.rank_zero import rank_zero_warn
            rank_zero_warn("seed_everything got no seed and PL_GLOBAL_SEED is not set; using seed 0.")
        return 0
    try:
        return int(env)
    except ValueError:
        from statetrainer.errors import flag_error
        raise flag_error("PL_GLOBAL_SEED", env, "an int (the environment variable seed_everything reads)") from None


def seed_everything(seed: int | None = None, workers: bool = False, verbose: bool = True) -> int:
    """Seed python, numpy and torch, and record the seed in PL_GLOBAL_SEED (read back when `seed` is None);
    `workers=True` also sets PL_SEED_WORKERS=1 for worker seeding. Returns the seed."""
    seed = _seed_from_environment(verbose) if seed is None else int(seed)
    if not 0 <= seed <= _MAX:
        from statetrainer.errors import flag_error
        raise flag_error("seed", seed, f"an int in [0, {_MAX}]")
    if verbose:
        from statetrainer.utilities.rank_zero import _rank_from_environment, rank_prefixed_message
        log.info(rank_prefixed_message(f"Seed set to {seed}", _rank_from_environment()))
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PL_SEED_WORKERS"] = str(int(workers))
    return seed


def reset_seed() -> None:
    """Seed again with what the last seed_everything recorded in the environment; nothing if it never ran."""
    seed = os.environ.get("PL_GLOBAL_SEED")
    if seed is not None:
        workers = bool(int(os.environ.get("PL_SEED_WORKERS", "0")))
        seed_everything(int(seed), workers=workers, verbose=False)


@contextlib.contextmanager
def isolate_rng(include_cuda: bool = True) -> Iterator[None]:
    """On exit, put the python, numpy, torch (and, with `include_cuda`, CUDA) random states back as they were
    on entry, so random draws inside the block do not change the draws after it."""
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if include_cuda and torch.cuda.is_available() else None
    yield
    random.setstate(saved[0])
    np.random.set_state(saved[1])
    torch.set_rng_state(saved[2])
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
