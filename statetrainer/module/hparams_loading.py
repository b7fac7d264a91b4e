"""``load_from_checkpoint``: a module or DataModule rebuilt from a checkpoint's hyper-parameters.

The class the method is called on is instantiated with the saved hyper-parameters, `overrides`
replacing or supplying values. Nothing named in the file is imported or called: a hyper-parameter
that was a class, a function, an Enum member, an ``nn.Module`` or another object comes back from
the file as an inert ``Placeholder``, and the class is only built once the caller has passed every
such argument; otherwise a ``CheckpointError`` names each one and what it was.
"""
from __future__ import annotations

import argparse
import inspect
import os
import warnings
from typing import Any

from torch import nn

from statetrainer.checkpoint import io
from statetrainer.checkpoint.placeholder import Placeholder
from statetrainer.checkpoint.weights import load_weights
from statetrainer.errors import CheckpointError, flag_error

__all__ = ["load_from_checkpoint", "HPARAMS_KEYS", "PAST_HPARAMS_KEYS"]

# checkpoint keys (Lightning's names): (hyper-parameters, name of the single init argument they came from)
HPARAMS_KEYS = {"module": ("hyper_parameters", "hparams_name"),
                "datamodule": ("datamodule_hyper_parameters", "datamodule_hparams_name")}
PAST_HPARAMS_KEYS = ("hparams", "module_arguments")  # where Lightning 0.x kept a module's hyper-parameters


def load_from_checkpoint(cls: type, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                         strict: bool | None = None, **kwargs: Any) -> Any:
    """Build `cls` from the checkpoint's hyper-parameters (``kwargs`` override them) and load its state.

    ``weights_only=False`` among the keyword arguments is the explicit opt-in to arbitrary unpickling.
    """
    weights_only = kwargs.pop("weights_only", True)
    checkpoint = io.load(checkpoint_path, map_location=map_location, weights_only=weights_only is not False)
    kind = "module" if issubclass(cls, nn.Module) else "datamodule"
    init_kwargs = init_kwargs_from(cls, checkpoint, kind, hparams_file, kwargs)
    _refuse_placeholders(cls, init_kwargs, checkpoint_path)
    obj = cls(**init_kwargs)
    if kind == "datamodule":
        state = checkpoint.get(cls.__qualname__)
        if state is not None:
            obj.load_state_dict(state)
        return obj
    strict = _strictness(obj, strict)
    if _overridden(obj, "configure_model"):
        obj.configure_model()
    obj.on_load_checkpoint(checkpoint)
    load_weights(obj, checkpoint["state_dict"], strict=strict is not False, source=str(checkpoint_path))
    device = next((value.device for value in checkpoint["state_dict"].values() if hasattr(value, "device")), None)
    return obj if device is None else obj.to(device)


def _strictness(obj: Any, strict: bool | None) -> bool | None:
    """`strict`, else the module's ``strict_loading``; both given and different is refused (as Lightning)."""
    own = getattr(obj, "strict_loading", None)
    if strict is not None and own is not None and bool(strict) != bool(own):
        raise flag_error("strict", strict, f"None or {bool(own)}, the value of {type(obj).__qualname__}.strict_loading")
    return own if strict is None else strict


def init_kwargs_from(cls: type, checkpoint: dict, kind: str, hparams_file: Any, overrides: dict) -> dict[str, Any]:
    """The keyword arguments for ``cls(...)``: saved hyper-parameters, then `overrides`, filtered to what it takes."""
    key, name_key = HPARAMS_KEYS[kind]
    if hparams_file is not None:
        saved = _read_hparams_file(hparams_file)
    else:
        saved = _saved_hparams(checkpoint, kind)
    saved.update(overrides)
    parameters = inspect.signature(cls.__init__).parameters
    names = [name for name, p in list(parameters.items())[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    args_name = checkpoint.get(name_key)
    init_kwargs = {args_name: saved} if args_name and args_name in names else saved
    init_kwargs.update(overrides)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    return init_kwargs if takes_any else {k: v for k, v in init_kwargs.items() if k in names}


def _saved_hparams(checkpoint: dict, kind: str) -> dict[str, Any]:
    """The saved hyper-parameters as a fresh dict (for a module, the keys of Lightning 0.x files first)."""
    from statetrainer.module.attribute_dict import AttributeDict
    saved: dict[str, Any] = {}
    past = PAST_HPARAMS_KEYS if kind == "module" else ()
    for key in (*past, HPARAMS_KEYS[kind][0]):
        value = checkpoint.get(key)
        if isinstance(value, argparse.Namespace):
            value = vars(value)
        if isinstance(value, dict):
            saved.update(value)
    if isinstance(checkpoint.get("hparams_type" if kind == "module" else "datamodule_hparams_type"), str):
        saved = AttributeDict(saved)  # Lightning's rule for a type recorded by name; a type object is never called
    return saved


def _refuse_placeholders(cls: type, init_kwargs: dict[str, Any], source: Any) -> None:
    missing = [(name, place, placeholder) for name, value in init_kwargs.items()
               for place, placeholder in _placeholders(value, repr(name))]
    if not missing:
        return
    described = "; ".join(f"{place} was {placeholder.describe()}" for _, place, placeholder in missing)
    names = ", ".join(f"{name}=..." for name in dict.fromkeys(name for name, _, _ in missing))
    raise CheckpointError(
        f"{cls.__qualname__}.load_from_checkpoint cannot rebuild {len(missing)} argument(s) saved in {str(source)!r} "
        f"without importing code the file names: {described}. Pass them: "
        f"{cls.__qualname__}.load_from_checkpoint(path, {names}).")


def _placeholders(value: Any, place: str) -> list[tuple[str, Placeholder]]:
    """Each Placeholder inside `value` with where it sits (``'cfg'['act']``)."""
    if isinstance(value, Placeholder):
        return [(place, value)]
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _placeholders(item, f"{place}[{key!r}]")]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [found for index, item in enumerate(value) for found in _placeholders(item, f"{place}[{index}]")]
    return []


def _read_hparams_file(path: Any) -> dict[str, Any]:
    from statetrainer.loggers.hparams_file import load_yaml
    if not str(path).lower().endswith((".yaml", ".yml")):
        raise flag_error("hparams_file", str(path), "a .yaml or .yml file")
    if not os.path.isfile(path):  # Lightning goes on without them; say so, since a typo would pass unseen
        warnings.warn(f"hparams_file {str(path)!r} does not exist; the class is built without the saved "
                      "hyper-parameters (only the keyword arguments given).", UserWarning, stacklevel=5)
        return {}
    return dict(load_yaml(str(path)))


def _overridden(obj: Any, name: str) -> bool:
    from statetrainer.module.hooks import HookStubs
    stub = getattr(HookStubs, name, None)
    return stub is not None and getattr(type(obj), name, None) is not stub
