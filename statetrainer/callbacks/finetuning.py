"""BaseFinetuning: freeze parts of a model before training and unfreeze them, epoch by epoch, into new
optimizer parameter groups.

Subclass it and write two methods: ``freeze_before_training(pl_module)`` (runs in ``setup``, before
``configure_optimizers``) and ``finetune_function(pl_module, epoch, optimizer)`` (runs at the start of
every training epoch, once per optimizer). The static helpers (``freeze``, ``make_trainable``,
``filter_params``, ``filter_on_optimizer``, ``unfreeze_and_add_param_group``) work on a module, or on
any nesting of lists/tuples of modules, and also outside a Trainer.

The parameter groups each optimizer has after ``finetune_function`` are kept (parameter *names*, not
tensors) in the callback's state, so that resuming from a checkpoint rebuilds the groups that were
added before the optimizer's own state is loaded back into them (Lightning's behaviour). Unlike
Lightning, the parameters of the re-added groups are made trainable again (``freeze_before_training``
froze them in ``setup``): a resumed run then trains them as the uninterrupted run did, where Lightning
leaves them frozen until something unfreezes them.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Union

import torch
from torch.nn import Module, ModuleDict
from torch.nn.modules.batchnorm import _BatchNorm

from statetrainer.callbacks.callback import Callback

__all__ = ["BaseFinetuning"]

Modules = Union[Module, Iterable]


class BaseFinetuning(Callback):
    """Base class of finetuning callbacks: override `freeze_before_training` and `finetune_function`."""

    def __init__(self) -> None:
        # optimizer index -> its param groups: every setting of the group, "params" as parameter names
        self._internal_optimizer_metadata: dict[int, list[dict[str, Any]]] = {}
        self._restarting = False

    # ---------------------------------------------------------------- to override
    def freeze_before_training(self, pl_module: Module) -> None:
        """Freeze what must not train at first (called in `setup`, before the optimizers exist)."""
        raise NotImplementedError(f"{type(self).__name__} must define freeze_before_training(pl_module).")

    def finetune_function(self, pl_module: Module, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        """Unfreeze what should train from `epoch` on, adding it to `optimizer` as a new param group."""
        raise NotImplementedError(f"{type(self).__name__} must define finetune_function(pl_module, epoch, "
                                  "optimizer).")

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"internal_optimizer_metadata": self._internal_optimizer_metadata}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restarting = True
        # very old Lightning checkpoints stored the metadata itself as the state
        self._internal_optimizer_metadata = state_dict.get("internal_optimizer_metadata", state_dict)

    # ---------------------------------------------------------------- hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        self.freeze_before_training(pl_module)

    def on_fit_start(self, trainer, pl_module) -> None:
        if not self._restarting:
            return
        self._restarting = False
        if not self._internal_optimizer_metadata:
            return
        by_name = dict(pl_module.named_parameters())
        for index, optimizer in enumerate(trainer.optimizers):
            groups = self._internal_optimizer_metadata.get(index)
            if groups is None:
                continue
            configured = len(optimizer.param_groups)
            optimizer.param_groups = [_with_params(group, by_name) for group in groups]
            for group in optimizer.param_groups[configured:]:  # added by finetune_function: they were training
                for param in group["params"]:
                    param.requires_grad = True

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        for index, optimizer in enumerate(trainer.optimizers):
            known = len(optimizer.param_groups)
            self.finetune_function(pl_module, trainer.current_epoch, optimizer)
            self._remember(pl_module, index, known, optimizer.param_groups)

    def _remember(self, pl_module: Module, index: int, known: int, groups: list[dict[str, Any]]) -> None:
        names = {param: name for name, param in pl_module.named_parameters()}
        stored = self._internal_optimizer_metadata.get(index)
        if stored is None:
            self._internal_optimizer_metadata[index] = [_with_names(group, names) for group in groups]
        elif len(groups) != known:
            stored.extend(_with_names(group, names) for group in groups[known:])

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def flatten_modules(modules: Modules) -> list[Module]:
        """The leaf modules of `modules`, plus every module that holds parameters of its own."""
        if isinstance(modules, ModuleDict):
            modules = modules.values()
        if isinstance(modules, Iterable):
            candidates: Iterable[Module] = [leaf for item in modules for leaf in BaseFinetuning.flatten_modules(item)]
        else:
            candidates = modules.modules()
        return [module for module in candidates if not list(module.children()) or module._parameters]

    @staticmethod
    def filter_params(modules: Modules, train_bn: bool = True, requires_grad: bool = True) -> Iterator:
        """Yield the parameters of `modules` whose `requires_grad` equals `requires_grad` (batch-norm
        layers left out when `train_bn` is False)."""
        for module in BaseFinetuning.flatten_modules(modules):
            if isinstance(module, _BatchNorm) and not train_bn:
                continue
            for param in module.parameters(recurse=False):
                if param.requires_grad == requires_grad:
                    yield param

    @staticmethod
    def make_trainable(modules: Modules) -> None:
        """Let every parameter of `modules` train again (batch-norm layers track statistics again)."""
        for module in BaseFinetuning.flatten_modules(modules):
            if isinstance(module, _BatchNorm):
                module.track_running_stats = True
            for param in module.parameters(recurse=False):
                param.requires_grad = True

    @staticmethod
    def freeze_module(module: Module) -> None:
        """Stop the parameters held directly by `module` from training (a batch-norm layer also stops
        tracking statistics)."""
        if isinstance(module, _BatchNorm):
            module.track_running_stats = False
        for param in module.parameters(recurse=False):
            param.requires_grad = False

    @staticmethod
    def freeze(modules: Modules, train_bn: bool = True) -> None:
        """Freeze every parameter of `modules`; batch-norm layers stay trainable when `train_bn` is True."""
        for module in BaseFinetuning.flatten_modules(modules):
            if isinstance(module, _BatchNorm) and train_bn:
                BaseFinetuning.make_trainable(module)
            else:
                BaseFinetuning.freeze_module(module)

    @staticmethod
    def filter_on_optimizer(optimizer: torch.optim.Optimizer, params: Iterable) -> list:
        """The parameters of `params` that are not in any param group of `optimizer` yet (warns about the rest)."""
        present = {id(param) for group in optimizer.param_groups for param in group["params"]}
        fresh, skipped = [], 0
        for param in params:
            if id(param) in present:
                skipped += 1
            else:
                fresh.append(param)
        if skipped:
            warnings.warn(
                f"{skipped} of the parameters to unfreeze are already in a param group of this "
                f"{type(optimizer).__name__} and were not added again; to avoid it, give configure_optimizers only "
                "the trainable parameters, e.g. torch.optim.SGD(filter(lambda p: p.requires_grad, "
                "self.parameters()), ...).", UserWarning, stacklevel=3)
        return fresh

    @staticmethod
    def unfreeze_and_add_param_group(modules: Modules, optimizer: torch.optim.Optimizer, lr: float | None = None,
                                     initial_denom_lr: float = 10.0, train_bn: bool = True) -> None:
        """Make `modules` trainable and add their parameters to `optimizer` as one new param group, with
        learning rate `lr`, or (lr=None) the first group's learning rate divided by `initial_denom_lr`."""
        BaseFinetuning.make_trainable(modules)
        if lr is None:
            group_lr = optimizer.param_groups[0]["lr"] / initial_denom_lr
        else:
            group_lr = float(lr)
        params = BaseFinetuning.filter_params(modules, train_bn=train_bn, requires_grad=True)
        params = BaseFinetuning.filter_on_optimizer(optimizer, params)
        if params:
            optimizer.add_param_group({"params": params, "lr": group_lr})


def _with_names(group: dict[str, Any], names: dict) -> dict[str, Any]:
    """A param group's settings with its parameters replaced by their names in the module."""
    settings = {key: value for key, value in group.items() if key != "params"}
    settings["params"] = [names[param] for param in group["params"]]
    return settings


def _with_params(group: dict[str, Any], by_name: dict[str, torch.nn.Parameter]) -> dict[str, Any]:
    settings = {key: value for key, value in group.items() if key != "params"}
    settings["params"] = [by_name[name] for name in group["params"]]
    return settings
