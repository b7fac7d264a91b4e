"""From the `strategy`, `accelerator`, `devices` and `num_nodes` flags (and the cluster environment) to a strategy.

The Trainer's building code calls `resolve_strategy` once; every bad value is refused here
naming its flag.
"""
from __future__ import annotations

from typing import Any

from statetrainer.accelerators import Accelerator, CPUAccelerator, resolve_devices
from statetrainer.errors import MisconfigurationError, flag_error
from statetrainer.strategies.ddp import DDPStrategy
from statetrainer.strategies.strategy import SingleDeviceStrategy, Strategy

__all__ = ["resolve_strategy", "STRATEGY_NAMES"]

# name -> (start_method, find_unused_parameters or None for DDP's default)
_DDP_NAMES: dict[str, tuple[str, bool | None]] = {
    "ddp": ("popen", None), "ddp_spawn": ("spawn", None), "ddp_fork": ("fork", None), "ddp_notebook": ("fork", None),
}
for _name, _method in (("ddp", "popen"), ("ddp_spawn", "spawn"), ("ddp_fork", "fork"), ("ddp_notebook", "fork")):
    for _flag in (True, False):
        _DDP_NAMES[f"{_name}_find_unused_parameters_{str(_flag).lower()}"] = (_method, _flag)

STRATEGY_NAMES = ("auto", "single_device", *_DDP_NAMES)
_ACCEPTED = ("'auto', 'single_device', 'ddp', 'ddp_spawn', 'ddp_fork', 'ddp_notebook', "
             "'ddp_find_unused_parameters_true' (and the other _find_unused_parameters_true/false forms), "
             "or a Strategy instance")


def _check_num_nodes(num_nodes: Any) -> int:
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 1:
        raise flag_error("num_nodes", num_nodes, "an int >= 1")
    return num_nodes


def _devices_under_launcher(devices: Any, accelerator: Any, environment: Any, num_nodes: int) -> Any:
    """devices='auto' on the CPU under torchrun/srun: as many as the launcher started per node (not 1)."""
    if devices != "auto" or not environment.creates_processes_externally:
        return devices
    cpu = accelerator == "cpu" or isinstance(accelerator, CPUAccelerator)
    if accelerator == "auto":
        from statetrainer.accelerators import CUDAAccelerator, MPSAccelerator
        cpu = not (CUDAAccelerator.is_available() or MPSAccelerator.is_available())
    if not cpu:
        return devices
    try:
        world_size = environment.world_size()
    except (KeyError, ValueError):  # the launcher's variables are missing or partial: nothing to count
        return devices
    return max(1, world_size // num_nodes)


def _interactive() -> bool:
    """A Python prompt or a notebook: there is no script the "ddp" launcher could re-run."""
    import sys
    return hasattr(sys, "ps1") or bool(sys.flags.interactive)


def _from_name(name: Any, devices: int, num_nodes: int) -> Strategy | None:
    """A new strategy for a name (None means 'one device'); unknown names are refused."""
    if not isinstance(name, str) or name not in STRATEGY_NAMES:
        raise flag_error("strategy", name, _ACCEPTED)
    if name == "single_device":
        if devices * num_nodes > 1:
            raise MisconfigurationError(f"`strategy` got 'single_device' with {devices} devices and num_nodes="
                                        f"{num_nodes}; accepted: devices=1, num_nodes=1, or strategy='ddp'.")
        return None
    if name == "auto":
        if devices * num_nodes <= 1:
            return None
        return DDPStrategy(start_method="fork") if _interactive() and num_nodes == 1 else DDPStrategy()
    start_method, find_unused = _DDP_NAMES[name]
    if start_method == "fork":
        from statetrainer.strategies.launchers.multiprocessing import check_start_method
        check_start_method("fork")
    extra = {} if find_unused is None else {"find_unused_parameters": find_unused}
    return DDPStrategy(start_method=start_method, **extra)


def _complete(strategy: DDPStrategy, accel: Accelerator, indices: list[int], num_nodes: int, environment: Any,
              checkpoint_io: Any) -> DDPStrategy:
    """Fill what the user's or the named DDPStrategy left open, then fix the ranks and the launcher."""
    strategy.accelerator = strategy.accelerator or accel
    if not strategy.parallel_devices:
        strategy.parallel_devices = [strategy.accelerator.device(i) for i in indices]
    strategy.cluster_environment = strategy.cluster_environment or environment
    strategy.num_nodes = num_nodes
    strategy.checkpoint_io = strategy.checkpoint_io or checkpoint_io
    strategy.cluster_environment.validate_settings(num_devices=strategy.num_processes, num_nodes=num_nodes)
    strategy.set_world_ranks()
    strategy.configure_launcher()
    return strategy


def resolve_strategy(strategy: Any = "auto", *, accelerator: Any = "auto", devices: Any = "auto", num_nodes: Any = 1,
                     cluster_environment: Any = None, checkpoint_io: Any = None) -> tuple[Accelerator, Strategy]:
    """(accelerator, strategy) for the flags; a DDPStrategy comes with its devices, environment and launcher set.

    `cluster_environment` is the user's plugin, or None to detect one (torchrun, SLURM, else the
    default). Several devices or nodes with strategy='auto' give DDP started plainly ("ddp").
    """
    from statetrainer.plugins.environments import detect_environment
    num_nodes = _check_num_nodes(num_nodes)
    environment = detect_environment(cluster_environment)
    accel, indices = resolve_devices(accelerator, _devices_under_launcher(devices, accelerator, environment, num_nodes))
    if isinstance(strategy, Strategy):
        chosen: Strategy | None = strategy
    else:
        chosen = _from_name(strategy, len(indices), num_nodes)
    if chosen is None:
        return accel, SingleDeviceStrategy(accel.device(indices[0] if indices else 0), accelerator=accel,
                                           checkpoint_io=checkpoint_io)
    if isinstance(chosen, DDPStrategy):
        return accel, _complete(chosen, accel, indices, num_nodes, environment, checkpoint_io)
    if getattr(chosen, "accelerator", None) is None:
        chosen.accelerator = accel
    return accel, chosen
