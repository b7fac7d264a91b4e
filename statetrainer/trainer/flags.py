"""Trainer flags: defaults, parsing and validation, all at construction time.

Every check raises `flag_error(flag, value, accepted)`: one sentence naming what is wrong.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from statetrainer.errors import MisconfigurationError, MisconfigurationTypeError, flag_error

__all__ = ["TrainerConfig", "parse_flags", "settle_max_epochs", "DEFAULTS", "FLAG_HELP"]

Number = Union[int, float]

# flag -> (default, help). The order is the order of add_argparse_args.
FLAG_HELP: dict[str, tuple[Any, str]] = {
    "accelerator": ("auto", "cpu, gpu/cuda, mps, auto, or an Accelerator instance"),
    "strategy": ("auto", "auto, ddp, ddp_spawn, ddp_fork, ddp_notebook, or a Strategy instance"),
    "devices": ("auto", "int, list of indices, str, or auto"),
    "num_nodes": (1, "number of nodes"),
    "precision": (None, "64/'64-true', 32/'32-true', 16/'16-mixed', 'bf16'/'bf16-mixed', '16-true', 'bf16-true'"),
    "logger": (None, "True (TensorBoard), False, a Logger or a list of them"),
    "callbacks": (None, "a Callback or a list of them"),
    "fast_dev_run": (False, "True or n: run n batches of each loop once, as a smoke test"),
    "max_epochs": (None, "stop after this many epochs (default 1000 when max_steps is unset; -1: no limit)"),
    "min_epochs": (None, "should_stop is not granted before this many epochs"),
    "max_steps": (-1, "stop after this many optimizer steps (-1: no limit)"),
    "min_steps": (None, "should_stop is not granted before this many steps"),
    "max_time": (None, "'DD:HH:MM:SS', a dict of timedelta arguments, or a timedelta"),
    "limit_train_batches": (None, "int (batches) or float (fraction) per epoch"),
    "limit_val_batches": (None, "int or float"),
    "limit_test_batches": (None, "int or float"),
    "limit_predict_batches": (None, "int or float"),
    "overfit_batches": (0.0, "int or float: train and validate on this many training batches, unshuffled"),
    "val_check_interval": (None, "float fraction of an epoch, int number of batches, or a time: 'DD:HH:MM:SS', "
                                 "a dict of timedelta arguments or a timedelta"),
    "check_val_every_n_epoch": (1, "int, or None to count val_check_interval across epochs"),
    "num_sanity_val_steps": (None, "validation batches before training (default 2; -1: all)"),
    "log_every_n_steps": (None, "how often training-step metrics are written (default 50)"),
    "enable_checkpointing": (None, "save a checkpoint at the end of every epoch (default True)"),
    "enable_progress_bar": (None, "show a tqdm progress bar (default True)"),
    "enable_model_summary": (None, "print the parameter table at fit start (default True)"),
    "accumulate_grad_batches": (1, "int, or {epoch: k} schedule"),
    "gradient_clip_val": (None, "clip gradients at this value (None/0: off)"),
    "gradient_clip_algorithm": (None, "'norm' (default) or 'value'"),
    "track_grad_norm": (-1, "log the gradient p-norm each step (-1: off; 2: L2; 'inf')"),
    "deterministic": (None, "True, False, or 'warn' (torch.use_deterministic_algorithms)"),
    "benchmark": (None, "torch.backends.cudnn.benchmark"),
    "inference_mode": (True, "use torch.inference_mode (else no_grad) in validate/test/predict"),
    "use_distributed_sampler": (True, "inject a DistributedSampler when distributed"),
    "replace_sampler_ddp": (None, "old name of use_distributed_sampler"),
    "profiler": (None, "'simple', 'advanced', 'pytorch', or a Profiler instance"),
    "detect_anomaly": (False, "torch.autograd anomaly detection"),
    "barebones": (False, "turn every extra off for the lowest overhead"),
    "plugins": (None, "ClusterEnvironment / CheckpointIO instances"),
    "sync_batchnorm": (False, "convert BatchNorm layers to SyncBatchNorm when distributed"),
    "reload_dataloaders_every_n_epochs": (0, "call train_dataloader()/val_dataloader() again every n epochs"),
    "default_root_dir": (None, "where logs and checkpoints go (default: the working directory)"),
    "auto_lr_find": (False, "trainer.tune() runs the learning-rate finder (bool or the hparam name)"),
    "auto_scale_batch_size": (False, "trainer.tune() runs the batch-size finder (bool, 'power', 'binsearch')"),
}
DEFAULTS = {name: default for name, (default, _) in FLAG_HELP.items()}
PRECISIONS = {"64": "64-true", "64-true": "64-true", "32": "32-true", "32-true": "32-true",
              "16": "16-mixed", "16-mixed": "16-mixed", "bf16": "bf16-mixed", "bf16-mixed": "bf16-mixed",
              "16-true": "16-true", "bf16-true": "bf16-true"}


@dataclass
class TrainerConfig:
    """The flags after defaults, aliases and fast_dev_run are applied."""

    raw: dict
    max_epochs: int = 1000          # provisional until fit settles it (see settle_max_epochs)
    max_epochs_settled: bool = True  # False while an unset max_epochs awaits the first fit
    max_steps: int = -1
    min_epochs: Optional[int] = None
    min_steps: Optional[int] = None
    precision: str = "32-true"
    fast_dev_run: int = 0
    limits: dict = field(default_factory=dict)
    val_check_interval: Any = 1.0                  # a fraction, a number of batches, or a timedelta
    val_check_seconds: Optional[float] = None      # set when val_check_interval is a time
    check_val_every_n_epoch: Optional[int] = 1
    num_sanity_val_steps: Number = 2
    log_every_n_steps: int = 50
    accumulate: dict = field(default_factory=lambda: {0: 1})
    overfit_batches: Number = 0.0

    def __getattr__(self, name: str) -> Any:
        raw = self.__dict__.get("raw", {})
        if name in raw:
            return raw[name]
        raise AttributeError(name)

    def accumulate_for(self, epoch: int) -> int:
        if len(self.accumulate) == 1:
            return self.accumulate[0]
        k = 1
        for start in sorted(self.accumulate):
            if epoch >= start:
                k = self.accumulate[start]
        return k


def _check_int(flag, value, minimum, allow_none=True, extra=""):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise flag_error(flag, value, f"an int >= {minimum}{extra}" + (" or None" if allow_none else ""))


def _batches_or_fraction(flag, value, accepted="an int >= 0 (batches) or a float in [0.0, 1.0] (fraction)"):
    """A limit as Lightning reads it: an int, a fraction in [0, 1], or a whole float above 1 taken as
    that many batches (1e50 means "all of them")."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
        raise flag_error(flag, value, accepted)
    if isinstance(value, float) and value > 1.0:
        if not value.is_integer():
            raise flag_error(flag, value, accepted + ", or a whole number of batches written as a float")
        return int(value)
    return value


