"""Typed stand-ins for the Trainer's constructor and its run methods, for jsonargparse to read.

jsonargparse builds options from a class's typed ``__init__``. ``Trainer(**flags)`` has none, so
:func:`trainer_flags_class` makes a class whose ``__init__`` signature lists every flag with its
type (``trainer_types.FLAG_TYPES``), its default and its help (``flags.FLAG_HELP``). The class is
only read, never called: the CLI builds the real trainer itself.
"""
from __future__ import annotations

import inspect
import typing
from typing import Any, Optional

from statetrainer.cli.trainer_types import FLAG_TYPES
from statetrainer.trainer.flags import FLAG_HELP

__all__ = ["trainer_flags_class", "builds_trainer", "flag_parameters", "SUBCOMMAND_ARGUMENTS",
           "subcommand_description"]

KEYWORD = inspect.Parameter.KEYWORD_ONLY
CKPT_HELP = ("checkpoint to start from: a path, 'last' or 'best' (as the trainer method takes it); "
             "None starts from the model as built")
WEIGHTS_ONLY_HELP = "False opts in to unpickling a checkpoint that needs it (default: refuse)"
VERBOSE_HELP = "print the results table"

# subcommand -> (argument, type, default, help): the arguments of the trainer method that the
# command line can set (the model, the data and the dataloaders come from the config).
SUBCOMMAND_ARGUMENTS: dict[str, tuple[tuple[str, Any, Any, str], ...]] = {
    "fit": (("ckpt_path", Optional[str], None, CKPT_HELP),
            ("weights_only", Optional[bool], None, WEIGHTS_ONLY_HELP)),
    "validate": (("ckpt_path", Optional[str], None, CKPT_HELP), ("verbose", bool, True, VERBOSE_HELP),
                 ("weights_only", Optional[bool], None, WEIGHTS_ONLY_HELP)),
    "test": (("ckpt_path", Optional[str], None, CKPT_HELP), ("verbose", bool, True, VERBOSE_HELP),
             ("weights_only", Optional[bool], None, WEIGHTS_ONLY_HELP)),
    "predict": (("return_predictions", Optional[bool], None, "keep the predictions in memory and return them"),
                ("ckpt_path", Optional[str], None, CKPT_HELP),
                ("weights_only", Optional[bool], None, WEIGHTS_ONLY_HELP)),
}


def subcommand_description(trainer_class: Any, subcommand: str) -> str:
    """The first line of the trainer method's docstring, for the subcommand's help."""
    from statetrainer.trainer.trainer import Trainer
    method = getattr(trainer_class, subcommand, None) or getattr(Trainer, subcommand)
    doc = inspect.getdoc(method) or f"Run trainer.{subcommand}."
    return doc.strip().splitlines()[0]


def flag_parameters() -> list[inspect.Parameter]:
    """One keyword parameter per Trainer flag: type from FLAG_TYPES, default from FLAG_HELP."""
    return [inspect.Parameter(name, KEYWORD, default=default, annotation=FLAG_TYPES[name])
            for name, (default, _) in FLAG_HELP.items()]


def _own_parameters(factory: Any) -> tuple[list[inspect.Parameter], dict[str, str], bool]:
    """The typed parameters of a Trainer subclass's ``__init__`` (or of a function that returns a
    trainer), their docs, and whether it takes **kwargs (passed on to the Trainer)."""
    from statetrainer.trainer.trainer import Trainer
    init = factory.__init__ if isinstance(factory, type) else factory
    if init is Trainer.__init__:
        return [], {}, True
    hints = typing.get_type_hints(init)
    params = list(inspect.signature(init).parameters.values())
    own, takes_kwargs = [], False
    for param in params[1:] if isinstance(factory, type) else params:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            takes_kwargs = True
        elif param.kind is not inspect.Parameter.VAR_POSITIONAL:
            own.append(param.replace(kind=KEYWORD, annotation=hints.get(param.name, param.annotation)))
    return own, _documented(init), takes_kwargs


def _documented(function: Any) -> dict[str, str]:
    import docstring_parser
    doc = inspect.getdoc(function) or ""
    return {item.arg_name: item.description or "" for item in docstring_parser.parse(doc).params}


def _docstring(params: list[inspect.Parameter], helps: dict[str, str]) -> str:
    lines = ["Trainer flags (every keyword argument of the Trainer).", "", "Args:"]
    for param in params:
        lines.append(f"    {param.name}: {helps.get(param.name) or param.name}")
    return "\n".join(lines) + "\n"


def trainer_flags_class(trainer_class: Any) -> type:
    """A class whose typed ``__init__`` lists the flags ``trainer_class(**flags)`` accepts (a Trainer
    class, or a function that builds one)."""
    own, own_help, takes_kwargs = _own_parameters(trainer_class)
    named = {param.name for param in own}
    params = own + ([param for param in flag_parameters() if param.name not in named] if takes_kwargs else [])
    helps = {name: text for name, (_, text) in FLAG_HELP.items()}
    helps.update(own_help)

    def __init__(self, **flags: Any) -> None:  # read by jsonargparse, never called
        raise TypeError("the flag stand-in is not a trainer; build the trainer class itself")

    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + params)
    __init__.__annotations__ = {param.name: param.annotation for param in params}
    doc = _docstring(params, helps)
    __init__.__doc__ = doc
    # jsonargparse names an option's origin by import path: point it at the real trainer class
    namespace = {"__init__": __init__, "__doc__": doc, "__module__": trainer_class.__module__,
                 "__qualname__": trainer_class.__qualname__}
    return type(trainer_class.__name__, (), namespace)


def builds_trainer(factory: Any) -> bool:
    """Whether `factory` is a Trainer class or a function annotated to return one."""
    from statetrainer.trainer.trainer import Trainer
    if isinstance(factory, type):
        return issubclass(factory, Trainer)
    returned = typing.get_type_hints(factory).get("return") if callable(factory) else None
    return isinstance(returned, type) and issubclass(returned, Trainer)
