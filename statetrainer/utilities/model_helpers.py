"""is_overridden: whether an object replaces one of its base class's methods (Lightning's helper)."""
from __future__ import annotations

import functools
from typing import Any, Optional
from unittest import mock

__all__ = ["is_overridden"]


def _code(attr: Any) -> Any:
    """The code object behind `attr`, seeing through functools.wraps, Mock(wraps=...) and partial."""
    attr = getattr(attr, "__wrapped__", attr)
    if isinstance(attr, mock.Mock):
        attr = attr._mock_wraps
    elif isinstance(attr, functools.partial):
        attr = attr.func
    return None if attr is None else getattr(attr, "__code__", attr)


def _default_parent(instance: Any) -> type:
    from statetrainer.callbacks.callback import Callback
    from statetrainer.data.datamodule import DataModule
    from statetrainer.module.module import StateModule
    for parent in (StateModule, DataModule, Callback):
        if isinstance(instance, parent):
            return parent
    raise ValueError(f"is_overridden got an instance of {type(instance).__name__} and no `parent`; accepted: a "
                     "StateModule, DataModule or Callback, or pass parent=<the base class>.")


def is_overridden(method_name: str, instance: Optional[object] = None, parent: Optional[type] = None) -> bool:
    """True when `instance.method_name` is not `parent.method_name` (parent defaults to the StateModule,
    DataModule or Callback base the instance derives from); False for `instance=None` or a None attribute."""
    if instance is None:
        return False
    parent = parent or _default_parent(instance)
    own = _code(getattr(instance, method_name, None))
    if own is None:
        return False
    base = getattr(parent, method_name, None)
    if base is None:
        raise ValueError(f"is_overridden got method_name={method_name!r}, which {parent.__name__} does not "
                         "define; accepted: a method of the parent class.")
    return own != _code(base)
