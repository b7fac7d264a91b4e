"""Loading a checkpoint's ``state_dict`` into a module, with missing and unexpected keys spelled out."""
from __future__ import annotations

import warnings
from typing import Any, Mapping

from torch import nn

from statetrainer.errors import CheckpointError

__all__ = ["load_weights"]

_SHOWN = 10  # keys listed per kind before "and N more"


def load_weights(module: nn.Module, state_dict: Mapping[str, Any], strict: bool = True, source: str = "") -> None:
    """Load `state_dict`; strict: a CheckpointError lists missing and unexpected keys, else a warning does.

    The module's own ``load_state_dict`` is called once, with `strict` (as Lightning calls it); an empty
    `state_dict` is not loaded at all and gives a warning (as Lightning).
    """
    where = f" from {source!r}" if source else ""
    name = type(module).__qualname__
    if not state_dict:
        warnings.warn(f"the checkpoint{where} holds no weights (its state_dict is empty): {name} keeps the weights "
                      "it was built with.", UserWarning, stacklevel=2)
        return
    try:
        result = module.load_state_dict(state_dict, strict=strict)
    except RuntimeError as error:  # key mismatches when strict; shape mismatches always
        detail = " ".join(str(error).split())
        if strict and "size mismatch" not in detail:
            missing, unexpected = _differences(module.load_state_dict(state_dict, strict=False))
            if missing or unexpected:
                raise CheckpointError(f"the weights{where} do not match {name} (strict=True): "
                                      f"{_listing(missing, unexpected)}.") from None
        raise CheckpointError(f"loading the weights{where} into {name} failed: {detail}") from None
    missing, unexpected = _differences(result)
    if missing or unexpected:
        warnings.warn(f"the weights{where} do not fully match {name} (strict=False): "
                      f"{_listing(missing, unexpected)}.", UserWarning, stacklevel=2)


def _differences(result: Any) -> tuple[list[str], list[str]]:
    """(missing, unexpected) from what ``load_state_dict`` returned (torch's named tuple; anything else: none)."""
    if not isinstance(result, tuple) or not hasattr(result, "missing_keys"):
        return [], []
    return list(result.missing_keys), list(result.unexpected_keys)


def _listing(missing: list[str], unexpected: list[str]) -> str:
    return "; ".join(part for part in (_keys("missing keys", missing), _keys("unexpected keys", unexpected)) if part)


def _keys(label: str, keys: list[str]) -> str:
    if not keys:
        return ""
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return f"{label} {keys[:_SHOWN]}{more}"
