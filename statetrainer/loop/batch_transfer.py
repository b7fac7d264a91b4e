"""The chain a batch goes through before a step, decided once per run."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["batch_transfer"]


def batch_transfer(module, datamodule, dispatch, precision, device) -> Callable[[Any, int], Any] | None:
    """The function a batch goes through before a step: convert_input -> on_before_batch_transfer ->
    transfer_batch_to_device -> on_after_batch_transfer. Which object runs each hook is decided here,
    once per run (the datamodule's override wins, as in Lightning); hooks left at their defaults on a
    CPU run are skipped (the batch is already there) unless their signal has receivers."""
    plan = _transfer_plan(module, datamodule, device)
    convert = precision.convert_input
    if not plan and not precision.converts_input:
        return None  # nothing to do: the batch is used as it comes

    def called(owner, name, *args):
        if owner is module:
            return dispatch.call_module(name, *args)
        return getattr(owner, name)(*args)

    def transfer(batch: Any, dataloader_idx: int) -> Any:
        batch = convert(batch)
        for name, owner in plan:
            if name == "transfer_batch_to_device":
                batch = called(owner, name, batch, device, dataloader_idx)
            else:
                batch = called(owner, name, batch, dataloader_idx)
        return batch
    return transfer


def _transfer_plan(module, datamodule, device) -> list:
    from statetrainer.data.datamodule import DataModule
    from statetrainer.module.hook_lookup import overrides
    from statetrainer.module.hooks import HookStubs
    from statetrainer.signals import CATALOGUE
    plan = []
    for name in ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer"):
        if datamodule is not None and overrides(datamodule, DataModule, name):
            plan.append((name, datamodule))
        elif overrides(module, HookStubs, name):
            plan.append((name, module))
        elif (name == "transfer_batch_to_device" and device.type != "cpu") or CATALOGUE[name].receivers:
            plan.append((name, module))  # the default runs: it has work to do, or someone listens to it
    return plan
