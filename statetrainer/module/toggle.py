"""toggle_optimizer / untoggle_optimizer: only one optimizer's parameters require grad."""
from __future__ import annotations

__all__ = ["toggle", "untoggle"]


def _raw(optimizer):
    return getattr(optimizer, "optimizer", optimizer)


def toggle(module, optimizer) -> None:
    """Set requires_grad=False on parameters owned only by the other optimizers; remember the old flags."""
    trainer = module.trainer
    mine = {id(p) for group in _raw(optimizer).param_groups for p in group["params"]}
    saved = {}
    for other in trainer.optimizers:
        if other is _raw(optimizer):
            continue
        for group in other.param_groups:
            for param in group["params"]:
                if id(param) in mine or id(param) in saved:
                    continue
                saved[id(param)] = (param, param.requires_grad)
                param.requires_grad = False
    module._param_requires_grad_state = saved


def untoggle(module, optimizer) -> None:
    """Restore the requires_grad flags toggle() changed."""
    for param, flag in getattr(module, "_param_requires_grad_state", {}).values():
        param.requires_grad = flag
    module._param_requires_grad_state = {}
