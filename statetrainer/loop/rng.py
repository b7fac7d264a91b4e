"""Capturing and restoring the python, numpy and torch random states (plain data only)."""
from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["capture", "restore"]


def capture() -> dict:
    """The RNG states as tensors and plain containers (loadable with weights_only=True)."""
    py_version, py_state, py_gauss = random.getstate()
    np_state = np.random.get_state()
    state = {
        # the 625 words as one tensor, not a list: a checkpoint pickles one object instead of 625
        "python": [py_version, torch.tensor(py_state, dtype=torch.int64), py_gauss],
        # int64, not numpy's uint32: torch cannot unpickle a uint32 tensor that plain pickle wrote (this
        # state travels by pickle when ddp_spawn sends the trainer to its workers)
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    version, values, gauss = state["python"]
    words = values.tolist() if isinstance(values, torch.Tensor) else values  # a list in files written before this change
    random.setstate((version, tuple(words), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
