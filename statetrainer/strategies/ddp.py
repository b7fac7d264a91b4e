"""DDPStrategy: one process per device, gradients averaged by torch's DistributedDataParallel."""
from __future__ import annotations

import atexit
import contextlib
from datetime import timedelta
from typing import Any, ContextManager

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from statetrainer.errors import MisconfigurationError, flag_error
from statetrainer.strategies import collectives
from statetrainer.strategies.redirect import call_through_wrapper, prepare_manual_backward
from statetrainer.strategies.strategy import Strategy

__all__ = ["DDPStrategy"]

_START_METHODS = ("popen", "spawn", "fork", "forkserver")
# Lightning arguments this version does not take, and what to do instead
_NOT_SUPPORTED = {"precision_plugin": "set the Trainer's `precision` flag instead",
                  "model_averaging_period": "leave it out (post-local SGD model averaging is not implemented)"}
_DEFAULT_TIMEOUT = timedelta(minutes=30)


class DDPStrategy(Strategy):
    """Distributed data parallel over torch.distributed (gloo on CPU, nccl on CUDA).

    `start_method` says who starts the processes: "popen" re-runs the script for the other local
    ranks (or nothing, under torchrun / srun), "spawn" / "fork" / "forkserver" start every rank
    with torch.multiprocessing. `find_unused_parameters`, `static_graph`,
    `gradient_as_bucket_view` and any other keyword go to DistributedDataParallel. Subclass and
    override `configure_ddp` to wrap the model differently. `ddp_comm_hook` (with its
    `ddp_comm_state`, optionally wrapped by `ddp_comm_wrapper`) is registered on the wrapper.
    """

    def __init__(self, accelerator: Any = None, parallel_devices: list[torch.device] | None = None,
                 cluster_environment: Any = None, checkpoint_io: Any = None, process_group_backend: str | None = None,
                 timeout: timedelta | None = _DEFAULT_TIMEOUT, start_method: str = "popen",
                 find_unused_parameters: bool = False, static_graph: bool = False,
                 gradient_as_bucket_view: bool = False, ddp_comm_state: Any = None, ddp_comm_hook: Any = None,
                 ddp_comm_wrapper: Any = None, **kwargs: Any):
        super().__init__(None, accelerator=accelerator, checkpoint_io=checkpoint_io)
        for name, instead in _NOT_SUPPORTED.items():
            if kwargs.pop(name, None) is not None:
                raise MisconfigurationError(f"`DDPStrategy` got `{name}`, which this version does not support; "
                                            f"accepted: {instead}.")
        if start_method not in _START_METHODS:
            raise flag_error("start_method", start_method, ", ".join(repr(m) for m in _START_METHODS))
        if timeout is not None and not isinstance(timeout, timedelta):
            raise flag_error("timeout", timeout, "a datetime.timedelta or None (torch's default of 30 minutes)")
        self.parallel_devices = list(parallel_devices) if parallel_devices is not None else None
        self.cluster_environment = cluster_environment
        self._num_nodes = 1
        self._process_group_backend = process_group_backend
        self._timeout = timeout if timeout is not None else _DEFAULT_TIMEOUT
        self._start_method = start_method
        self._ddp_kwargs = {"find_unused_parameters": find_unused_parameters, "static_graph": static_graph,
                            "gradient_as_bucket_view": gradient_as_bucket_view, **kwargs}
        self._comm = (ddp_comm_state, ddp_comm_hook, ddp_comm_wrapper)
        self._launcher: Any = None
        self._wrapped: DistributedDataParallel | None = None

    # -------------------------------------------------------------- where and who
    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    @num_nodes.setter
    def num_nodes(self, value: int) -> None:
        self._num_nodes = int(value)

    @property
    def root_device(self) -> torch.device:
        if not self.parallel_devices:
            return torch.device("cpu")
        return self.parallel_devices[self.local_rank % len(self.parallel_devices)]

    @property
    def num_processes(self) -> int:
        return len(self.parallel_devices) if self.parallel_devices is not None else 0

    def _environment(self, method: str, default: int) -> int:
        return getattr(self.cluster_environment, method)() if self.cluster_environment is not None else default

    local_rank = property(lambda self: self._environment("local_rank", 0))
    node_rank = property(lambda self: self._environment("node_rank", 0))
    global_rank = property(lambda self: self._environment("global_rank", 0))
    world_size = property(lambda self: self._environment("world_size", 1))

    @property
    def distributed_sampler_kwargs(self) -> dict[str, int]:
        return {"num_replicas": self.num_nodes * self.num_processes, "rank": self.global_rank}

    @property
    def process_group_backend(self) -> str:
        if self._process_group_backend is not None:
            return self._process_group_backend
        return "nccl" if self.root_device.type == "cuda" else "gloo"

    @property
    def start_method(self) -> str:
        return self._start_method

    @property
    def timeout(self) -> timedelta:
        return self._timeout

    @property
    def ddp_kwargs(self) -> dict[str, Any]:
        return dict(self._ddp_kwargs)

    @property
    def model(self) -> DistributedDataParallel | None:
        """The wrapper `wrap` made (None before and after)."""
        return self._wrapped

    # -------------------------------------------------------------- processes
    def set_world_ranks(self) -> None:
        """Tell the cluster environment the global rank and world size `devices` and `num_nodes` imply."""
        if self.cluster_environment is None:
            return
        self.cluster_environment.set_global_rank(self.node_rank * self.num_processes + self.local_rank)
        self.cluster_environment.set_world_size(self.num_nodes * self.num_processes)

    def configure_launcher(self) -> None:
        """Build the launcher for `start_method` (called once the devices and the environment are known)."""
        from statetrainer.strategies.launchers import MultiProcessingLauncher, SubprocessScriptLauncher
        if self._start_method == "popen":
            self._launcher = SubprocessScriptLauncher(self.cluster_environment, self.num_processes, self.num_nodes)
        else:
            self._launcher = MultiProcessingLauncher(self.cluster_environment, self.num_processes, self._start_method)

    @property
    def launcher(self) -> Any:
        return self._launcher

    def setup_environment(self) -> None:
        """In the rank's own process: its device, then the process group (joined through the cluster environment)."""
        if self.cluster_environment is None:
            from statetrainer.plugins.environments import detect_environment
            self.cluster_environment = detect_environment()
        self.set_world_ranks()
        from statetrainer.utilities.rank_zero import rank_zero_only
        rank_zero_only.rank = self.global_rank  # rank_zero_* helpers and loggers: this process's rank from now on
        super().setup_environment()
        if not collectives.is_distributed():
            self._init_process_group()

    def _init_process_group(self) -> None:
        env = self.cluster_environment
        address = f"tcp://{_host(env.main_address)}:{env.main_port}"
        device_id = self.root_device if self.root_device.type == "cuda" else None
        dist.init_process_group(self.process_group_backend, init_method=address, rank=self.global_rank,
                                world_size=self.world_size, timeout=self._timeout, device_id=device_id)
        if not getattr(self._launcher, "leaves_process_group_at_exit", False):
            atexit.register(_leave_process_group)  # a later trainer call in this process reuses the group until exit

    # -------------------------------------------------------------- the model
    def determine_ddp_device_ids(self) -> list[int] | None:
        return None if self.root_device.type == "cpu" else [self.root_device.index]

    def configure_ddp(self, model: torch.nn.Module) -> DistributedDataParallel:
        """Wrap `model` (already on `root_device`) in DistributedDataParallel. Override to wrap differently."""
        return DistributedDataParallel(model, device_ids=self.determine_ddp_device_ids(), **self._ddp_kwargs)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        if not collectives.is_distributed():
            raise MisconfigurationError(f"{type(self).__name__}.wrap got a module before the process group exists; "
                                        "accepted: call setup_environment() in every rank first.")
        self._wrapped = self.configure_ddp(module)
        state, hook, hook_wrapper = self._comm
        if hook is not None:
            self._wrapped.register_comm_hook(state, hook_wrapper(hook) if hook_wrapper is not None else hook)
        return self._wrapped

    def unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.module if isinstance(module, DistributedDataParallel) else module

    def setup_module(self, module: torch.nn.Module, training: bool) -> torch.nn.Module:
        """fit: the DDP wrapper; validate/test/predict: the module itself, with rank 0's weights and buffers
        copied to every rank (there are no gradients to average)."""
        if training:
            return self.wrap(module)
        collectives.broadcast_module_states(module)
        return module

    def step_through_wrapper(self, module: torch.nn.Module, call: Any) -> Any:
        """`call(*args)` entered through the DDP wrapper while `module` is the one wrapped (so DDP prepares the
        gradient all-reduce of the backward that follows), else called directly."""
        def step(*args: Any, **kwargs: Any) -> Any:
            if self._wrapped is None or self._wrapped.module is not module:
                return call(*args, **kwargs)
            manual = not module.automatic_optimization
            return call_through_wrapper(self._wrapped, module, call, *args, manual_optimization=manual, **kwargs)
        return step

    def run_training_step(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        """Through the wrapper when `module` is the one wrapped (so DDP syncs gradients), else directly."""
        if self._wrapped is None or self.unwrap(self._wrapped) is not module:
            return module.training_step(*args, **kwargs)
        manual = not getattr(module, "automatic_optimization", True)
        return call_through_wrapper(self._wrapped, module, "training_step", *args, manual_optimization=manual,
                                    **kwargs)

    def pre_backward(self, loss: torch.Tensor, automatic_optimization: bool = True) -> None:
        if self._wrapped is not None and not automatic_optimization:
            prepare_manual_backward(self._wrapped, loss)

    def no_sync(self) -> ContextManager:
        return self._wrapped.no_sync() if self._wrapped is not None else contextlib.nullcontext()

    def teardown(self) -> None:
        """Drop the wrapper. The process group stays for the next trainer call in this process (it is left at
        exit, or at once by `on_exception`)."""
        self._wrapped = None
        if self.cluster_environment is not None:
            self.cluster_environment.teardown()

    def on_exception(self, exception: BaseException) -> None:
        """Leave the process group: ranks waiting on this one in a collective fail at once instead of at the
        timeout, and this rank's own handlers (on_exception, checkpoints) run without collectives. An interrupt
        (Ctrl-C, SIGTERM) is graceful: the group stays for the next trainer call, as after a finished run."""
        if isinstance(exception, KeyboardInterrupt):
            return
        _leave_process_group()

    # -------------------------------------------------------------- collectives
    def barrier(self, name: str | None = None) -> None:
        collectives.barrier()

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return collectives.broadcast_object(obj, src)

    def reduce(self, tensor: Any, group: Any = None, reduce_op: Any = "mean") -> Any:
        return collectives.sync(tensor, reduce_op=reduce_op, group=group)

    def all_gather(self, data: Any, group: Any = None, sync_grads: bool = False) -> Any:
        return collectives.all_gather(data, group=group, sync_grads=sync_grads, device=self.root_device)

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        device = self.root_device if self.process_group_backend == "nccl" else None
        return collectives.reduce_decision(decision, all=all, device=device)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(start_method={self._start_method!r}, devices={self.num_processes}, "
                f"num_nodes={self.num_nodes})")


def _leave_process_group() -> None:
    if collectives.is_distributed():
        dist.destroy_process_group()


def _host(address: str) -> str:
    """An IPv6 address goes in brackets inside a URL."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address