def _check_choice(flag, value, choices):
    if value not in choices:
        raise flag_error(flag, value, ", ".join(repr(c) for c in choices))


_VCI_ACCEPTED = ("a float in (0.0, 1.0] (fraction of an epoch), an int >= 1 (batches), or a time: 'DD:HH:MM:SS', a "
                 "dict of timedelta arguments or a timedelta")


def _val_check_interval(value, every_n_epoch):
    """None, a fraction, a number of batches, or a `datetime.timedelta` (from the three time forms)."""
    from datetime import timedelta
    if isinstance(value, (str, dict, timedelta)):
        from statetrainer.callbacks.timer import parse_duration
        interval = parse_duration(value, "val_check_interval")
        if interval.total_seconds() <= 0:
            raise flag_error("val_check_interval", value, "a time longer than zero ('DD:HH:MM:SS', a dict of "
                             "timedelta arguments or a timedelta), a fraction or a number of batches")
        return interval
    if value is None:
        return None
    if isinstance(value, float) and every_n_epoch is None:
        raise flag_error("val_check_interval", value, "an int number of batches or a time when "
                         "check_val_every_n_epoch=None (validation counts batches across epochs)")
    if isinstance(value, float) and value > 1.0 and value.is_integer():
        value = int(value)  # a whole number of batches written as a float, as Lightning reads it
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and not 0.0 < value <= 1.0) or (isinstance(value, int) and value < 1):
        raise flag_error("val_check_interval", value, _VCI_ACCEPTED)
    return value


def _accumulation(value) -> dict:
    if isinstance(value, dict):
        if not value or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in value) or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value.values()):
            raise flag_error("accumulate_grad_batches", value, "an int >= 1 or a dict {epoch (int >= 0): k (int >= 1)}")
        return dict(value) if 0 in value else {0: 1, **value}
    _check_int("accumulate_grad_batches", value, 1, allow_none=False, extra=" or a dict {epoch: k}")
    return {0: int(value)}


def _precision(value) -> str:
    key = str(value) if value is not None else "32-true"
    if key not in PRECISIONS:
        raise flag_error("precision", value, ", ".join(repr(p) for p in PRECISIONS))
    return PRECISIONS[key]


