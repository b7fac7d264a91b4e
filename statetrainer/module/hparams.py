"""Hyper-parameters: capture from ``__init__``, ``hparams``, and what a checkpoint stores of them.

StateModule and DataModule forward their ``save_hyperparameters``, ``hparams``,
``hparams_initial`` and ``load_from_checkpoint`` to the functions here (re-instantiation lives in
``hparams_loading``).

``save_hyperparameters()`` reads the arguments of every ``__init__`` on the call stack whose
``self`` is the object (so a subclass and its bases all contribute, the most derived one last),
then, as Lightning does, those of the enclosing ``__init__`` frames of other hyper-parameter
holders (a module built inside another module's ``__init__``), the outer values winning.
A checkpoint stores every hyper-parameter (``non_plain="record"``, the default): what is not plain
data is written in the safe recorded form (``checkpoint/encoding.py``), and a value that only code
could rebuild (a class, a module, an object) comes back from the file as an inert placeholder that
``load_from_checkpoint`` asks the caller to replace. ``save_hyperparameters`` warns once per class
about such values. ``non_plain="repr"`` stores a ``repr`` string instead, ``non_plain="error"``
refuses to write them.
"""
from __future__ import annotations

import copy
import inspect
import types
import warnings
import weakref
from argparse import Namespace
from typing import Any, Mapping, Sequence

from torch import nn

from statetrainer.checkpoint.encoding import encode
from statetrainer.checkpoint.plain import check_plain, is_plain
from statetrainer.errors import CheckpointError, flag_error
from statetrainer.module.attribute_dict import AttributeDict
from statetrainer.module.hparams_loading import HPARAMS_KEYS, load_from_checkpoint

__all__ = ["AttributeDict", "save_hyperparameters", "get_hparams", "get_hparams_initial",
           "hparams_for_checkpoint", "load_from_checkpoint", "HPARAMS_KEYS"]

_NON_PLAIN = ("record", "repr", "error")
_WARNED: "weakref.WeakSet[type]" = weakref.WeakSet()  # classes already warned about their hyper-parameters
_CO_VARARGS, _CO_VARKEYWORDS = inspect.CO_VARARGS, inspect.CO_VARKEYWORDS


def save_hyperparameters(obj: Any, *args: Any, ignore: str | Sequence[str] | None = None,
                         frame: types.FrameType | None = None, logger: bool = True,
                         non_plain: str = "record") -> None:
    """Record init arguments in ``obj.hparams`` (all, the named ones, or one dict/Namespace)."""
    if non_plain not in _NON_PLAIN:
        raise flag_error("non_plain", non_plain, "'record' (the safe recorded form), 'repr' or 'error' "
                                                 "(refuse at checkpoint time)")
    obj._log_hyperparams = logger
    obj._hparams_non_plain = non_plain
    if len(args) == 1 and not isinstance(args[0], str) and not args[0]:
        return  # an empty container: nothing to save
    if frame is None:
        frame = inspect.currentframe().f_back
    init_args = _init_args(obj, frame)
    ignored = _ignore_list(ignore)
    init_args = {key: value for key, value in init_args.items() if key not in ignored}
    hp, obj._hparams_name = _select(args, init_args)
    _set_hparams(obj, hp)
    for key in ignored:
        obj._hparams.pop(key, None)
    _warn_unfit(obj)
    obj._hparams_initial = copy.deepcopy(obj._hparams)


def get_hparams(obj: Any) -> AttributeDict:
    """The mutable hyper-parameters (an empty AttributeDict before any save_hyperparameters)."""
    if getattr(obj, "_hparams", None) is None:
        obj._hparams = AttributeDict()
    return obj._hparams


def get_hparams_initial(obj: Any) -> AttributeDict:
    """A copy of the hyper-parameters as save_hyperparameters recorded them."""
    initial = getattr(obj, "_hparams_initial", None)
    return AttributeDict() if initial is None else copy.deepcopy(initial)


def hparams_for_checkpoint(obj: Any) -> tuple[dict[str, Any], str | None] | None:
    """(plain dict, hparams name) to store in a checkpoint; None when there is nothing to store."""
    hparams = getattr(obj, "_hparams", None)
    if not hparams:
        return None
    mode = getattr(obj, "_hparams_non_plain", "record")
    plain: dict[str, Any] = {}
    for key, value in dict(hparams).items():
        value = _unwrap(value)
        if mode == "record":  # io.save writes it in its recorded form
            plain[key] = value
            continue
        if mode == "repr":
            plain[key] = _repr_non_plain(value)
            continue
        try:
            check_plain(value, f"hyper-parameter {key!r} of {type(obj).__qualname__}")
        except CheckpointError as error:
            raise CheckpointError(
                f"{str(error).rstrip('.')}. Fix: save_hyperparameters(ignore=[{key!r}]), store it as plain data, "
                "or leave non_plain at its default 'record'.") from None
        plain[key] = value
    return plain, getattr(obj, "_hparams_name", None)


# ---------------------------------------------------------------- capture


