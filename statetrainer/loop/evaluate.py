"""The validate()/test() and predict() states' actions."""
from __future__ import annotations

from statetrainer.loop.evaluation import EvalRun

__all__ = ["ACTIONS"]

_KIND = {"validate": ("validation", "val"), "test": ("test", "test"), "predict": ("predict", "predict")}


def _start(s) -> str:
    kind, source = _KIND[s.fn]
    loaders, limits = s.feed.evaluation(source)
    cursor = s.feed.begin_eval(loaders, limits, in_fit=False, kind=kind)
    s.run.evaluation = EvalRun(s, kind, s.fn, cursor, inference=s.config.inference_mode,
                               keep_predictions=s.fn == "predict" and s.run.return_predictions)
    s.ctx.eval_has_next = cursor.has_next
    s.run.evaluation.start()
    return "started"


def _batch(s) -> str:
    s.run.evaluation.run_batch()
    return "batch_done"


def _end(s) -> str:
    evaluation = s.run.evaluation
    evaluation.end()
    s.run.results = evaluation.prediction_output() if s.fn == "predict" else evaluation.results
    return "ended"


ACTIONS = {"eval_start": _start, "eval_batch": _batch, "eval_end": _end,
           "predict_start": _start, "predict_batch": _batch, "predict_end": _end}