def _validate(raw: dict) -> None:
    for flag in ("max_epochs",):
        _check_int(flag, raw[flag], -1)
    _check_int("max_steps", raw["max_steps"], -1, allow_none=False)
    for flag in ("min_epochs", "min_steps", "log_every_n_steps"):
        _check_int(flag, raw[flag], 0)
    _check_int("check_val_every_n_epoch", raw["check_val_every_n_epoch"], 1)
    _check_int("num_nodes", raw["num_nodes"], 1, allow_none=False)
    _check_int("reload_dataloaders_every_n_epochs", raw["reload_dataloaders_every_n_epochs"], 0, allow_none=False)
    for flag in ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches",
                 "overfit_batches"):
        raw[flag] = _batches_or_fraction(flag, raw[flag])
    nsv = raw["num_sanity_val_steps"]
    if nsv is not None and (isinstance(nsv, bool) or not isinstance(nsv, int) or nsv < -1):
        raise flag_error("num_sanity_val_steps", nsv, "an int >= 0, or -1 for all batches")
    raw["val_check_interval"] = _val_check_interval(raw["val_check_interval"], raw["check_val_every_n_epoch"])
    fdr = raw["fast_dev_run"]
    if not isinstance(fdr, (bool, int)) or (not isinstance(fdr, bool) and fdr < 0):
        raise flag_error("fast_dev_run", fdr, "True, False, or an int >= 0")
    gcv = raw["gradient_clip_val"]
    if gcv is not None and (isinstance(gcv, bool) or not isinstance(gcv, (int, float))):
        raise flag_error("gradient_clip_val", gcv, "an int or a float >= 0, or None", MisconfigurationTypeError)
    if gcv is not None and gcv < 0:
        raise flag_error("gradient_clip_val", gcv, "a number >= 0 or None")
    algorithm = raw["gradient_clip_algorithm"]
    if algorithm is not None:  # any case, as Lightning reads it
        raw["gradient_clip_algorithm"] = algorithm.lower() if isinstance(algorithm, str) else algorithm
        _check_choice("gradient_clip_algorithm", raw["gradient_clip_algorithm"], ("norm", "value"))
    if raw["deterministic"] not in (None, True, False, "warn"):
        raise flag_error("deterministic", raw["deterministic"], "True, False, 'warn' or None")
    tgn = raw["track_grad_norm"]
    if not (tgn in (-1, "inf") or (isinstance(tgn, (int, float)) and not isinstance(tgn, bool) and tgn > 0)):
        raise flag_error("track_grad_norm", tgn, "-1 (off), a positive number (the p of the p-norm) or 'inf'")
    for flag in ("inference_mode", "detect_anomaly", "barebones", "sync_batchnorm", "use_distributed_sampler"):
        if not isinstance(raw[flag], bool):
            raise flag_error(flag, raw[flag], "True or False")
    for flag in ("enable_checkpointing", "enable_progress_bar", "enable_model_summary", "benchmark"):
        if raw[flag] is not None and not isinstance(raw[flag], bool):
            raise flag_error(flag, raw[flag], "True, False or None")


def _check_min_max(raw: dict) -> None:
    """A minimum above its maximum cannot both hold (Lightning lets the maximum win silently)."""
    for unit, unlimited in (("epochs", (None, -1)), ("steps", (-1,))):
        low, high = raw[f"min_{unit}"], raw[f"max_{unit}"]
        if low is not None and high not in unlimited and low > high:
            raise MisconfigurationError(f"`min_{unit}` got {low}, above max_{unit}={high}; accepted: "
                                        f"min_{unit} <= max_{unit}, or max_{unit}=-1 for no limit.")


def _validate_more(raw: dict) -> None:
    """The flags whose values other parts read later: refused now, not at first use."""
    import os
    from statetrainer.tuner.arguments import check_tuner_flags
    check_tuner_flags(raw["auto_lr_find"], raw["auto_scale_batch_size"])
    root = raw["default_root_dir"]
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise flag_error("default_root_dir", root, "a path (str or os.PathLike) or None")
    old = raw["replace_sampler_ddp"]
    if old is not None and not isinstance(old, bool):
        raise flag_error("replace_sampler_ddp", old, "True or False (the old name of use_distributed_sampler)")


