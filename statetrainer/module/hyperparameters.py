"""The hyper-parameter methods StateModule and DataModule share (implemented in module/hparams.py)."""
from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["HyperparametersBase"]


class _class_only(classmethod):
    """A classmethod that refuses to run when reached through an instance: `model.load_from_checkpoint(p)`
    builds a new object and leaves `model` untouched, which reads as if it loaded the weights into it."""

    def __get__(self, instance: Any, owner: type | None = None):
        bound = super().__get__(instance, owner)
        if instance is None:
            return bound
        name = self.__func__.__name__

        @functools.wraps(self.__func__)
        def refuse(*args: Any, **kwargs: Any):
            cls = type(instance).__name__
            raise TypeError(f"`{cls}.{name}` was called on an instance, which it would leave unchanged; "
                            f"accepted: call it on the class, `model = {cls}.{name}(path)`.")
        return refuse


class HyperparametersBase:
    """save_hyperparameters / hparams / hparams_initial / load_from_checkpoint."""

    # where a checkpoint keeps the hyper-parameters (Lightning's key names; DataModule has its own)
    CHECKPOINT_HYPER_PARAMS_KEY = "hyper_parameters"
    CHECKPOINT_HYPER_PARAMS_NAME = "hparams_name"
    CHECKPOINT_HYPER_PARAMS_TYPE = "hparams_type"

    def save_hyperparameters(self, *args: Any, ignore=None, frame=None, logger: bool = True,
                             non_plain: str = "record") -> None:
        """Record the caller's __init__ arguments (all, or the named ones, minus `ignore`) as hparams."""
        from statetrainer.module import hparams
        frame = frame or inspect.currentframe().f_back
        hparams.save_hyperparameters(self, *args, ignore=ignore, frame=frame, logger=logger, non_plain=non_plain)

    @property
    def hparams(self):
        from statetrainer.module import hparams
        return hparams.get_hparams(self)

    @property
    def hparams_initial(self):
        from statetrainer.module import hparams
        return hparams.get_hparams_initial(self)

    @_class_only
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, hparams_file=None, strict=None,
                             **kwargs: Any):
        """A new instance built from the checkpoint's hyper-parameters (overridden by `kwargs`), weights loaded."""
        from statetrainer.module import hparams
        return hparams.load_from_checkpoint(cls, checkpoint_path, map_location=map_location,
                                            hparams_file=hparams_file, strict=strict, **kwargs)
