"""Moving a batch to a device: tensors nested in lists, tuples, dicts, namedtuples and dataclasses."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

__all__ = ["move_to_device", "batch_transfer"]


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Return `batch` with every tensor (and object with a `.to`) moved to `device`."""
    if isinstance(batch, torch.Tensor):
        if batch.device == device:
            return batch
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, (list, tuple)):
        moved = [move_to_device(item, device) for item in batch]
        if hasattr(batch, "_fields"):  # namedtuple
            return type(batch)(*moved)
        return type(batch)(moved) if isinstance(batch, list) or type(batch) is tuple else type(batch)(moved)
    if isinstance(batch, dict):
        return type(batch)((key, move_to_device(value, device)) for key, value in batch.items())
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: move_to_device(getattr(batch, f.name), device)
                   for f in dataclasses.fields(batch) if f.init}
        return dataclasses.replace(batch, **changes)
    to = getattr(batch, "to", None)
    if callable(to) and not isinstance(batch, type):
        try:
            return to(device)
        except TypeError:
            return batch
    return batch


def batch_transfer(module, datamodule, dispatch, precision, device):
    """The function a batch goes through before a step: convert_input -> on_before_batch_transfer ->
    transfer_batch_to_device -> on_after_batch_transfer. Which object runs each hook is decided here,
    once per run (the datamodule's override wins, as in Lightning); hooks left at their defaults on a
    CPU run are skipped (the batch is already there)."""
    plan = _transfer_plan(module, datamodule, device)
    convert = precision.convert_input

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
    from statetrainer.module.hooks import HookStubs
    plan = []
    for name in ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer"):
        if datamodule is not None and getattr(type(datamodule), name) is not getattr(DataModule, name):
            plan.append((name, datamodule))
        elif getattr(type(module), name) is not getattr(HookStubs, name):
            plan.append((name, module))
        elif name == "transfer_batch_to_device" and device.type != "cpu":
            plan.append((name, module))
    return plan
