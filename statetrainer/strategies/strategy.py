"""Strategy base and SingleDeviceStrategy (one process, one device).

The base answers every question a run asks a strategy as a single process would: rank 0 of a
world of 1, collectives that return their input, no wrapper, no launcher, no sampler to inject.
DDPStrategy (ddp.py) answers them for several processes.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Iterator

import torch

__all__ = ["Strategy", "SingleDeviceStrategy"]


class Strategy:
    """One process's view of the run: its device, its ranks, the model wrapper and the collectives."""

    def __init__(self, device: torch.device | str | None = None, accelerator: Any = None, checkpoint_io: Any = None):
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        self.accelerator = accelerator
        self.checkpoint_io = checkpoint_io

    # -------------------------------------------------------------- where and who
    @property
    def root_device(self) -> torch.device:
        return self._device

    global_rank = property(lambda self: 0)
    local_rank = property(lambda self: 0)
    node_rank = property(lambda self: 0)
    world_size = property(lambda self: 1)
    num_processes = property(lambda self: 1)
    num_nodes = property(lambda self: 1)

    @property
    def is_global_zero(self) -> bool:
        return self.global_rank == 0

    @property
    def launcher(self) -> Any:
        """What starts the other processes (None: this process is the whole run)."""
        return None

    @property
    def distributed_sampler_kwargs(self) -> dict[str, int] | None:
        """{'num_replicas', 'rank'} for a DistributedSampler; None when the data needs no splitting."""
        return None

    # -------------------------------------------------------------- lifecycle
    def setup_environment(self) -> None:
        """Prepare this process before the model moves: the device (and for DDP, the process group)."""
        if self.accelerator is not None:
            self.accelerator.setup_device(self.root_device)

    def model_to_device(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(self.root_device)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module training runs through (DDP: its DistributedDataParallel wrapper)."""
        return module

    def setup_module(self, module: torch.nn.Module, training: bool) -> torch.nn.Module:
        """What a run uses `module` (already on `root_device`) through: `wrap(module)` for fit, else the module."""
        return self.wrap(module) if training else module

    def step_through_wrapper(self, module: torch.nn.Module, call: Callable[..., Any]) -> Callable[..., Any]:
        """A function that runs `call(*args)` (which calls `module.training_step`) the way the wrapper needs
        it; in one process, `call` itself (the loop asks once per run)."""
        return call

    def unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The user's module inside what `wrap` returned."""
        return module

    def run_training_step(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        """Call `module.training_step(*args, **kwargs)` the way this strategy needs it called."""
        return module.training_step(*args, **kwargs)

    def pre_backward(self, loss: torch.Tensor, automatic_optimization: bool = True) -> None:
        """Called just before `backward(loss)` (DDP prepares its gradient reducer in manual optimization)."""

    def no_sync(self) -> ContextManager:
        """A context in which backward does not synchronise gradients (accumulation batches)."""
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def tensor_init_context(self, empty_init: bool | None = None) -> Iterator[None]:
        """Tensors created inside land on `root_device`; with `empty_init=True` torch.nn.init's initialisers
        are skipped (the weights are whatever memory held: load a checkpoint over them)."""
        from statetrainer.strategies.empty_init import SkipInit
        with SkipInit(enabled=bool(empty_init)), self.root_device:
            yield

    def teardown(self) -> None:
        """Release what setup took."""

    def on_exception(self, exception: BaseException) -> None:
        """This process's run failed: let go of what the other processes may be waiting on."""

    # -------------------------------------------------------------- collectives (identity in one process)
    def barrier(self, name: str | None = None) -> None:
        """Wait for every process (nothing to wait for in one process)."""

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return obj

    def reduce(self, tensor: Any, group: Any = None, reduce_op: Any = "mean") -> Any:
        return tensor

    def all_gather(self, data: Any, group: Any = None, sync_grads: bool = False) -> Any:
        return data

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        return decision

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.root_device})"


class SingleDeviceStrategy(Strategy):
    """Everything in this process, on one device."""