def _init_args(obj: Any, frame: types.FrameType | None) -> dict[str, Any]:
    """Arguments of the consecutive ``__init__`` frames of `obj`, then of the enclosing ``__init__`` frames of
    other hyper-parameter holders (Lightning collects those too); outer frames win."""
    collected: list[dict[str, Any]] = []
    inside = False
    while frame is not None:
        owner = _self_of(frame) if frame.f_code.co_name == "__init__" else None
        if owner is obj or (inside and owner is not None and _holds_hparams(owner)):
            collected.append(_frame_args(frame))
            inside = True
        elif inside:
            break
        frame = frame.f_back
    merged: dict[str, Any] = {}
    for args in collected:
        merged.update(args)
    return merged


def _holds_hparams(owner: Any) -> bool:
    """An object with hyper-parameters (a HyperparametersBase; recognised by its class, which imports us)."""
    return any(cls.__name__ == "HyperparametersBase" and cls.__module__ == "statetrainer.module.hyperparameters"
               for cls in type(owner).__mro__)


def _self_of(frame: types.FrameType) -> Any:
    code = frame.f_code
    return frame.f_locals.get(code.co_varnames[0]) if code.co_argcount else None


def _frame_args(frame: types.FrameType) -> dict[str, Any]:
    code, local = frame.f_code, frame.f_locals
    count = code.co_argcount + code.co_kwonlyargcount
    names = list(code.co_varnames[1:count])  # without self
    args = {name: local[name] for name in names if name in local}
    if code.co_flags & _CO_VARKEYWORDS:
        extra = code.co_varnames[count + (1 if code.co_flags & _CO_VARARGS else 0)]
        args.update(local.get(extra) or {})
    return args


def _ignore_list(ignore: str | Sequence[str] | None) -> list[str]:
    if ignore is None:
        return []
    if isinstance(ignore, str):
        return [ignore]
    return [name for name in ignore if isinstance(name, str)]


def _select(args: tuple, init_args: dict[str, Any]) -> tuple[Any, str | None]:
    if not args:
        return init_args, ("kwargs" if init_args else None)
    objects = [arg for arg in args if not isinstance(arg, str)]
    if len(objects) == 1:
        names = [key for key, value in init_args.items() if value is objects[0] or _same(value, objects[0])]
        return objects[0], (names[0] if names else None)
    missing = [arg for arg in args if isinstance(arg, str) and arg not in init_args]
    if missing:
        raise flag_error("save_hyperparameters(*args)", missing[0], f"names of __init__ arguments: {sorted(init_args)}")
    return {arg: init_args[arg] for arg in args if isinstance(arg, str)}, "kwargs"


def _same(left: Any, right: Any) -> bool:
    try:
        return bool(left == right)
    except Exception:  # objects whose == is not a bool (tensors, arrays)
        return False


def _set_hparams(obj: Any, hp: Any) -> None:
    if isinstance(hp, Namespace):
        hp = vars(hp)
    if not isinstance(hp, Mapping):
        raise flag_error("save_hyperparameters(*args)", hp, "names of __init__ arguments, or one dict or Namespace")
    current = getattr(obj, "_hparams", None)
    if isinstance(current, dict):
        current.update(hp)
    else:
        obj._hparams = AttributeDict(hp)


def _warn_unfit(obj: Any) -> None:
    """Once per class: which hyper-parameters a checkpoint can only describe (or, with 'error', cannot write)."""
    mode = getattr(obj, "_hparams_non_plain", "record")
    if mode == "repr" or type(obj) in _WARNED:
        return
    describe = _not_plain if mode == "error" else _described
    unfit = {key: text for key, text in ((key, describe(value)) for key, value in obj._hparams.items()) if text}
    if not unfit:
        return
    _WARNED.add(type(obj))
    keys = sorted(unfit, key=str)
    listing = ", ".join(f"{key!r} ({unfit[key]})" for key in keys)
    modules = [key for key in keys if isinstance(obj._hparams[key], nn.Module)]
    weights = (f" The weights of nn.Module hyper-parameters {modules} are saved in the state_dict already."
               if modules else "")
    if mode == "error":
        outcome = "writing a checkpoint will fail (non_plain='error')"
    else:
        outcome = ("a checkpoint records them as a description only, so load_from_checkpoint will ask for them "
                   "as arguments")
    warnings.warn(f"{type(obj).__name__}.save_hyperparameters: {listing} cannot be stored as data: {outcome}; "
                  f"to leave them out use save_hyperparameters(ignore={keys!r}).{weights}", UserWarning, stacklevel=4)


def _not_plain(value: Any) -> str:
    return "" if is_plain(_unwrap(value)) else f"a {type(value).__module__}.{type(value).__qualname__}"


def _described(value: Any) -> str:
    """What in `value` a checkpoint could only describe, in words ('' when everything is kept)."""
    _, described = encode(_unwrap(value), "")
    return "; ".join(f"{place + ' is ' if place else ''}{placeholder.describe()}" for place, placeholder in described)


# ---------------------------------------------------------------- checkpoint form


def _unwrap(value: Any) -> Any:
    """Our own AttributeDict (and nested ones) become plain dicts."""
    if isinstance(value, AttributeDict):
        return {key: _unwrap(item) for key, item in value.items()}
    return value


def _repr_non_plain(value: Any) -> Any:
    if is_plain(value):
        return value
    if type(value) in (dict, AttributeDict):
        return {(key if is_plain(key) else repr(key)): _repr_non_plain(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_repr_non_plain(item) for item in value)
    return repr(value)