def _apply_barebones(raw: dict) -> None:
    if not raw["barebones"]:
        return
    if raw["fast_dev_run"] not in (False, 0):
        raise MisconfigurationError(f"`fast_dev_run` got {raw['fast_dev_run']!r} with barebones=True; accepted: "
                                    "False (a development run is not a speed run), or barebones=False.")
    for flag, off in (("enable_checkpointing", False), ("enable_progress_bar", False), ("enable_model_summary", False),
                      ("num_sanity_val_steps", 0), ("detect_anomaly", False)):
        if raw[flag] not in (None, off):
            raise MisconfigurationError(f"`barebones=True` turns `{flag}` off but it got {raw[flag]!r}; "
                                        f"accepted: leave it unset or {off!r}.")
        raw[flag] = off
    if raw["logger"] not in (None, False):
        raise MisconfigurationError(f"`barebones=True` turns `logger` off but it got {raw['logger']!r}; "
                                    "accepted: leave it unset or False.")
    raw["logger"] = False
    if raw["profiler"] is not None or raw["log_every_n_steps"] is not None:
        raise MisconfigurationError("`barebones=True` disables `profiler` and `log_every_n_steps`; accepted: leave them unset.")


def parse_flags(**kwargs: Any) -> TrainerConfig:
    """Check every flag and build the config; unknown flags are refused by name."""
    unknown = sorted(set(kwargs) - set(DEFAULTS))
    if unknown:
        raise MisconfigurationTypeError(f"Trainer got unknown flag(s) {unknown}; accepted: {', '.join(DEFAULTS)}.")
    raw = {**DEFAULTS, **kwargs}
    _validate_more(raw)
    if raw["replace_sampler_ddp"] is not None:
        raw["use_distributed_sampler"] = raw["replace_sampler_ddp"]
    _validate(raw)
    _check_min_max(raw)
    _apply_barebones(raw)
    cfg = TrainerConfig(raw=raw, precision=_precision(raw["precision"]),
                        accumulate=_accumulation(raw["accumulate_grad_batches"]))
    cfg.max_steps = raw["max_steps"]
    if raw["max_epochs"] is None:
        cfg.max_epochs = 1000 if raw["max_steps"] == -1 and raw["max_time"] is None else -1
        cfg.max_epochs_settled = False
    else:
        cfg.max_epochs = raw["max_epochs"]
    cfg.min_epochs, cfg.min_steps = raw["min_epochs"], raw["min_steps"]
    cfg.limits = {stage: (1.0 if raw[f"limit_{stage}_batches"] is None else raw[f"limit_{stage}_batches"])
                  for stage in ("train", "val", "test", "predict")}
    cfg.val_check_interval = 1.0 if raw["val_check_interval"] is None else raw["val_check_interval"]
    if hasattr(cfg.val_check_interval, "total_seconds"):
        cfg.val_check_seconds = cfg.val_check_interval.total_seconds()
    cfg.check_val_every_n_epoch = raw["check_val_every_n_epoch"]
    cfg.num_sanity_val_steps = 2 if raw["num_sanity_val_steps"] is None else raw["num_sanity_val_steps"]
    if cfg.num_sanity_val_steps == -1:
        cfg.num_sanity_val_steps = math.inf
    cfg.log_every_n_steps = 50 if raw["log_every_n_steps"] is None else raw["log_every_n_steps"]
    cfg.overfit_batches = raw["overfit_batches"]
    _apply_overfit(cfg)
    _apply_fast_dev_run(cfg, raw["fast_dev_run"])
    return cfg


def _apply_overfit(cfg: TrainerConfig) -> None:
    if cfg.overfit_batches and cfg.overfit_batches > 0:
        cfg.limits["train"] = cfg.overfit_batches
        cfg.limits["val"] = cfg.overfit_batches


def _apply_fast_dev_run(cfg: TrainerConfig, fdr) -> None:
    n = 1 if fdr is True else int(fdr)
    if n <= 0:
        return
    cfg.fast_dev_run = n
    cfg.limits = {stage: n for stage in cfg.limits}
    cfg.num_sanity_val_steps = 0
    cfg.max_epochs, cfg.max_epochs_settled = 1, True
    cfg.max_steps = n
    cfg.val_check_interval = 1.0
    cfg.val_check_seconds = None   # a time-based interval does not apply to a development run
    cfg.check_val_every_n_epoch = 1


def settle_max_epochs(cfg: TrainerConfig, callbacks: list) -> int:
    """The epoch limit of a fit when `max_epochs` was left unset, decided as Lightning decides it at fit
    time: 1000 (with a warning) when neither max_steps nor a Timer bounds the run, else no limit."""
    if not cfg.max_epochs_settled:
        timed = any("Timer" in {c.__name__ for c in type(cb).__mro__} for cb in callbacks)
        cfg.max_epochs = 1000 if cfg.max_steps == -1 and not timed else -1
        cfg.max_epochs_settled = True
        if cfg.max_epochs == 1000:
            import warnings
            warnings.warn("`max_epochs` was not set, so fit stops after 1000 epochs; pass max_epochs=-1 to "
                          "train without an epoch limit.", UserWarning, stacklevel=4)
    return cfg.max_epochs
