"""The type of every Trainer flag, for the command line and the generated flag reference.

``Trainer(**flags)`` has no typed signature: the flags, their defaults and their help live in
``statetrainer.trainer.flags.FLAG_HELP``. This table adds one type per flag so that jsonargparse
can parse, check and document each of them. tests/cli/test_trainer_types.py fails when a flag
is in FLAG_HELP and not here (or the other way round), so the two cannot drift apart.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Dict, List, Literal, Optional, Union

from statetrainer.accelerators import Accelerator
from statetrainer.callbacks.callback import Callback
from statetrainer.loggers.logger import Logger
from statetrainer.plugins import CheckpointIO, ClusterEnvironment, Precision
from statetrainer.profilers.profiler import Profiler
from statetrainer.strategies import Strategy

__all__ = ["FLAG_TYPES", "PRECISION_VALUES", "PluginType"]

# What `precision` accepts, as Lightning spells it (the ints are YAML's reading of `precision: 16`).
PRECISION_VALUES = (64, 32, 16, "64", "32", "16", "bf16", "64-true", "32-true", "16-mixed", "bf16-mixed", "16-true",
                    "bf16-true")
PluginType = Union[ClusterEnvironment, CheckpointIO, Precision]

FLAG_TYPES: Dict[str, Any] = {
    "accelerator": Union[str, Accelerator],
    "strategy": Union[str, Strategy],
    "devices": Union[List[int], str, int],
    "num_nodes": int,
    "precision": Optional[Literal[PRECISION_VALUES]],
    "logger": Optional[Union[bool, Logger, List[Logger]]],
    "callbacks": Optional[Union[List[Callback], Callback]],
    "fast_dev_run": Union[bool, int],
    "max_epochs": Optional[int],
    "min_epochs": Optional[int],
    "max_steps": int,
    "min_steps": Optional[int],
    "max_time": Optional[Union[str, timedelta, Dict[str, int]]],
    "limit_train_batches": Optional[Union[int, float]],
    "limit_val_batches": Optional[Union[int, float]],
    "limit_test_batches": Optional[Union[int, float]],
    "limit_predict_batches": Optional[Union[int, float]],
    "overfit_batches": Union[int, float],
    "val_check_interval": Optional[Union[int, float, str, timedelta, Dict[str, int]]],
    "check_val_every_n_epoch": Optional[int],
    "num_sanity_val_steps": Optional[int],
    "log_every_n_steps": Optional[int],
    "enable_checkpointing": Optional[bool],
    "enable_progress_bar": Optional[bool],
    "enable_model_summary": Optional[bool],
    "accumulate_grad_batches": Union[int, Dict[int, int]],
    "gradient_clip_val": Optional[Union[int, float]],
    "gradient_clip_algorithm": Optional[Literal["norm", "value"]],
    "track_grad_norm": Union[int, float, Literal["inf"]],
    "deterministic": Optional[Union[bool, Literal["warn"]]],
    "benchmark": Optional[bool],
    "inference_mode": bool,
    "use_distributed_sampler": bool,
    "replace_sampler_ddp": Optional[bool],
    "profiler": Optional[Union[Profiler, str]],
    "detect_anomaly": bool,
    "barebones": bool,
    "plugins": Optional[Union[PluginType, List[PluginType]]],
    "sync_batchnorm": bool,
    "reload_dataloaders_every_n_epochs": int,
    "default_root_dir": Optional[str],
    "auto_lr_find": Union[bool, str],
    "auto_scale_batch_size": Union[bool, Literal["power", "binsearch"]],
}
