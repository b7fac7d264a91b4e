"""The random states a checkpoint carries (loop/rng.py): restored exactly, in the current form and in the
list form earlier files hold."""
from __future__ import annotations

import random

import numpy as np
import torch

from statetrainer.loop import rng


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_capture_then_restore_repeats_every_generator():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    state = rng.capture()
    first = _draws()
    rng.restore(state)
    assert _draws() == first


def test_the_python_state_is_one_tensor_and_the_older_list_form_still_restores():
    random.seed(5)
    state = rng.capture()
    assert isinstance(state["python"][1], torch.Tensor) and state["python"][1].numel() == 625
    expected = random.random()
    older = {**state, "python": [state["python"][0], state["python"][1].tolist(), state["python"][2]]}
    random.seed(6)
    rng.restore(older)
    assert random.random() == expected
