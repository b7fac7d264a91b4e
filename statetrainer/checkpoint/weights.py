"""Loading a checkpoint's ``state_dict`` into a module, with missing and unexpected keys spelled out."""
from __future__ import annotations

import warnings
from typing import Any, Mapping

from torch import nn

from statetrainer.errors import CheckpointError

__all__ = ["load_weights"]

_SHOWN = 10  # keys listed per kind before "and N more"


def load_weights(module: nn.Module, state_dict: Mapping[str, Any], strict: bool = True, source: str = "") -> None:
    """Load `state_dict`; strict: a CheckpointError lists missing and unexpected keys, else a warning does."""
    where = f" from {source!r}" if source else ""
    try:
        result = module.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:  # shape mismatches are raised even when strict=False
        detail = " ".join(str(error).split())
        raise CheckpointError(f"loading the weights{where} into {type(module).__qualname__} failed: {detail}") from None
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if not missing and not unexpected:
        return
    listing = "; ".join(part for part in (_keys("missing keys", missing), _keys("unexpected keys", unexpected)) if part)
    if strict:
        raise CheckpointError(f"the weights{where} do not match {type(module).__qualname__} (strict=True): {listing}.")
    warnings.warn(f"the weights{where} do not fully match {type(module).__qualname__} (strict=False): {listing}.",
                  UserWarning, stacklevel=2)


def _keys(label: str, keys: list[str]) -> str:
    if not keys:
        return ""
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return f"{label} {keys[:_SHOWN]}{more}"
