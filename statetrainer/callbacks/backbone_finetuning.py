"""BackboneFinetuning: keep the module's ``backbone`` frozen, then train it with its own, growing learning rate.

Until epoch ``unfreeze_backbone_at_epoch`` only the rest of the model trains. At that epoch the
backbone's parameters join the (first) optimizer as a new param group whose learning rate is
``backbone_initial_lr``, or the current learning rate times ``backbone_initial_ratio_lr``. At every
later epoch that rate is multiplied by ``lambda_func(epoch + 1)``; with ``should_align`` it never goes
above the current learning rate of the first param group. Same rules as Lightning's callback.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch.nn import Module

from statetrainer.callbacks.finetuning import BaseFinetuning
from statetrainer.errors import MisconfigurationError

__all__ = ["BackboneFinetuning"]


def multiplicative(epoch: int) -> float:
    """The default schedule: double the backbone's learning rate every epoch."""
    return 2.0


class BackboneFinetuning(BaseFinetuning):
    """Finetune the module's `backbone` attribute (an nn.Module) on a learning-rate schedule of its own.

    Args:
        unfreeze_backbone_at_epoch: the epoch at whose start the backbone starts training.
        lambda_func: ``epoch -> factor`` applied to the backbone's learning rate at each later epoch.
        backbone_initial_ratio_lr: the backbone's first learning rate as a fraction of the current one.
        backbone_initial_lr: the backbone's first learning rate (overrides the ratio).
        should_align: cap the backbone's learning rate at the current learning rate.
        initial_denom_lr: passed to `unfreeze_and_add_param_group` (used only when no rate is given).
        train_bn: whether the backbone's batch-norm layers train.
        verbose: print both learning rates at every epoch from the unfreezing on.
        rounding: digits of the printed learning rates.
    """

    def __init__(self, unfreeze_backbone_at_epoch: int = 10, lambda_func: Callable = multiplicative,
                 backbone_initial_ratio_lr: float = 10e-2, backbone_initial_lr: Optional[float] = None,
                 should_align: bool = True, initial_denom_lr: float = 10.0, train_bn: bool = True,
                 verbose: bool = False, rounding: int = 12) -> None:
        super().__init__()
        self.unfreeze_backbone_at_epoch = unfreeze_backbone_at_epoch
        self.lambda_func = lambda_func
        self.backbone_initial_ratio_lr = backbone_initial_ratio_lr
        self.backbone_initial_lr = backbone_initial_lr
        self.should_align = should_align
        self.initial_denom_lr = initial_denom_lr
        self.train_bn = train_bn
        self.verbose = verbose
        self.rounding = rounding
        self.previous_backbone_lr: Optional[float] = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "previous_backbone_lr": self.previous_backbone_lr}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.previous_backbone_lr = state_dict["previous_backbone_lr"]
        super().load_state_dict(state_dict)

    def on_fit_start(self, trainer, pl_module) -> None:
        if not isinstance(getattr(pl_module, "backbone", None), Module):
            raise MisconfigurationError(
                f"BackboneFinetuning needs the module's `backbone` attribute to be an nn.Module; "
                f"{type(pl_module).__name__}.backbone is {type(getattr(pl_module, 'backbone', None)).__name__}.")
        super().on_fit_start(trainer, pl_module)

    def freeze_before_training(self, pl_module: Module) -> None:
        self.freeze(pl_module.backbone)

    def finetune_function(self, pl_module: Module, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        current_lr = optimizer.param_groups[0]["lr"]
        if epoch == self.unfreeze_backbone_at_epoch:
            backbone_lr = self.backbone_initial_lr
            if backbone_lr is None:
                backbone_lr = current_lr * self.backbone_initial_ratio_lr
            self.previous_backbone_lr = backbone_lr
            self.unfreeze_and_add_param_group(pl_module.backbone, optimizer, backbone_lr, train_bn=self.train_bn,
                                              initial_denom_lr=self.initial_denom_lr)
        elif epoch > self.unfreeze_backbone_at_epoch:
            backbone_lr = self.lambda_func(epoch + 1) * self.previous_backbone_lr
            if self.should_align and backbone_lr > current_lr:
                backbone_lr = current_lr
            optimizer.param_groups[-1]["lr"] = backbone_lr
            self.previous_backbone_lr = backbone_lr
        else:
            return
        if self.verbose:
            _say(pl_module, f"BackboneFinetuning at epoch {epoch}: lr {round(current_lr, self.rounding)}, "
                            f"backbone lr {round(backbone_lr, self.rounding)}")


def _say(pl_module: Module, message: str) -> None:
    printer = getattr(pl_module, "print", None)
    (printer if callable(printer) else print)(message)
