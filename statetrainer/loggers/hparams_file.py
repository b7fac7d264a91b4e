"""Hyperparameters as plain data: the dict a logger receives, its flat form, and hparams.yaml.

hparams.yaml holds plain YAML only (``yaml.safe_dump``): mappings, lists, strings, numbers,
booleans and null. Anything else is converted: a tensor or numpy array becomes its list (a scalar
becomes its number), a tuple or set a list, an Enum its value, a Namespace its dict, a class or
function its qualified name, and any other object its ``str``.
"""
from __future__ import annotations

import enum
import os
from argparse import Namespace
from typing import Any, Mapping


from statetrainer.errors import flag_error

__all__ = ["params_dict", "to_plain", "flatten", "for_tensorboard", "save_yaml", "load_yaml"]

_SCALARS = (bool, int, float, str, type(None))


def params_dict(params: Any) -> dict[str, Any]:
    """The hyperparameters as a dict: accepts None, a mapping or an argparse Namespace."""
    if params is None:
        return {}
    if isinstance(params, Namespace):
        return dict(vars(params))
    if isinstance(params, Mapping):
        return dict(params)
    raise flag_error("params", params, "a dict, an argparse.Namespace or None")


def to_plain(value: Any) -> Any:
    """Convert `value` into data ``yaml.safe_dump`` writes (see the module docstring)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_plain(item) for item in items]
    if hasattr(value, "tolist") and hasattr(value, "shape"):  # torch tensors, numpy arrays and scalars
        return to_plain(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return str(value)


def flatten(params: Mapping[str, Any], separator: str = "/") -> dict[str, Any]:
    """Nested mappings become ``"outer/inner"`` keys: ``{"a": {"b": 1}} -> {"a/b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Namespace):
            value = vars(value)
        if isinstance(value, Mapping) and value:
            for inner, item in flatten(value, separator).items():
                flat[f"{key}{separator}{inner}"] = item
        else:
            flat[str(key)] = value
    return flat


def for_tensorboard(params: Mapping[str, Any]) -> dict[str, Any]:
    """Values TensorBoard's hparams plugin takes: bool, int, float, str; everything else as text."""
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if hasattr(value, "ndim") and value.ndim == 0 and hasattr(value, "item"):
            value = value.item()
        clean[key] = value if isinstance(value, (bool, int, float, str)) else str(to_plain(value))
    return clean


def save_yaml(path: str, params: Mapping[str, Any]) -> None:
    """Write `params` to `path` as plain YAML (keys in the order given)."""
    import yaml  # here, not at import: PyYAML's import costs more than the rest of statetrainer's loggers

    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(to_plain(dict(params)), handle, sort_keys=False, default_flow_style=False)


def load_yaml(path: str) -> dict[str, Any]:
    """Read an hparams.yaml back ({} for an empty file)."""
    import yaml

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
