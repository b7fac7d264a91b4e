"""What a checkpoint may contain: tensors and plain containers, exactly what a weights-only read accepts.

``check_plain(obj, where)`` walks a value and raises ``CheckpointError`` at the first part that
``torch.load(weights_only=True)`` could not read back, naming where it sits
(``checkpoint['callbacks']['Foo']['seen']``) and its type. Types are compared exactly: a dict
subclass (defaultdict, an attribute dict) or a tuple subclass (a namedtuple) is pickled with its
class and would need arbitrary unpickling to read, so it is refused like any other object; the exceptions
are ``OrderedDict`` and ``Counter``, which torch's weights-only reader accepts by name.
"""
from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

import torch

from statetrainer.errors import CheckpointError

__all__ = ["check_plain", "is_plain", "only_scalars", "PLAIN_LEAVES", "PLAIN_CONTAINERS"]

PLAIN_LEAVES = (type(None), bool, int, float, complex, str, bytes, bytearray,
                torch.dtype, torch.device, torch.Size, torch.Tensor, torch.nn.Parameter)
PLAIN_CONTAINERS = (dict, OrderedDict, Counter, list, tuple, set)  # torch's weights-only reader rebuilds these
_SCALARS = frozenset({type(None), bool, int, float, str})  # plain leaves a container is often made of only
_ACCEPTED = ("tensors, numbers, strings, bytes, None, torch dtypes/devices, and dict/list/tuple/set/Counter of these")


def check_plain(value: Any, where: str = "value") -> None:
    """Raise CheckpointError if `value` is not made only of plain data (see the module docstring)."""
    problem = _find(value, where, set())
    if problem is not None:
        place, bad = problem
        raise CheckpointError(
            f"{place} holds a {type(bad).__module__}.{type(bad).__qualname__}, which a weights-only checkpoint "
            f"cannot store; accepted: {_ACCEPTED}.")


def is_plain(value: Any) -> bool:
    """True when `value` would pass `check_plain`."""
    return _find(value, "value", set()) is None


def only_scalars(items: Any) -> bool:
    """Every item is None, a bool, a number or a string (an RNG state's words): plain with no walk."""
    return all(type(item) in _SCALARS for item in items)


def _find(value: Any, where: str, active: set[int]) -> tuple[str, Any] | None:
    kind = type(value)
    if kind is bytes and not value:  # torch pickles b"" as a call to bytes(), which a weights-only read refuses
        return where, value
    if kind in PLAIN_LEAVES:
        return None
    if kind not in PLAIN_CONTAINERS:
        return where, value
    if id(value) in active:  # a container that holds itself: pickle copes, but it is not plain data
        return where, value
    active.add(id(value))
    try:
        return _find_in(value, where, active)
    finally:
        active.discard(id(value))


def _find_in(container: Any, where: str, active: set[int]) -> tuple[str, Any] | None:
    if isinstance(container, dict):
        for key, item in container.items():
            found = _find(key, f"{where} key {key!r}", active) or _find(item, f"{where}[{key!r}]", active)
            if found:
                return found
        return None
    if only_scalars(container):
        return None  # numbers and strings only (an RNG state)
    for index, item in enumerate(container):
        label = f"{where} item {item!r}" if isinstance(container, set) else f"{where}[{index}]"
        found = _find(item, label, active)
        if found:
            return found
    return None
