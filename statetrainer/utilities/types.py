"""Lightning's `lightning.pytorch.utilities.types`: the type names used in hook signatures.

`LRSchedulerConfig` is statetrainer's SchedulerConfig (same fields, plus `opt_idx`).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from statetrainer.module.optim_config import SchedulerConfig

__all__ = ["EVAL_DATALOADERS", "LRSchedulerConfig", "LRSchedulerPLType", "LRSchedulerTypeTuple",
           "LRSchedulerTypeUnion", "OptimizerLRScheduler", "STEP_OUTPUT", "TRAIN_DATALOADERS"]

STEP_OUTPUT = Optional[Union[Tensor, Mapping[str, Any]]]
TRAIN_DATALOADERS = Any  # an iterable of batches, or a collection of them
EVAL_DATALOADERS = Any
LRSchedulerTypeTuple = (LRScheduler, ReduceLROnPlateau)
LRSchedulerTypeUnion = Union[LRScheduler, ReduceLROnPlateau]
LRSchedulerPLType = LRSchedulerTypeUnion
LRSchedulerConfig = SchedulerConfig
OptimizerLRScheduler = Optional[Union[
    Optimizer, Sequence[Optimizer],
    tuple[Sequence[Optimizer], Sequence[Union[LRSchedulerTypeUnion, SchedulerConfig]]],
    Mapping[str, Any], Sequence[Mapping[str, Any]],
]]
