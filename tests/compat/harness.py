"""Library-agnostic recording harness for the differential hook-order tests.

The same tiny regression model runs under ``lightning.pytorch`` and under
``statetrainer``. Every module hook and every Callback hook appends one line to a
shared trace, e.g. ``"Module.training_step(batch_idx=1)[grad=True,inf=False,train=True]"``.
Scenario-specific behaviour (logging, manual optimisation, early exits, ...) lives in a
``Behaviour`` object (see scenarios.py); the recording classes only record and delegate.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, TensorDataset

from . import serialise

# Hooks whose trace line carries the grad/inference/train-mode suffix.
STATE_HOOKS = frozenset(
    {
        "training_step", "validation_step", "test_step", "predict_step",
        "on_train_start", "on_train_end", "on_validation_start", "on_validation_end",
        "on_test_start", "on_test_end", "on_predict_start", "on_predict_end",
        "on_train_epoch_start", "on_train_epoch_end",
        "on_validation_epoch_start", "on_validation_epoch_end",
        "on_test_epoch_start", "on_test_epoch_end",
        "on_predict_epoch_start", "on_predict_epoch_end",
        "on_validation_model_eval", "on_validation_model_train", "on_validation_model_zero_grad",
        "on_test_model_eval", "on_test_model_train", "on_predict_model_eval",
        "optimizer_step", "backward", "on_before_backward",
    }
)


@dataclass
class Library:
    """The public names the harness needs, resolved from one library namespace."""

    name: str
    Trainer: type
    Callback: type
    Module: type
    DataModule: type
    seed_everything: object
    callbacks: object
    loggers: object


def _first_attr(namespace, *names):
    for name in names:
        if hasattr(namespace, name):
            return getattr(namespace, name)
    raise AttributeError(f"{namespace.__name__} has none of {names}; the harness needs one of them")


def resolve(namespace) -> Library:
    """Pick the classes out of ``lightning.pytorch`` or ``statetrainer``."""
    return Library(
        name=namespace.__name__,
        Trainer=_first_attr(namespace, "Trainer"),
        Callback=_first_attr(namespace, "Callback"),
        Module=_first_attr(namespace, "StateModule", "LightningModule"),
        DataModule=_first_attr(namespace, "DataModule", "LightningDataModule"),
        seed_everything=_first_attr(namespace, "seed_everything"),
        callbacks=importlib.import_module(f"{namespace.__name__}.callbacks"),
        loggers=importlib.import_module(f"{namespace.__name__}.loggers"),
    )


def make_dataset(n: int, seed: int) -> TensorDataset:
    """A deterministic regression set: y = x @ W + 0.1 * noise (4 features, 2 targets)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    w = torch.randn(4, 2, generator=gen)
    y = x @ w + 0.1 * torch.randn(n, 2, generator=gen)
    return TensorDataset(x, y)


def make_loader(n: int, seed: int, batch_size: int = 2) -> DataLoader:
    return DataLoader(make_dataset(n, seed), batch_size=batch_size, shuffle=False)


def grad_state(module: torch.nn.Module) -> str:
    return (
        f"[grad={torch.is_grad_enabled()},inf={torch.is_inference_mode_enabled()},"
        f"train={module.training}]"
    )


def fmt_stage(stage) -> str:
    """Enum members (stages, clip algorithms) by value; anything else by str()."""
    return str(getattr(stage, "value", stage))


def describe_outputs(outputs) -> str:
    """Name the kind of a step output without its numbers."""
    if outputs is None:
        return "None"
    if isinstance(outputs, torch.Tensor):
        return "tensor"
    if isinstance(outputs, dict):
        return "dict(" + ",".join(sorted(outputs)) + ")"
    if isinstance(outputs, (list, tuple)):
        return f"{type(outputs).__name__}[{len(outputs)}]"
    return type(outputs).__name__


def format_call(owner: str, hook: str, ids: dict) -> str:
    args = ",".join(f"{k}={v}" for k, v in ids.items())
    return f"{owner}.{hook}({args})"


def unwrap_optimizer(opt):
    """LightningOptimizer-style wrappers keep the real optimizer in ``.optimizer``/``._optimizer``."""
    for attr in ("_optimizer", "optimizer"):
        inner = getattr(opt, attr, None)
        if isinstance(inner, torch.optim.Optimizer):
            return inner
    return opt


def optimizer_index(module, optimizer) -> int | str:
    raw = unwrap_optimizer(optimizer)
    for i, opt in enumerate(getattr(module, "created_optimizers", [])):
        if opt is raw:
            return i
    return "?"


