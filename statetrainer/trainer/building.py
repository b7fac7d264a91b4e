"""Building the trainer's parts from its flags: device, strategy, callbacks, loggers, profiler."""
from __future__ import annotations

import os
from typing import Any

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError, flag_error
from statetrainer.strategies import Strategy, resolve_strategy

__all__ = ["build_strategy", "build_plugins", "cluster_environment_of", "build_callbacks", "build_loggers",
           "build_profiler", "apply_torch_flags"]


def build_strategy(cfg, checkpoint_io: Any = None, environment: Any = None) -> tuple[Any, Strategy]:
    """(accelerator, strategy) for the `strategy`, `accelerator`, `devices` and `num_nodes` flags.

    `environment` is the user's ClusterEnvironment plugin or None (then torchrun, SLURM or the
    default is detected). Several devices or nodes give a DDPStrategy with its launcher.
    """
    accel, strategy = resolve_strategy(cfg.strategy, accelerator=cfg.accelerator, devices=cfg.devices,
                                       num_nodes=cfg.num_nodes, cluster_environment=environment,
                                       checkpoint_io=checkpoint_io)
    if cfg.sync_batchnorm and strategy.world_size > 1:
        from statetrainer.strategies.sync_batchnorm import check_sync_batchnorm_device
        check_sync_batchnorm_device(strategy.root_device)
    return accel, strategy


def cluster_environment_of(strategy: Strategy, given: Any = None) -> Any:
    """The environment the run's ranks come from: the strategy's, else the user's plugin, else the default."""
    environment = getattr(strategy, "cluster_environment", None) or given
    if environment is None:
        from statetrainer.plugins import LightningEnvironment
        environment = LightningEnvironment()
    return environment


def _callback_list(value: Any) -> list:
    if value is None:
        return []
    items = [value] if isinstance(value, Callback) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(cb, Callback) for cb in items):
        raise flag_error("callbacks", value, "a Callback or a list of Callback instances")
    return list(items)


def _has(callbacks: list, name: str) -> bool:
    return any(name in {c.__name__ for c in type(cb).__mro__} for cb in callbacks)


def build_callbacks(cfg) -> list:
    """The user's callbacks plus the defaults the flags ask for (progress bar, summary, checkpoint, timer)."""
    callbacks = _callback_list(cfg.callbacks)
    if cfg.enable_checkpointing is False and _has(callbacks, "ModelCheckpoint"):
        raise MisconfigurationError("`enable_checkpointing` got False but a ModelCheckpoint is in `callbacks`; "
                                    "accepted: enable_checkpointing=True, or remove the ModelCheckpoint.")
    bars = [type(cb).__name__ for cb in callbacks if _has([cb], "ProgressBar")]
    if len(bars) > 1:
        raise MisconfigurationError(f"`callbacks` got {len(bars)} progress bars ({', '.join(bars)}); "
                                    "accepted: at most one ProgressBar.")
    if cfg.enable_progress_bar is False and bars:
        raise MisconfigurationError(f"`enable_progress_bar` got False but a {bars[0]} is in `callbacks`; "
                                    f"accepted: enable_progress_bar=True, or remove the {bars[0]}.")
    if cfg.enable_progress_bar is not False and not _has(callbacks, "ProgressBar"):
        from statetrainer.callbacks.progress.tqdm_progress import TQDMProgressBar
        callbacks.append(TQDMProgressBar())
    if cfg.enable_model_summary is not False and not _has(callbacks, "ModelSummary"):
        summary = _optional("statetrainer.callbacks.model_summary", "ModelSummary")
        if summary is not None:
            callbacks.append(summary())
    if cfg.max_time is not None:
        timer = _optional("statetrainer.callbacks.timer", "Timer")
        if timer is None:
            raise MisconfigurationError("`max_time` needs the Timer callback, which is missing from this install.")
        from statetrainer.callbacks.timer import parse_duration
        callbacks.append(timer(duration=parse_duration(cfg.max_time, "max_time"), interval="step"))
    if len(cfg.accumulate) > 1:
        sched = _optional("statetrainer.callbacks.gradient_accumulation_scheduler", "GradientAccumulationScheduler")
        if sched is not None and not _has(callbacks, "GradientAccumulationScheduler"):
            callbacks.append(sched(scheduling=dict(cfg.accumulate)))
    if cfg.enable_checkpointing is not False and not _has(callbacks, "ModelCheckpoint"):
        checkpoint = _optional("statetrainer.callbacks.model_checkpoint", "ModelCheckpoint")
        if checkpoint is not None:
            callbacks.append(checkpoint())
    return callbacks


def _optional(module: str, name: str):
    import importlib
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def build_plugins(cfg) -> tuple[Any, Any]:
    """(CheckpointIO, ClusterEnvironment or None) from the `plugins` flag; the default CheckpointIO where none is
    given, and None for the environment when the user gives none (the strategy then detects one)."""
    from statetrainer.plugins import CheckpointIO, ClusterEnvironment, TorchCheckpointIO
    from statetrainer.plugins.precision import Precision
    accepted = "None, or one or a list of CheckpointIO / ClusterEnvironment / Precision instances"
    items = [] if cfg.plugins is None else (list(cfg.plugins) if isinstance(cfg.plugins, (list, tuple)) else [cfg.plugins])
    checkpoint_io, environment = TorchCheckpointIO(), None
    for item in items:
        if isinstance(item, CheckpointIO):
            checkpoint_io = item
        elif isinstance(item, ClusterEnvironment):
            environment = item
        elif not isinstance(item, Precision):
            raise flag_error("plugins", cfg.plugins, accepted)
    return checkpoint_io, environment


def build_loggers(cfg, root: str) -> list:
    from statetrainer.loggers import lifecycle
    flag = True if cfg.logger is None else cfg.logger
    return lifecycle.resolve(flag, root)


def build_profiler(cfg):
    from statetrainer.profilers.flag import resolve_profiler
    return resolve_profiler(cfg.profiler)


def apply_torch_flags(cfg) -> None:
    if cfg.deterministic is not None:
        torch.use_deterministic_algorithms(bool(cfg.deterministic), warn_only=cfg.deterministic == "warn")
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if cfg.benchmark is not None:
        torch.backends.cudnn.benchmark = cfg.benchmark
    elif cfg.deterministic:
        torch.backends.cudnn.benchmark = False
