"""Gradient clipping by norm or by value, with the trainer's flags as defaults."""
from __future__ import annotations

import torch

from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["clip_gradients", "ALGORITHMS"]

ALGORITHMS = ("norm", "value")


def _resolve(module, value, algorithm):
    trainer = module._trainer
    flag_val = getattr(trainer, "gradient_clip_val", None)
    flag_algo = getattr(trainer, "gradient_clip_algorithm", None)
    if value is None:
        value = flag_val or 0.0
    elif flag_val is not None and flag_val != value:
        raise MisconfigurationError(
            f"clip_gradients got gradient_clip_val={value!r} but the Trainer has gradient_clip_val={flag_val!r}; "
            "accepted: set it in one place only.")
    if algorithm is None:
        algorithm = flag_algo or "norm"
    elif flag_algo is not None and flag_algo != algorithm:
        raise MisconfigurationError(
            f"clip_gradients got gradient_clip_algorithm={algorithm!r} but the Trainer has "
            f"gradient_clip_algorithm={flag_algo!r}; accepted: set it in one place only.")
    if algorithm not in ALGORITHMS:
        raise flag_error("gradient_clip_algorithm", algorithm, "'norm' or 'value'")
    return float(value), algorithm


def clip_gradients(module, optimizer, value=None, algorithm=None) -> None:
    value, algorithm = _resolve(module, value, algorithm)
    if value <= 0:
        return
    raw = getattr(optimizer, "optimizer", optimizer)
    params = [p for group in raw.param_groups for p in group["params"] if p.grad is not None]
    if algorithm == "value":
        torch.nn.utils.clip_grad_value_(params, value)
    else:
        torch.nn.utils.clip_grad_norm_(params, value)
