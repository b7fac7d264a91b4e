"""Where a tuned value lives: the model, its hparams, the datamodule or the datamodule's hparams.

Lightning's rule: a value is read from the last of these that has it, and written to every one that
has it, so `model.batch_size`, `model.hparams.batch_size` and `datamodule.batch_size` stay equal.
"""
from __future__ import annotations

from typing import Any

__all__ = ["holders", "has", "read", "write", "describe"]


def _hparams_with(obj: Any, name: str) -> Any:
    try:
        hp = getattr(obj, "hparams", None)
    except Exception:  # an hparams property that cannot be computed holds nothing
        return None
    if hp is None:
        return None
    try:
        return hp if name in hp else None
    except TypeError:  # a Namespace-like object
        return hp if hasattr(hp, name) else None


def holders(model: Any, name: str, datamodule: Any = None) -> list:
    """The objects (or dicts) holding `name`, in the order model, model.hparams, datamodule, its hparams."""
    found = []
    for owner in (model, datamodule):
        if owner is None:
            continue
        if hasattr(owner, name):
            found.append(owner)
        hp = _hparams_with(owner, name)
        if hp is not None:
            found.append(hp)
    return found


def has(model: Any, name: str, datamodule: Any = None) -> bool:
    return bool(holders(model, name, datamodule))


def read(model: Any, name: str, datamodule: Any = None) -> Any:
    """The value from the last holder (Lightning's precedence)."""
    found = holders(model, name, datamodule)
    if not found:
        raise AttributeError(f"{name!r} is not an attribute of the model, its hparams, the datamodule or its hparams")
    last = found[-1]
    return last[name] if isinstance(last, dict) else getattr(last, name)


def write(model: Any, name: str, value: Any, datamodule: Any = None) -> None:
    """Set `name` to `value` on every holder."""
    for holder in holders(model, name, datamodule):
        if isinstance(holder, dict):
            holder[name] = value
        else:
            setattr(holder, name, value)


def describe(name: str) -> str:
    """The places searched, for error messages."""
    return f"`model.{name}`, `model.hparams.{name}`, `datamodule.{name}` or `datamodule.hparams.{name}`"