def scheduler_index(module, scheduler) -> int | str:
    for i, sched in enumerate(getattr(module, "created_schedulers", [])):
        if sched is scheduler:
            return i
    return "?"


class Recorder:
    """Holds the shared trace list."""

    def __init__(self):
        self.trace: list[str] = []

    def add(self, line: str) -> None:
        self.trace.append(line)


def build_module_class(lib: Library):
    """The recording module class, subclassing the library's module base."""
    from . import recording_module

    return recording_module.make_module_class(lib.Module)


def build_callback_class(lib: Library):
    from . import recording_callback

    return recording_callback.make_callback_class(lib.Callback)


def lib_namespace(name: str):
    """Import ``lightning.pytorch`` or ``statetrainer`` by short name."""
    if name == "lightning":
        import lightning.pytorch as namespace
    elif name == "statetrainer":
        import statetrainer as namespace
    else:
        raise ValueError(f"library {name!r} is not one of 'lightning', 'statetrainer'")
    return namespace


BASE_TRAINER_KWARGS = {
    "accelerator": "cpu",
    "devices": 1,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}
SEED = 1234


@dataclass
class RunContext:
    """What a scenario's factories may use to build flags, callbacks and call arguments."""

    lib: Library
    root_dir: str
    recorder: Recorder
    behaviour: object
    logger_calls: list

    def recording_logger(self):
        from .recording_logger import make_logger_class

        return make_logger_class(self.lib.loggers.Logger)(self.logger_calls)

    def recording_datamodule(self, **sizes):
        from .recording_datamodule import make_datamodule_class

        return make_datamodule_class(self.lib.DataModule)(self.recorder, **sizes)


def run_scenario(lib_name: str, scenario, root_dir: str) -> dict:
    """Run one scenario under one library and return its serialisable outcome."""
    import warnings

    lib = resolve(lib_namespace(lib_name))
    ctx = RunContext(lib, root_dir, Recorder(), scenario.behaviour(), [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib.seed_everything(SEED)
        module = build_module_class(lib)(ctx.recorder, ctx.behaviour)
        callbacks = [build_callback_class(lib)(ctx.recorder, ctx.behaviour)] + scenario.extra_callbacks(ctx)
        kwargs = {**BASE_TRAINER_KWARGS, **scenario.trainer_kwargs(ctx)}
        kwargs.update(callbacks=callbacks, default_root_dir=root_dir)
        call_kwargs = scenario.call_kwargs(ctx)
        trainer = lib.Trainer(**kwargs)
        error, result = None, None
        try:
            result = getattr(trainer, scenario.method)(module, **call_kwargs)
        except Exception as exc:  # the scenario may expect one; recorded, compared
            error = f"{type(exc).__name__}: {exc}"
    outcome = collect(trainer, module, ctx.recorder, result, error)
    if scenario.records_logger:
        outcome["logger_calls"] = serialise.round_floats(ctx.logger_calls)
    if scenario.report is not None:
        outcome["extra"] = serialise.round_floats(serialise.to_plain(scenario.report(ctx, trainer)))
    return outcome


def collect(trainer, module, recorder, result, error) -> dict:
    out = {
        "trace": list(recorder.trace),
        "global_step": int(trainer.global_step),
        "current_epoch": int(trainer.current_epoch),
        "state": {
            "fn": serialise.enum_value(trainer.state.fn),
            "status": serialise.enum_value(trainer.state.status),
            "stage": serialise.enum_value(trainer.state.stage),
        },
        "should_stop": bool(trainer.should_stop),
        "module_training": bool(module.training),
        "callback_metrics": serialise.metrics(trainer.callback_metrics),
        "logged_metrics": serialise.metrics(trainer.logged_metrics),
        "progress_bar_metrics": serialise.metrics(trainer.progress_bar_metrics),
        "results": serialise.to_plain(result),
        "weights": serialise.weights(module),
        "lrs": [[g["lr"] for g in opt.param_groups] for opt in module.created_optimizers],
        "error": error,
    }
    return serialise.round_floats(out)


__all__ = [
    "BASE_TRAINER_KWARGS", "Library", "Recorder", "RunContext", "collect", "run_scenario", "STATE_HOOKS", "build_callback_class", "build_module_class",
    "describe_outputs", "fmt_stage", "format_call", "grad_state", "lib_namespace",
    "make_dataset", "make_loader", "optimizer_index", "resolve", "scheduler_index",
]
