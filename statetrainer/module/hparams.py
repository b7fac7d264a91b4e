"""Hyper-parameters: capture from ``__init__``, ``hparams``, and re-instantiation from a checkpoint.

StateModule and DataModule forward their ``save_hyperparameters``, ``hparams``,
``hparams_initial`` and ``load_from_checkpoint`` to the functions here.

``save_hyperparameters()`` reads the arguments of every ``__init__`` on the call stack whose
``self`` is the object (so a subclass and its bases all contribute, the most derived one last),
exactly the values Lightning records. In a checkpoint the hyper-parameters must be plain data;
anything else is refused when the checkpoint is written, unless ``non_plain="repr"`` asked to
store the value's ``repr`` instead. Loading never imports or calls anything named in the file.
"""
from __future__ import annotations

import copy
import inspect
import types
import warnings
from argparse import Namespace
from typing import Any, Mapping, Sequence

from torch import nn

from statetrainer.checkpoint import io
from statetrainer.checkpoint.plain import check_plain, is_plain
from statetrainer.checkpoint.weights import load_weights
from statetrainer.errors import CheckpointError, flag_error

__all__ = ["AttributeDict", "save_hyperparameters", "get_hparams", "get_hparams_initial",
           "hparams_for_checkpoint", "load_from_checkpoint", "HPARAMS_KEYS"]

# checkpoint keys (Lightning's names): (hyper-parameters, name of the single init argument they came from)
HPARAMS_KEYS = {"module": ("hyper_parameters", "hparams_name"),
                "datamodule": ("datamodule_hyper_parameters", "datamodule_hparams_name")}
_NON_PLAIN = ("error", "repr")
_CO_VARARGS, _CO_VARKEYWORDS = inspect.CO_VARARGS, inspect.CO_VARKEYWORDS


class AttributeDict(dict):
    """A dict whose keys are also attributes: ``hparams.lr`` is ``hparams["lr"]``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as missing:
            raise AttributeError(f"no hyper-parameter named {key!r}; saved: {sorted(map(str, self))}") from missing

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        del self[key]

    def __repr__(self) -> str:
        if not self:
            return ""
        width = max(len(str(key)) for key in self) + 3
        return "\n".join(f"{repr(str(key)):{width}}{value}" for key, value in sorted(self.items(), key=str))


def save_hyperparameters(obj: Any, *args: Any, ignore: str | Sequence[str] | None = None,
                         frame: types.FrameType | None = None, logger: bool = True,
                         non_plain: str = "error") -> None:
    """Record init arguments in ``obj.hparams`` (all, the named ones, or one dict/Namespace)."""
    if non_plain not in _NON_PLAIN:
        raise flag_error("non_plain", non_plain, "'error' (refuse at checkpoint time) or 'repr'")
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
    mode = getattr(obj, "_hparams_non_plain", "error")
    plain: dict[str, Any] = {}
    for key, value in dict(hparams).items():
        value = _unwrap(value)
        if mode == "repr":
            plain[key] = _repr_non_plain(value)
            continue
        try:
            check_plain(value, f"hyper-parameter {key!r} of {type(obj).__qualname__}")
        except CheckpointError as error:
            raise CheckpointError(
                f"{str(error).rstrip('.')}. Fix: save_hyperparameters(ignore=[{key!r}]), store it as plain data, "
                "or opt in to keeping its repr with save_hyperparameters(..., non_plain='repr').") from None
        plain[key] = value
    return plain, getattr(obj, "_hparams_name", None)


def load_from_checkpoint(cls: type, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                         strict: bool | None = None, **kwargs: Any) -> Any:
    """Build `cls` from the checkpoint's hyper-parameters (``kwargs`` override them) and load its state.

    ``weights_only=False`` among the keyword arguments is the explicit opt-in to arbitrary unpickling.
    """
    weights_only = kwargs.pop("weights_only", True)
    checkpoint = io.load(checkpoint_path, map_location=map_location, weights_only=weights_only is not False)
    kind = "module" if issubclass(cls, nn.Module) else "datamodule"
    init_kwargs = _init_kwargs(cls, checkpoint, kind, hparams_file, kwargs)
    obj = cls(**init_kwargs)
    if kind == "datamodule":
        state = checkpoint.get(cls.__qualname__)
        if state is not None:
            obj.load_state_dict(state)
        return obj
    if strict is None:
        strict = getattr(obj, "strict_loading", None)
    if _overridden(obj, "configure_model"):
        obj.configure_model()
    obj.on_load_checkpoint(checkpoint)
    load_weights(obj, checkpoint["state_dict"], strict=strict is not False, source=str(checkpoint_path))
    device = next((value.device for value in checkpoint["state_dict"].values() if hasattr(value, "device")), None)
    return obj if device is None else obj.to(device)


# ---------------------------------------------------------------- capture


def _init_args(obj: Any, frame: types.FrameType | None) -> dict[str, Any]:
    """Arguments of the consecutive ``__init__`` frames of `obj`, outermost (most derived) last."""
    collected: list[dict[str, Any]] = []
    while frame is not None:
        mine = frame.f_code.co_name == "__init__" and _self_of(frame) is obj
        if mine:
            collected.append(_frame_args(frame))
        elif collected:
            break
        frame = frame.f_back
    merged: dict[str, Any] = {}
    for args in collected:
        merged.update(args)
    return merged


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
    for key, value in obj._hparams.items():
        if isinstance(value, nn.Module):
            warnings.warn(f"hyper-parameter {key!r} is an nn.Module: its weights are already in the checkpoint; "
                          f"use save_hyperparameters(ignore=[{key!r}]).", UserWarning, stacklevel=4)
        elif getattr(obj, "_hparams_non_plain", "error") == "error" and not is_plain(_unwrap(value)):
            warnings.warn(f"hyper-parameter {key!r} ({type(value).__qualname__}) is not plain data: writing a "
                          f"checkpoint will fail; use ignore=[{key!r}] or non_plain='repr'.", UserWarning, stacklevel=4)


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


# ---------------------------------------------------------------- re-instantiation


def _init_kwargs(cls: type, checkpoint: dict, kind: str, hparams_file: Any, overrides: dict) -> dict[str, Any]:
    key, name_key = HPARAMS_KEYS[kind]
    if hparams_file is not None:
        saved = _read_hparams_file(hparams_file)
    else:
        saved = dict(checkpoint.get(key) or {})
    saved.update(overrides)
    parameters = inspect.signature(cls.__init__).parameters
    names = [name for name, p in list(parameters.items())[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    args_name = checkpoint.get(name_key)
    init_kwargs = {args_name: saved} if args_name and args_name in names else saved
    init_kwargs.update(overrides)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    return init_kwargs if takes_any else {k: v for k, v in init_kwargs.items() if k in names}


def _read_hparams_file(path: Any) -> dict[str, Any]:
    from statetrainer.loggers.hparams_file import load_yaml
    if not str(path).lower().endswith((".yaml", ".yml")):
        raise flag_error("hparams_file", str(path), "a .yaml or .yml file")
    return dict(load_yaml(str(path)))


def _overridden(obj: Any, name: str) -> bool:
    from statetrainer.module.hooks import HookStubs
    stub = getattr(HookStubs, name, None)
    return stub is not None and getattr(type(obj), name, None) is not stub
