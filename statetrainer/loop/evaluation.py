"""One evaluation or prediction run: sanity check, validation in fit, validate(), test(), predict().

The machine's *_start / *_batch / *_end states call `start`, `run_batch` and `end`; the guard
`has_eval_batches` asks the feed's cursor whether another batch follows.
"""
from __future__ import annotations

from typing import Any

import torch

from statetrainer.module.hook_lookup import accepts, check_dataloader_idx, implementation
from statetrainer.module.hooks import HookStubs
from statetrainer.loop.step_iter import StepIterator


__all__ = ["EvalRun", "HOOKS"]

_DATA_KIND = {"validation": "validation", "test": "test", "predict": "prediction"}

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
    """One evaluation: its hooks around the batches the feed's cursor yields, under no_grad/inference_mode.
    The metric book follows it through the hooks (see loop/bookkeeping.py); `results` is what it produced."""

    def __init__(self, session, kind: str, stage: str, cursor, inference: bool, keep_predictions: bool = False):
        self.s = session
        self.kind = kind            # "validation", "test" or "predict"
        self.stage = stage          # metric-book stage: sanity_check / validate / test / predict
        self.hooks = HOOKS[kind]
        self.cursor = cursor
        self.inference = inference
        self.keep = keep_predictions
        self.predictions: dict[int, list] = {}
        self.results: list[dict] | None = None
        self._grad_ctx = None
        self._modes = None
        # decided once per run: does a batch go through a transfer, the step under autocast, which arguments
        self._transfers = session.feed.transfers()
        self._autocast = session.precision.mixed_dtype is not None
        step = implementation(session.module, HookStubs, self.hooks["step"])
        self._takes_batch_idx = step is None or accepts(step, "batch_idx", min_args=2)
        # a step declaring `dataloader_iter` pulls its own batches (Lightning's flavour)
        self._step_iter = StepIterator(cursor) if step is not None and _names(step, "dataloader_iter") else None

    @property
    def limits(self) -> list:
        return self.cursor.limits

    @property
    def skip(self) -> bool:
        """No batches at all: no hooks, no results (as Lightning)."""
        return self.cursor.empty

    def set_results(self, results) -> None:
        self.results = results

    # ---------------------------------------------------------------- actions
    def start(self) -> None:
        if self.skip:
            return
        s = self.s
        hooks = self.hooks
        checked = (hooks["batch_start"], hooks["batch_end"]) + (() if self._step_iter else (hooks["step"],))
        check_dataloader_idx(s.module, checked, len(self.cursor.loaders) > 1, _DATA_KIND[self.kind])
        self._modes = {m: m.training for m in s.module.modules()}  # put back at the end unless a hook decides
        self._grad_ctx = torch.inference_mode() if self.inference else torch.no_grad()
        self._grad_ctx.__enter__()
        s.dispatch.call_module(self.hooks["eval"])
        s.dispatch.call(self.hooks["start"])
        s.dispatch.call(self.hooks["epoch_start"])

    def run_batch(self) -> None:
        if self._step_iter is not None:
            self._run_iter_step()
            return
        s, hooks, d = self.s, self.hooks, self.s.dispatch
        batch, batch_idx, dl_idx = self.cursor.fetch()
        if self._transfers:
            batch = s.feed.transfer(batch, dl_idx)
        args = (batch, batch_idx, dl_idx) if len(self.cursor.loaders) > 1 else (batch, batch_idx)
        d.call(hooks["batch_start"], *args)
        step_args = args if self._takes_batch_idx else (batch, *args[2:])
        if self._autocast:
            with s.precision.autocast():
                outputs = d.call_module(hooks["step"], *step_args)
        else:
            outputs = d.call_module(hooks["step"], *step_args)
        if self.keep:
            self.predictions.setdefault(dl_idx, []).append(outputs)
        s.dispatch.call(hooks["batch_end"], outputs, *args)

    def _run_iter_step(self) -> None:
        """One call of a step that pulls its own batches; the hooks get the last batch pulled (see step_iter)."""
        hooks, d, it = self.hooks, self.s.dispatch, self._step_iter
        several = len(self.cursor.loaders) > 1
        d.call(hooks["batch_start"], *(it.last if several else it.last[:2]))
        try:
            outputs = d.call_module(hooks["step"], it)
        except StopIteration:  # the step ran out of batches: the evaluation ends here (as Lightning)
            return
        if self.keep:
            self.predictions.setdefault(it.last[2], []).append(outputs)
        d.call(hooks["batch_end"], outputs, *(it.last if several else it.last[:2]))

    def end(self) -> None:
        if self.skip:
            self.results = []
            return
        s = self.s
        s.dispatch.call(self.hooks["epoch_end"])     # the metric book's listener sets `results`
        s.position.eval_produced()
        s.dispatch.call(self.hooks["end"])
        self._restore_modes()
        self.close()

    def _restore_modes(self) -> None:
        """Each submodule gets back the train/eval mode it had before `*_model_eval` (a frozen part stays in
        eval), unless the module overrides `on_{validation,test}_model_train`, which then decides (Lightning's
        rule); the hook's signal still goes to its receivers."""
        hook, dispatch = self.hooks["train"], self.s.dispatch
        if hook is None or not dispatch.plan(hook):
            for submodule, mode in self._modes.items():
                submodule.training = mode
        if hook is not None:
            dispatch.call(hook)

    def close(self) -> None:
        """Leave the no-grad context (also on failure)."""
        if self._grad_ctx is not None:
            ctx, self._grad_ctx = self._grad_ctx, None
            ctx.__exit__(None, None, None)

    def prediction_output(self) -> Any:
        if not self.keep:
            return None
        per_loader = [self.predictions.get(index, []) for index in range(len(self.cursor.loaders))]
        return per_loader[0] if len(per_loader) == 1 else per_loader


def _names(fn, argument: str) -> bool:
    """`fn` has a parameter called `argument` (by name: *args does not count)."""
    import inspect
    try:
        return argument in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
