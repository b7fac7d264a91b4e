"""LambdaCallback: a callback made of plain functions, one keyword argument per hook.

``LambdaCallback(on_train_epoch_end=lambda trainer, module: ..., setup=...)``: each function is called
with exactly the arguments the hook gets (``trainer, module, ...``); its return value is ignored.
Any hook of `Callback` may be given; an unknown name is refused.
"""
from __future__ import annotations

from typing import Any, Callable

from statetrainer.callbacks.callback import Callback

__all__ = ["LambdaCallback"]

_NOT_HOOKS = {"state_dict", "load_state_dict", "state_key"}
HOOK_NAMES = tuple(sorted(name for name in vars(Callback)
                          if not name.startswith("_") and name not in _NOT_HOOKS and callable(vars(Callback)[name])))


class LambdaCallback(Callback):
    """A callback whose hooks are the functions given as keyword arguments (None: the hook does nothing)."""

    def __init__(self, **hooks: Callable | None) -> None:
        unknown = sorted(set(hooks) - set(HOOK_NAMES))
        if unknown:
            what = "is not a callback hook" if len(unknown) == 1 else "are not callback hooks"
            raise TypeError(f"LambdaCallback got {', '.join(unknown)}, which {what}; "
                            f"accepted: {', '.join(HOOK_NAMES)}.")
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback({name}=...) got a {type(fn).__name__}; accepted: a callable or None.")
        self._hooks: dict[str, Callable] = {name: fn for name, fn in hooks.items() if fn is not None}

    def __repr__(self) -> str:
        return f"LambdaCallback({', '.join(sorted(self._hooks))})"


def _forward(name: str) -> Callable:
    def hook(self: LambdaCallback, *args: Any, **kwargs: Any) -> None:
        fn = self._hooks.get(name)
        if fn is not None:
            fn(*args, **kwargs)
    hook.__name__ = hook.__qualname__ = name
    hook.__doc__ = f"Calls the function given as `{name}=`, if any."
    return hook


# Every hook is defined on the class (the dispatcher looks hooks up on the class) and forwards to the
# instance's function for it.
for _name in HOOK_NAMES:
    setattr(LambdaCallback, _name, _forward(_name))
