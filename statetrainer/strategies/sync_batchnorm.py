"""sync_batchnorm=True: BatchNorm layers that normalise with the statistics of every rank's batch."""
from __future__ import annotations

import torch
from torch import nn

from statetrainer.errors import MisconfigurationError

__all__ = ["convert_sync_batchnorm", "revert_sync_batchnorm", "sync_batchnorm_devices", "check_sync_batchnorm_device"]


def sync_batchnorm_devices() -> tuple[str, ...]:
    """Device types torch's SyncBatchNorm can run on (it refuses CPU input while a process group runs)."""
    return ("cuda", "hpu", "xpu", torch._C._get_privateuse1_backend_name())


def convert_sync_batchnorm(module: nn.Module, device: torch.device | str | None = None) -> nn.Module:
    """`module` with every BatchNorm*d replaced by SyncBatchNorm (same weights and running statistics).

    `device` is where the model will run (default: where its first parameter is). Refused on a
    device torch's SyncBatchNorm cannot run on, such as the CPU.
    """
    if device is None:
        first = next(module.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    check_sync_batchnorm_device(device)
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)


def check_sync_batchnorm_device(device: torch.device | str) -> None:
    """Refuse `sync_batchnorm=True` for a device torch's SyncBatchNorm cannot run on (the CPU)."""
    device = torch.device(device)
    if device.type not in sync_batchnorm_devices():
        raise MisconfigurationError(
            f"`sync_batchnorm` got True for a model running on {device.type!r}, where torch's SyncBatchNorm cannot "
            f"run; accepted: sync_batchnorm=True with a GPU accelerator ({', '.join(sync_batchnorm_devices()[:3])}), "
            "or sync_batchnorm=False (each process then normalises with its own batch statistics).")


class _BatchNormXd(nn.modules.batchnorm._BatchNorm):
    """A BatchNorm of any input rank: what a SyncBatchNorm turns back into (its original rank is not kept)."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input with at least 2 dimensions (got {input.dim()})")


def _plain_copy(layer: nn.SyncBatchNorm) -> nn.Module:
    plain = _BatchNormXd(layer.num_features, layer.eps, layer.momentum, layer.affine, layer.track_running_stats)
    with torch.no_grad():
        if layer.affine:
            plain.weight = layer.weight
            plain.bias = layer.bias
        plain.running_mean = layer.running_mean
        plain.running_var = layer.running_var
        plain.num_batches_tracked = layer.num_batches_tracked
    plain.train(layer.training)
    return plain


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """The inverse of `convert_sync_batchnorm`: SyncBatchNorm layers become plain batch norms again."""
    if isinstance(module, nn.SyncBatchNorm):
        return _plain_copy(module)
    for name, child in module.named_children():
        module.add_module(name, revert_sync_batchnorm(child))
    return module
