"""Collective operations over torch.distributed; each is the identity when no process group is running.

These are the functions a strategy, the metric book (`self.log(..., sync_dist=True)`) and
`StateModule.all_gather` call. None of them changes its input tensor.
"""
from __future__ import annotations

import dataclasses
import io
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist

from statetrainer.errors import MisconfigurationError

__all__ = ["is_distributed", "sync", "all_gather", "broadcast_object", "gather_objects", "broadcast_module_states",
           "barrier", "reduce_decision", "vote", "map_tensors"]

_OPS = {"sum": "SUM", "max": "MAX", "min": "MIN", "product": "PRODUCT", "prod": "PRODUCT"}


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _nccl_device(group: Any = None) -> torch.device | None:
    """The current CUDA device when `group` runs on NCCL (its collectives need one), else None."""
    if dist.get_backend(group) == "nccl" and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return None


def _reduce_op(reduce_op: Any) -> tuple[Any, bool]:
    """(torch ReduceOp, divide by the group size afterwards)."""
    if not isinstance(reduce_op, str):
        return reduce_op, False
    name = reduce_op.lower()
    if name in ("mean", "avg"):
        return dist.ReduceOp.SUM, True
    if name not in _OPS:
        raise MisconfigurationError(f"`reduce_op` got {reduce_op!r}; accepted: 'mean' (or 'avg'), 'sum', 'max', "
                                    "'min', 'product', or a torch.distributed.ReduceOp.")
    return getattr(dist.ReduceOp, _OPS[name]), False


def sync(tensor: Any, reduce_op: Any = "mean", group: Any = None) -> Any:
    """`tensor` reduced over every process of `group` (the world when None): a new tensor on every rank.

    'mean' sums then divides by the group size (integer tensors give a float mean). A value that
    is not a tensor, or a run without a process group, comes back unchanged.
    """
    if not isinstance(tensor, torch.Tensor) or not is_distributed():
        return tensor
    op, divide = _reduce_op(reduce_op)
    result = tensor.detach().clone()
    if divide and not result.is_floating_point():
        result = result.to(torch.get_default_dtype())
    dist.all_reduce(result, op=op, group=group)
    if divide:
        result = result / dist.get_world_size(group)
    return result


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sends each rank the sum, over ranks, of the gradient of its slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group: Any) -> torch.Tensor:
        ctx.group = group
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, tensor, group=group)
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=ctx.group)
        return total[dist.get_rank(ctx.group)], None


def _gather_one(tensor: torch.Tensor, group: Any, sync_grads: bool) -> torch.Tensor:
    tensor = tensor.contiguous()
    if sync_grads:
        return _GatherWithGrad.apply(tensor, group)
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
    with torch.no_grad():
        dist.all_gather(parts, tensor, group=group)
    return torch.stack(parts)


def _map_leaves(data: Any, fn: Callable[[Any], Any], leaf: type | tuple[type, ...]) -> Any:
    """`data` with `fn` applied to every `leaf`-typed value inside lists, tuples, named tuples, dicts, dataclasses."""
    if isinstance(data, leaf):
        return fn(data)
    if isinstance(data, dict):
        return type(data)((key, _map_leaves(value, fn, leaf)) for key, value in data.items())
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_map_leaves(value, fn, leaf) for value in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_map_leaves(value, fn, leaf) for value in data)
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        changes = {f.name: _map_leaves(getattr(data, f.name), fn, leaf) for f in dataclasses.fields(data) if f.init}
        return dataclasses.replace(data, **changes)
    return data


def map_tensors(data: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    """`data` with `fn` applied to every tensor inside lists, tuples, named tuples, dicts and dataclasses."""
    return _map_leaves(data, fn, torch.Tensor)


def _as_tensors(data: Any, device: torch.device | None) -> Any:
    """Python numbers and numpy arrays inside `data` become tensors (as Lightning's all_gather does)."""
    return _map_leaves(data, lambda value: torch.as_tensor(value, device=device),
                       (bool, int, float, np.ndarray, np.number))


def all_gather(data: Any, group: Any = None, sync_grads: bool = False, device: torch.device | None = None) -> Any:
    """Every tensor in `data` gathered from all ranks: shape (world_size, *shape), same nesting as `data`.

    Each rank must pass tensors of the same shapes. With `sync_grads=True` the result stays in the
    autograd graph: a loss built from it sends gradients back to every rank's input. Numbers
    and numpy arrays are turned into tensors on `device` first.
    """
    data = _as_tensors(data, device)
    if not is_distributed():
        return data
    return map_tensors(data, lambda tensor: _gather_one(tensor, group, sync_grads))


def _packed(obj: Any) -> bytes:
    """`obj` as bytes written by torch.save (torch's object collectives cannot unpickle tensors in this version)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _unpacked(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)  # written by a rank of this run


def broadcast_object(obj: Any, src: int = 0, group: Any = None) -> Any:
    """Rank `src`'s `obj` (anything picklable, tensors included: they arrive on the CPU) on every rank."""
    if not is_distributed():
        return obj
    box = [_packed(obj) if dist.get_rank() == src else None]
    dist.broadcast_object_list(box, src=src, group=group, device=_nccl_device(group))
    return obj if dist.get_rank() == src else _unpacked(box[0])


def gather_objects(obj: Any, group: Any = None) -> list[Any]:
    """Every rank's `obj` (anything picklable; tensors arrive on the CPU), in rank order, on every rank;
    `[obj]` without a process group."""
    if not is_distributed():
        return [obj]
    box: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(box, _packed(obj), group=group)
    return [obj if rank == dist.get_rank() else _unpacked(data) for rank, data in enumerate(box)]


def broadcast_module_states(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank `src`'s parameters and buffers into every rank's `module`, in place."""
    if not is_distributed():
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=src)


def barrier(group: Any = None) -> None:
    """Wait until every rank of `group` arrives here."""
    if not is_distributed():
        return
    device = _nccl_device(group)
    if device is not None:
        dist.barrier(group=group, device_ids=[device.index])
    else:
        dist.barrier(group=group)


def vote(values: list[int], device: torch.device | None = None) -> list[int]:
    """The element-wise maximum of small non-negative ints over every rank (one all-reduce); `values` alone
    without a process group. `device` matters for NCCL (its tensors live on the GPU)."""
    if not is_distributed():
        return list(values)
    if device is not None and device.type == "cpu" and dist.get_backend() == "nccl":
        device = _nccl_device()
    tensor = torch.tensor(values, dtype=torch.int64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor.tolist()


def reduce_decision(decision: bool, all: bool = True, device: torch.device | None = None, group: Any = None) -> bool:
    """With `all=True`: True only if every rank decided True; with `all=False`: True if any rank did."""
    if not is_distributed():
        return bool(decision)
    count = sync(torch.tensor(int(bool(decision)), device=device), reduce_op="sum", group=group)
    return bool(count.item() == dist.get_world_size(group)) if all else bool(count.item() > 0)
