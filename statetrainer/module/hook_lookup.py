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


def check_dataloader_idx(module: Any, hooks: tuple[str, ...], several: bool, kind: str) -> None:
    """A step or batch hook must take `dataloader_idx` exactly when it will be given one (several loaders);
    a clear error before the first batch otherwise (Lightning's rule)."""
    from statetrainer.errors import HookSignatureError
    from statetrainer.module.hooks import HookStubs
    for hook in hooks:
        fn = implementation(module, HookStubs, hook)
        if fn is None:
            continue
        takes = accepts(fn, "dataloader_idx")
        if several and not takes:
            raise HookSignatureError(
                f"`{type(module).__name__}.{hook}` has no `dataloader_idx` argument but the {kind} data has several "
                f"dataloaders; accepted: add `dataloader_idx=0` to its signature.")
        if not several and takes and _required(fn, "dataloader_idx"):
            raise HookSignatureError(
                f"`{type(module).__name__}.{hook}` requires `dataloader_idx` but the {kind} data is one dataloader, "
                f"which is called without it; accepted: remove the argument or give it a default "
                f"(`dataloader_idx=0`).")


def _required(fn: Callable, name: str) -> bool:
    try:
        parameter = inspect.signature(fn).parameters.get(name)
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.default is inspect.Parameter.empty
