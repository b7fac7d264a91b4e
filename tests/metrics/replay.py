"""Drive a MetricBook alone through Lightning's loop order for a Scenario (no Trainer).

This is the call sequence the statetrainer loops must produce (docs/internals.md, "The metric
book"): begin_run / begin_batch / end_batch / epoch_end_reached / end_epoch / end_run around
the hooks, with callback hooks (the recorder) before module hooks (the logging), as Lightning.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

from statetrainer.metrics import MetricBook

from .library_run import snapshot_label
from .scripted import Ctx, Scenario, loaders, plain_dict, run_logs, snapshot

_SUPPORTED = {"max_epochs", "log_every_n_steps", "num_sanity_val_steps", "val_check_interval",
              "check_val_every_n_epoch", "limit_val_batches", "limit_train_batches", "accumulate_grad_batches"}


class _Logger:
    def __init__(self, trace: list):
        self.trace = trace

    def log_metrics(self, metrics, step):
        self.trace.append(("log_metrics", step, plain_dict(metrics)))

    def save(self):
        pass


class _FakeModule:
    """Just enough of a module for the scripted logs: `log`, `log_dict`, metric attributes."""

    def __init__(self, book: MetricBook, scenario: Scenario):
        self.book, self.fx = book, None
        for name in scenario.metric_attributes:
            import torchmetrics
            setattr(self, name, torchmetrics.SumMetric())

    def log(self, name, value, **options):
        self.book.log(self.fx, name, value, **options)

    def log_dict(self, dictionary, **options):
        self.book.log_dict(self.fx, dictionary, **options)


class Replay:
    def __init__(self, scenario: Scenario):
        kwargs = scenario.trainer_kwargs()
        unknown = set(kwargs) - _SUPPORTED
        assert not unknown, f"replay does not model {unknown}"
        self.scenario, self.kwargs = scenario, kwargs
        self.trace: list = []
        self.stop = False
        self.book = MetricBook(kwargs["log_every_n_steps"], lambda: [self.logger], should_stop=lambda: self.stop)
        self.logger = _Logger(self.trace)
        self.module = _FakeModule(self.book, scenario)
        self.epoch = 0
        self.global_step = 0

    # -- hooks: the recorder (callback) first, then the module's logs
    def hook(self, name: str, *args: int, batch: int = 0, dl: int = 0) -> None:
        if name in self.scenario.snapshots:
            self.trace.append(("snap", *snapshot_label(name, self.epoch, args), snapshot(self.book)))
        self.module.fx = name
        run_logs(self.module, name, self.scenario.logs, Ctx(self.epoch, *args[:2]), from_callback=True)
        run_logs(self.module, name, self.scenario.logs, Ctx(self.epoch, batch, dl))
        self.module.fx = None

    def run(self) -> list:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fn in self.scenario.runs:
                getattr(self, f"_{fn}")()
                self.trace.append(("final", fn, snapshot(self.book)))
        return self.trace

    # -- fit
    def _fit(self) -> None:
        self.hook("configure_optimizers")
        self.hook("on_fit_start")
        if self.kwargs["num_sanity_val_steps"]:
            self.book.begin_run("sanity_check")
            self.hook("on_sanity_check_start")
            self._evaluation("validation", self.scenario.val, 100, limit=self.kwargs["num_sanity_val_steps"])
            self.hook("on_sanity_check_end")
            self.book.end_run("sanity_check")
        self.book.begin_run("train")
        self.hook("on_train_start")
        for epoch in range(self.kwargs["max_epochs"]):
            self.epoch = epoch
            self._train_epoch()
            if self.stop:
                break
        self.epoch += 1
        self.hook("on_train_end")
        self.book.end_run("train")

    def _train_epoch(self) -> None:
        self.hook("on_train_epoch_start")
        batches = list(loaders((self.scenario.train,), 0))[: self.kwargs.get("limit_train_batches")]
        for batch_idx, batch in enumerate(batches):
            self._train_batch(batch, batch_idx, is_last=batch_idx == len(batches) - 1)
            if self._validate_now(batch_idx, len(batches)):
                self._evaluation("validation", self.scenario.val, 100, limit=self.kwargs.get("limit_val_batches"))
            if self.stop:
                break
        self.book.epoch_end_reached("train")
        self.hook("on_train_epoch_end")
        self.book.end_epoch("train", self.global_step, self.epoch)

    def _train_batch(self, batch: Any, batch_idx: int, is_last: bool) -> None:
        accumulate = self.kwargs.get("accumulate_grad_batches", 1)
        steps = (batch_idx + 1) % accumulate == 0 or is_last or self.scenario.manual
        self.book.begin_batch(batch, batch_idx)
        self.hook("on_train_batch_start", batch_idx, batch=batch_idx)
        self.hook("training_step", batch=batch_idx)
        self.hook("on_before_backward", batch=batch_idx)
        self.hook("on_after_backward", batch=batch_idx)
        if self.scenario.manual:
            self.global_step += 2 if batch_idx % 2 == 0 else 0
        elif steps:
            self.hook("on_before_optimizer_step", batch=batch_idx)
            self.global_step += 1
        self.hook("on_train_batch_end", batch_idx, batch=batch_idx)
        self.stop = self.stop or (self.epoch, batch_idx) == self.scenario.stop_at
        self.book.end_batch("train", self.global_step, self.epoch, is_last, stepped=steps)

    def _validate_now(self, batch_idx: int, num_batches: int) -> bool:
        every_epoch = self.kwargs.get("check_val_every_n_epoch", 1)
        if (self.epoch + 1) % every_epoch:
            return False
        if self.stop:
            return True
        interval = self.kwargs.get("val_check_interval", 1.0)
        check_batch = interval if isinstance(interval, int) else int(num_batches * interval)
        return (batch_idx + 1) % check_batch == 0

    # -- evaluation (validation inside fit or alone, test)
    def _evaluation(self, prefix: str, sizes, seed: int, limit: int | None = None) -> list:
        stage = "test" if prefix == "test" else "validate"
        self.book.begin_run(stage)
        self.hook(f"on_{prefix}_start")
        self.hook(f"on_{prefix}_epoch_start")
        dls = loaders(sizes, seed)
        dls = dls if isinstance(dls, list) else [dls]
        for dl_idx, dl in enumerate(dls):
            for batch_idx, batch in enumerate(list(dl)[:limit]):
                self._eval_batch(prefix, batch, batch_idx, dl_idx, len(dls))
        self.book.epoch_end_reached(stage)
        self.hook(f"on_{prefix}_epoch_end")
        results = self.book.end_epoch(stage, self.global_step, self.epoch)
        self.hook(f"on_{prefix}_end")
        self.book.end_run(stage)
        return results

    def _eval_batch(self, prefix: str, batch: Any, batch_idx: int, dl_idx: int, num_dls: int) -> None:
        args = (batch_idx, dl_idx) if num_dls > 1 else (batch_idx,)
        step = "test_step" if prefix == "test" else "validation_step"
        self.book.begin_batch(batch, batch_idx, dl_idx, num_dls)
        self.hook(f"on_{prefix}_batch_start", *args, batch=batch_idx, dl=dl_idx)
        self.hook(step, batch=batch_idx, dl=dl_idx)
        self.hook(f"on_{prefix}_batch_end", *args, batch=batch_idx, dl=dl_idx)
        self.book.end_batch(prefix, self.global_step, self.epoch)

    def _validate(self) -> None:
        results = self._evaluation("validation", self.scenario.val, 100, limit=self.kwargs.get("limit_val_batches"))
        self.trace.append(("results", "validate", [plain_dict(r) for r in results]))

    def _test(self) -> None:
        results = self._evaluation("test", self.scenario.test, 200)
        self.trace.append(("results", "test", [plain_dict(r) for r in results]))


def replay(scenario: Scenario) -> list:
    torch.manual_seed(0)
    return Replay(scenario).run()
