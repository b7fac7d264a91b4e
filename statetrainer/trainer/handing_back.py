"""ddp_spawn / ddp_fork: what a worker's rank 0 sends back, and how the launching process takes it.

The workers train copies of the model, the trainer and the callbacks (pickled, or forked); the
launching process holds the user's objects and learns the outcome only from rank 0's `HandBack`:
the trained weights (through a temporary file), `callback_metrics` (and the logged and progress-bar
metrics), the checkpoint callbacks' states (best path, scores, last path), the position's counters,
the machine's transitions (so `trainer.state` reads `finished`), the stop reason and the call's result.
"""
from __future__ import annotations

from typing import Any, Callable

from statetrainer.strategies.launchers import HandBack

__all__ = ["run_in_worker", "adopt"]


def run_in_worker(run_here: Callable, trainer, fn: str, model, datamodule, ckpt_path, options: dict) -> Any:
    """One spawned rank: run the call; rank 0 packs what the launching process needs (other ranks: None)."""
    results = run_here(trainer, fn, model, datamodule, ckpt_path, options)
    if trainer.global_rank != 0:
        return None
    metrics = trainer._metrics
    records = list(trainer.state.history)
    entry = max((i for i, record in enumerate(records) if record.trigger == fn), default=0)  # this call's start
    outcome = {"results": results, "counters": trainer._position.counters(), "fn": fn,
               "history": [tuple(record) for record in records[entry:]],
               "stop_reason": trainer.state.stop_reason, "interrupted": trainer.interrupted,
               "logged": dict(metrics.logged_metrics), "pbar": dict(metrics.progress_bar_metrics),
               "checkpoints": [callback.state_dict() for callback in trainer.checkpoint_callbacks]}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback is not None else None
    return HandBack.collect(model if fn == "fit" else None, metrics.callback_metrics, best or None, outcome)


def adopt(trainer, model, back: HandBack | None) -> Any:
    """In the launching process: the user's model, trainer and checkpoint callbacks take rank 0's outcome."""
    if back is None:
        return None
    back.restore_weights(model)
    outcome = back.result
    trainer._metrics.adopt(back.callback_metrics, outcome["logged"], outcome["pbar"])
    for callback, state in zip(trainer.checkpoint_callbacks, outcome["checkpoints"]):
        if getattr(callback, "dirpath", None) is None:
            callback.dirpath = state.get("dirpath")  # resolved in the worker; the scores belong to that folder
        callback.load_state_dict(state)
    trainer._position.set_counters(outcome["counters"])
    trainer._machine.adopt(outcome["history"])
    trainer.state.stop_reason = outcome["stop_reason"]
    trainer._interrupted = outcome["interrupted"]
    return outcome["results"]
