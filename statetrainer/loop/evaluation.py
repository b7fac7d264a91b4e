"""One evaluation or prediction run: sanity check, validation in fit, validate(), test(), predict().

The machine's *_start / *_batch / *_end states call `start`, `run_batch` and `end`; the guard
`has_eval_batches` calls `has_next`.
"""
from __future__ import annotations

from typing import Any

import torch

from statetrainer.loop.data import Fetcher
from statetrainer.profilers import actions

__all__ = ["EvalRun", "HOOKS"]

# stage -> hook names
HOOKS = {
    "validation": dict(eval="on_validation_model_eval", train="on_validation_model_train",
                       start="on_validation_start", epoch_start="on_validation_epoch_start",
                       batch_start="on_validation_batch_start", step="validation_step",
                       batch_end="on_validation_batch_end", epoch_end="on_validation_epoch_end",
                       end="on_validation_end"),
    "test": dict(eval="on_test_model_eval", train="on_test_model_train", start="on_test_start",
                 epoch_start="on_test_epoch_start", batch_start="on_test_batch_start", step="test_step",
                 batch_end="on_test_batch_end", epoch_end="on_test_epoch_end", end="on_test_end"),
    "predict": dict(eval="on_predict_model_eval", train=None, start="on_predict_start",
                    epoch_start="on_predict_epoch_start", batch_start="on_predict_batch_start",
                    step="predict_step", batch_end="on_predict_batch_end", epoch_end="on_predict_epoch_end",
                    end="on_predict_end"),
}


class EvalRun:
    """Iterates several dataloaders in sequence, one batch per call, under no_grad/inference_mode."""

    def __init__(self, session, kind: str, stage: str, loaders: list, limits: list, inference: bool,
                 keep_predictions: bool = False):
        self.s = session
        self.kind = kind            # "validation", "test" or "predict"
        self.stage = stage          # metric-book stage: sanity_check / validate / test / predict
        self.hooks = HOOKS[kind]
        self.loaders = loaders
        self.limits = limits
        self.inference = inference
        self.keep = keep_predictions
        self.predictions: list[list] = [[] for _ in loaders]
        self.dl_idx = 0
        self.batch_idx = -1
        self._fetcher: Fetcher | None = None
        self._grad_ctx = None
        self._fetch = actions.timed(session.dispatch.profiler, actions.FETCH_EVAL[kind], Fetcher.fetch)
        self.results: list[dict] | None = None
        self.skip = sum(limits) == 0  # no batches at all: no hooks, no results (as Lightning)

    # ---------------------------------------------------------------- guards
    def has_next(self) -> bool:
        while self.dl_idx < len(self.loaders):
            if self._fetcher is None:
                self._fetcher = Fetcher(self.loaders[self.dl_idx], self.limits[self.dl_idx])
                self.batch_idx = -1
            if self._fetcher.has_next():
                return True
            self._fetcher = None
            self.dl_idx += 1
        return False

    # ---------------------------------------------------------------- actions
    def start(self) -> None:
        if self.skip:
            return
        s = self.s
        self._modes = {m: m.training for m in s.module.modules()} if self.hooks["train"] is None else None
        self._grad_ctx = torch.inference_mode() if self.inference else torch.no_grad()
        self._grad_ctx.__enter__()
        s.dispatch.call_module(self.hooks["eval"])
        s.metrics.begin_run(self.stage)
        s.dispatch.call(self.hooks["start"])
        s.dispatch.call(self.hooks["epoch_start"])

    def run_batch(self) -> None:
        s, hooks = self.s, self.hooks
        batch = self._fetch(self._fetcher)
        self.batch_idx += 1
        dl_idx, batch_idx = self.dl_idx, self.batch_idx
        batch = s.transfer(batch, dl_idx)
        multi = len(self.loaders) > 1
        args = (batch, batch_idx, dl_idx) if multi else (batch, batch_idx)
        s.metrics.begin_batch(batch, batch_idx, dl_idx, len(self.loaders))
        s.dispatch.call(hooks["batch_start"], *args)
        with s.precision.autocast():
            outputs = s.dispatch.call_module(hooks["step"], *args)
        if self.keep:
            self.predictions[dl_idx].append(outputs)
        s.dispatch.call(hooks["batch_end"], outputs, *args)
        s.metrics.end_batch(self.stage, s.progress.global_step, s.progress.epoch, not self._fetcher.has_next())

    def end(self) -> None:
        if self.skip:
            self.results = []
            return
        s = self.s
        s.metrics.epoch_end_reached(self.stage)
        s.dispatch.call(self.hooks["epoch_end"])
        self.results = s.metrics.end_epoch(self.stage, s.progress.global_step, s.progress.epoch)
        s.dispatch.call(self.hooks["end"])
        if self.hooks["train"] is not None:
            s.dispatch.call_module(self.hooks["train"])
        else:  # predict has no *_model_train hook: the modules get their modes back (as Lightning)
            for submodule, mode in self._modes.items():
                submodule.training = mode
        s.metrics.end_run(self.stage)
        self.close()

    def close(self) -> None:
        """Leave the no-grad context (also on failure)."""
        if self._grad_ctx is not None:
            ctx, self._grad_ctx = self._grad_ctx, None
            ctx.__exit__(None, None, None)

    def prediction_output(self) -> Any:
        if not self.keep:
            return None
        return self.predictions[0] if len(self.predictions) == 1 else self.predictions
