"""Which callable runs a hook of a module, datamodule or callback — decided once per run, as Lightning
users write hooks: overridden on the class, assigned on the instance (`model.on_fit_end = fn`),
disabled with None (`model.validation_step = None`, `Class.configure_model = None`), or provided by
an object that has no class-level definition at all (a `Mock(spec=Callback)`)."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

__all__ = ["implementation", "overrides", "accepts"]

_MISSING = object()


def implementation(obj: Any, base: type, hook: str) -> Optional[Callable]:
    """The callable that runs `hook` on `obj`, or None when `obj` keeps `base`'s default or disabled it."""
    if obj is None:
        return None
    own = getattr(obj, "__dict__", {}).get(hook, _MISSING)
    if own is not _MISSING:
        return own if callable(own) else None
    on_class = getattr(type(obj), hook, _MISSING)
    if on_class is None:
        return None
    if on_class is _MISSING:  # nothing on the class: an object answering attributes itself (a mock)
        found = getattr(obj, hook, None)
        return found if callable(found) else None
    if on_class is getattr(base, hook, _MISSING):
        return None
    return getattr(obj, hook)


def overrides(obj: Any, base: type, hook: str) -> bool:
    return implementation(obj, base, hook) is not None


def accepts(fn: Callable, name: str, min_args: Optional[int] = None) -> bool:
    """`fn` takes an argument `name` (by name, through *args, or as its `min_args`-th positional one),
    as Lightning decides which optional arguments a step receives."""
    fn = getattr(fn, "__wrapped__", fn)
    try:
        spec = inspect.getfullargspec(fn)
    except TypeError:  # a builtin or a mock without a signature: pass everything
        return True
    args = spec.args[1:] if inspect.ismethod(fn) or (spec.args and spec.args[0] == "self") else spec.args
    return name in args or spec.varargs is not None or (min_args is not None and len(args) >= min_args)
