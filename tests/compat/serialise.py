"""Turn trainer outcomes (tensors, enums, nested containers) into JSON-ready data."""
from __future__ import annotations

import math

import torch

SIGNIFICANT = 7


def enum_value(value):
    if value is None:
        return None
    return str(getattr(value, "value", value))


def to_plain(value):
    """Tensors become floats or nested lists; containers are walked."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def metrics(mapping) -> dict:
    return {k: to_plain(v) for k, v in sorted(dict(mapping).items())}


def weights(module) -> dict:
    return {name: to_plain(p) for name, p in module.state_dict().items()}


def round_floats(value):
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return float(f"{value:.{SIGNIFICANT}g}")
    if isinstance(value, dict):
        return {k: round_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [round_floats(v) for v in value]
    return value
