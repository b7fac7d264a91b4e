"""The validate()/test() and predict() states' actions."""
from __future__ import annotations

from statetrainer.loop.data import count_batches
from statetrainer.loop.evaluation import EvalRun

__all__ = ["ACTIONS"]

_KIND = {"validate": ("validation", "val", "limit_val_batches"), "test": ("test", "test", "limit_test_batches"),
         "predict": ("predict", "predict", "limit_predict_batches")}


def _start(s) -> str:
    kind, source, flag = _KIND[s.fn]
    loaders = s.sources.load(source)
    limits = [count_batches(dl, s.config.limits[source], flag) for dl in loaders]
    s.eval_loaders = loaders
    s.eval_run = EvalRun(s, kind, s.fn, loaders, limits, inference=s.config.inference_mode,
                         keep_predictions=s.fn == "predict" and s.return_predictions)
    s.ctx.eval_has_next = s.eval_run.has_next
    s.eval_run.start()
    return "started"


def _batch(s) -> str:
    s.eval_run.run_batch()
    return "batch_done"


def _end(s) -> str:
    s.eval_run.end()
    if s.fn == "predict":
        s.results = s.eval_run.prediction_output()
    else:
        s.results = s.eval_run.results
    return "ended"


ACTIONS = {"eval_start": _start, "eval_batch": _batch, "eval_end": _end,
           "predict_start": _start, "predict_batch": _batch, "predict_end": _end}
