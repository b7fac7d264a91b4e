"""A module whose logging is data, and the recorders, shared by every differential metric test.

A `Scenario` lists `LogCall`s (hook, name, value formula, options) and the callback hooks at
which the three metric dictionaries are recorded. The same scenario runs
- through a real Lightning Trainer (lightning_run.py),
- through the MetricBook alone, driven by a replay of Lightning's loop order (replay.py),
- through statetrainer's Trainer (statetrainer_run.py),
and each produces a *trace*: the recorded dictionaries, every `log_metrics` call the logger got
(step, metrics) and the validate/test results, in order. Tests compare traces for equality.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader, TensorDataset

# Hooks a Callback can implement that the recorder may snapshot in.
CALLBACK_HOOKS = (
    "on_sanity_check_start", "on_sanity_check_end", "on_train_start", "on_train_end",
    "on_train_epoch_start", "on_train_epoch_end", "on_train_batch_start", "on_train_batch_end",
    "on_validation_start", "on_validation_end", "on_validation_epoch_start", "on_validation_epoch_end",
    "on_validation_batch_start", "on_validation_batch_end", "on_test_start", "on_test_end",
    "on_test_epoch_start", "on_test_epoch_end", "on_test_batch_start", "on_test_batch_end",
)


@dataclass
class Ctx:
    """Where a hook runs: what value formulas see."""

    epoch: int = 0
    batch: int = 0
    dl: int = 0


@dataclass
class LogCall:
    hook: str
    name: str
    value: Callable[[Ctx], Any] | float
    options: dict = field(default_factory=dict)
    as_dict: bool = False      # use log_dict({name: value}) instead of log
    from_callback: bool = False    # the recording Callback logs it (pl_module.log), before the module's hook

    def evaluate(self, ctx: Ctx, module: Any) -> Any:
        if isinstance(self.value, str):          # the name of a metric attribute of the module
            metric = getattr(module, self.value)
            metric(torch.tensor(float(1 + ctx.batch + 10 * ctx.epoch)))
            return metric
        return self.value(ctx) if callable(self.value) else self.value


@dataclass
class Scenario:
    name: str
    logs: list[LogCall]
    snapshots: tuple[str, ...] = ()
    runs: tuple[str, ...] = ("fit",)            # fit / validate / test, in order, on one trainer
    train: tuple[int, int] = (10, 4)             # dataset size, batch size
    val: tuple[tuple[int, int], ...] = ((6, 4),)
    test: tuple[tuple[int, int], ...] = ((6, 4),)
    trainer: dict = field(default_factory=dict)
    metric_attributes: tuple[str, ...] = ()      # torchmetrics.SumMetric attributes of the module
    stop_at: tuple[int, int] | None = None       # (epoch, batch): on_train_batch_end sets should_stop
    manual: bool = False                         # manual optimization: two optimizers, stepped on even batches

    def trainer_kwargs(self) -> dict:
        kwargs = dict(max_epochs=2, log_every_n_steps=1, num_sanity_val_steps=2)
        kwargs.update(self.trainer)
        return kwargs


def loader(n: int, batch_size: int, seed: int) -> DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(n, 3, generator=gen), torch.randn(n, 1, generator=gen)),
                      batch_size=batch_size, shuffle=False)


def loaders(sizes: tuple[tuple[int, int], ...], seed: int) -> list[DataLoader] | DataLoader:
    made = [loader(n, bs, seed + i) for i, (n, bs) in enumerate(sizes)]
    return made[0] if len(made) == 1 else made


def plain(value: Any) -> Any:
    """A comparable, printable form that keeps the type (tensor dtype / float / int)."""
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype).replace("torch.", ""), round(value.item(), 5))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", round(value, 5))
    return (type(value).__name__, repr(value))


def plain_dict(metrics: dict) -> dict:
    return {name: plain(value) for name, value in sorted(metrics.items())}


def snapshot(source: Any) -> dict:
    """The three dictionaries of a trainer or a MetricBook, read in a fixed order."""
    return {"callback": plain_dict(source.callback_metrics), "logged": plain_dict(source.logged_metrics),
            "pbar": plain_dict(source.progress_bar_metrics)}


def run_logs(module: Any, hook: str, calls: list[LogCall], ctx: Ctx, from_callback: bool = False) -> None:
    for call in calls:
        if call.hook != hook or call.from_callback != from_callback:
            continue
        value = call.evaluate(ctx, module)
        if call.as_dict:
            module.log_dict({call.name: value}, **call.options)
        else:
            module.log(call.name, value, **call.options)
