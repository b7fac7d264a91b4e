"""Running a module's step method through its DDP wrapper, so DDP sees a forward before the backward.

DistributedDataParallel prepares its gradient all-reduce in `forward`. A StateModule is trained
through `training_step`, not `forward`, so for the duration of one call the wrapper's forward is
pointed at the step method: DDP does its bookkeeping (buffer broadcast, reducer preparation),
then runs `training_step` on the real module.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch.nn.parallel import DistributedDataParallel

__all__ = ["call_through_wrapper", "prepare_manual_backward"]


def call_through_wrapper(wrapper: torch.nn.Module, module: torch.nn.Module, method: str | Callable[..., Any],
                         *args: Any, manual_optimization: bool = False, **kwargs: Any) -> Any:
    """`module.<method>(*args, **kwargs)` (or `method(*args, **kwargs)` when it is a function that calls
    the module's step, as the loop's dispatcher does), entered through `wrapper(...)`.

    In manual optimization the reducer is left unprepared by the forward (`manual_backward`
    prepares it through `prepare_manual_backward`, once per backward).
    """
    had_own_forward = "forward" in module.__dict__
    original = module.__dict__.get("forward")

    def step_as_forward(*inner_args: Any, **inner_kwargs: Any) -> Any:
        _restore_forward(module, had_own_forward, original)
        target = getattr(module, method) if isinstance(method, str) else method
        out = target(*inner_args, **inner_kwargs)
        if manual_optimization and isinstance(wrapper, DistributedDataParallel):
            wrapper.require_backward_grad_sync = False
        return out

    module.forward = step_as_forward
    try:
        return wrapper(*args, **kwargs)
    finally:
        _restore_forward(module, had_own_forward, original)
        if manual_optimization and isinstance(wrapper, DistributedDataParallel):
            wrapper.require_backward_grad_sync = True


def _restore_forward(module: torch.nn.Module, had_own_forward: bool, original: Any) -> None:
    if had_own_forward:
        module.forward = original
    else:
        module.__dict__.pop("forward", None)


def prepare_manual_backward(wrapper: DistributedDataParallel, loss: torch.Tensor) -> None:
    """Arm DDP's reducer for one `backward(loss)` of a forward that did not arm it (manual optimization)."""
    if not (torch.is_grad_enabled() and wrapper.require_backward_grad_sync):
        wrapper.require_forward_param_sync = False
        return
    wrapper.require_forward_param_sync = True
    outputs: list = []
    if wrapper.find_unused_parameters and not wrapper.static_graph:
        from torch.nn.parallel.distributed import _find_tensors
        outputs = list(_find_tensors(loss))
    wrapper.reducer._rebuild_buckets()
    wrapper.reducer.prepare_for_backward(outputs)
