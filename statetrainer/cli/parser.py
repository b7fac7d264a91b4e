"""StateArgumentParser: jsonargparse's parser plus the statetrainer class groups and short errors."""
from __future__ import annotations

import sys
from typing import Any, Callable, Union

import torch

from statetrainer.cli.dependency import jsonargparse
from statetrainer.cli.messages import one_line
from statetrainer.cli.optimizers import LR_SCHEDULER_TYPES
from statetrainer.errors import MisconfigurationError

_jap = jsonargparse()

__all__ = ["StateArgumentParser"]

AUTOMATIC = "AUTOMATIC"


def _core_classes() -> tuple[type, ...]:
    from statetrainer.callbacks.callback import Callback
    from statetrainer.data.datamodule import DataModule
    from statetrainer.module.module import StateModule
    from statetrainer.trainer.trainer import Trainer
    return Trainer, StateModule, DataModule, Callback


class StateArgumentParser(_jap.ArgumentParser):
    """An ArgumentParser that knows the Trainer, modules, data modules, callbacks, optimizers and schedulers.

    ``env_prefix`` and ``default_env`` are jsonargparse's: with ``default_env=True`` every option
    can also come from an environment variable (``PL_FIT__TRAINER__MAX_EPOCHS``, ``PL_CONFIG``).
    Errors print one line (the option, the value and what is accepted) and exit with status 2.
    """

    def __init__(self, *args: Any, description: str = "statetrainer command line", env_prefix: str = "PL",
                 default_env: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, description=description, env_prefix=env_prefix, default_env=default_env, **kwargs)
        self.callback_keys: list[str] = []
        self._optimizers: dict[str, tuple[Any, str]] = {}
        self._lr_schedulers: dict[str, tuple[Any, str]] = {}

    def add_lightning_class_args(self, lightning_class: Union[type, Callable[..., Any]], nested_key: str,
                                 subclass_mode: bool = False, required: bool = True) -> list[str]:
        """Options for a Trainer, StateModule, DataModule or Callback class (or a function returning one)."""
        from statetrainer.cli.trainer_arguments import builds_trainer, trainer_flags_class
        if builds_trainer(lightning_class):
            return self.add_class_arguments(trainer_flags_class(lightning_class), nested_key, fail_untyped=False,
                                            instantiate=False, sub_configs=True)
        if callable(lightning_class) and not isinstance(lightning_class, type):
            lightning_class = _jap.class_from_function(lightning_class)
        if not (isinstance(lightning_class, type) and issubclass(lightning_class, _core_classes())):
            raise MisconfigurationError(
                f"add_lightning_class_args got {lightning_class!r}; accepted: a subclass of Trainer, StateModule, "
                "DataModule or Callback, or a function that returns one.")
        from statetrainer.callbacks.callback import Callback
        if issubclass(lightning_class, Callback):
            self.callback_keys.append(nested_key)
        if subclass_mode:
            return self.add_subclass_arguments(lightning_class, nested_key, fail_untyped=False, required=required)
        return self.add_class_arguments(lightning_class, nested_key, fail_untyped=False, sub_configs=True)

    def add_optimizer_args(self, optimizer_class: Any = (torch.optim.Optimizer,), nested_key: str = "optimizer",
                           link_to: str = AUTOMATIC) -> None:
        """Options for an optimizer (a class, or a tuple of base classes for any subclass) under `nested_key`."""
        _check_classes("add_optimizer_args", optimizer_class, (torch.optim.Optimizer,))
        self._add_optimizer_like(optimizer_class, nested_key, "params")
        self._optimizers[nested_key] = (optimizer_class, link_to)

    def add_lr_scheduler_args(self, lr_scheduler_class: Any = LR_SCHEDULER_TYPES, nested_key: str = "lr_scheduler",
                              link_to: str = AUTOMATIC) -> None:
        """Options for a learning-rate scheduler (a class, or a tuple of base classes) under `nested_key`."""
        _check_classes("add_lr_scheduler_args", lr_scheduler_class, LR_SCHEDULER_TYPES)
        self._add_optimizer_like(lr_scheduler_class, nested_key, "optimizer")
        self._lr_schedulers[nested_key] = (lr_scheduler_class, link_to)

    def _add_optimizer_like(self, classes: Any, nested_key: str, first_argument: str) -> None:
        options = {"instantiate": False, "fail_untyped": False, "skip": {first_argument}}
        if isinstance(classes, tuple):
            self.add_subclass_arguments(classes, nested_key, **options)
        else:
            self.add_class_arguments(classes, nested_key, sub_configs=True, **options)

    def error(self, message: str, ex: Any = None):
        """One line on stderr and exit status 2 (or an ArgumentError when exit_on_error is off)."""
        if not self.exit_on_error or _jap_debug():
            super().error(message, ex)
        prog = (getattr(ex, "subcommand_parser", None) or self).prog.replace(" [options]", "")
        sys.stderr.write(f"{prog}: error: {one_line(self, message)}\n")
        self.exit(2)


def _jap_debug() -> bool:
    import os
    return os.environ.get("JSONARGPARSE_DEBUG", "").lower() in ("1", "true", "yes")


def _check_classes(method: str, given: Any, bases: tuple[type, ...]) -> None:
    classes = given if isinstance(given, tuple) else (given,)
    if not classes or not all(isinstance(cls, type) and issubclass(cls, bases) for cls in classes):
        names = ", ".join(base.__name__ for base in bases)
        raise MisconfigurationError(f"{method} got {given!r}; accepted: a subclass of {names}, or a tuple of them.")
