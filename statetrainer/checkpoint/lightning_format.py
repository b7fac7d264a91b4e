"""Reading where a Lightning 2.x checkpoint left the fit loop: ``position_from_lightning``.

Lightning keeps the fit loop's place as progress counters under ``checkpoint["loops"]["fit_loop"]``:
``epoch_progress`` and ``epoch_loop.batch_progress``, each with ``ready``, ``started``, ``processed``
and ``completed`` counts (``current`` for this run, the batch counts per epoch). Measured under
Lightning 2.6 by saving a checkpoint from every hook (tests/checkpoint/test_lightning_files.py):

    moment of the save                      epoch r/s/p/c    batch r/s/p/c (this epoch)
    on_train_start                          0 0 0 0          0 0 0 0
    on_train_epoch_start of epoch e         e+1 e e e        (the previous epoch's)
    on_train_batch_end of batch k           e+1 e+1 e e      k k k k-1
    on_validation_end after batch k         e+1 e+1 e e      k k k k
    on_train_epoch_end of epoch e           e+1 e+1 e+1 e    n n n n
    on_train_end / after fit                E E E E          n n n n

So an epoch has ended once ``processed`` reaches ``ready``; the batch counts belong to the epoch in
progress only once it has started; a batch whose ``completed`` lags its ``processed`` was saved from
inside ``on_train_batch_end``, before the decision to validate after it.
"""
from __future__ import annotations

from typing import Any

from statetrainer.errors import CheckpointError

__all__ = ["position_from_lightning", "is_lightning_checkpoint", "LIGHTNING_VERSION_KEY"]

LIGHTNING_VERSION_KEY = "pytorch-lightning_version"
_COUNTS = ("ready", "started", "processed", "completed")


def is_lightning_checkpoint(checkpoint: dict[str, Any]) -> bool:
    """True for a file written by Lightning (it names Lightning's version and not statetrainer's)."""
    return LIGHTNING_VERSION_KEY in checkpoint and "statetrainer_version" not in checkpoint


def position_from_lightning(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Where Lightning's fit loop was when `checkpoint` was written.

    Returns ``{"epoch": int, "global_step": int, "batches_in_epoch": int, "epoch_finished": bool,
    "batch_decided": bool}``: the epoch in progress (or the last one, when it has ended), the optimizer
    steps taken, the training batches of that epoch already run, whether the epoch has ended
    (``on_train_epoch_end`` reached), and whether the validate-or-continue decision after the last of
    those batches was taken already (False when the file was written inside ``on_train_batch_end``).
    """
    fit_loop = _part(checkpoint, ("loops", "fit_loop"))
    epochs = _counts(fit_loop, "epoch_progress")
    batches = _counts(fit_loop, "epoch_loop.batch_progress")
    finished = epochs["ready"] > 0 and epochs["processed"] >= epochs["ready"]
    epoch = epochs["processed"] - 1 if finished else epochs["processed"]
    started = finished or epochs["started"] > epochs["processed"]
    done = batches["processed"] if started else 0
    return {"epoch": epoch, "global_step": _global_step(checkpoint, fit_loop), "batches_in_epoch": done,
            "epoch_finished": finished, "batch_decided": done == 0 or batches["completed"] >= batches["processed"]}


def _part(checkpoint: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    value: Any = checkpoint
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            where = "".join(f"[{k!r}]" for k in keys[:depth + 1])
            raise CheckpointError(f"the checkpoint has no checkpoint{where} entry, so it holds no Lightning fit-loop "
                                  "progress to resume from.")
        value = value[key]
    return value


def _counts(fit_loop: dict[str, Any], key: str) -> dict[str, int]:
    progress = fit_loop.get(key)
    current = progress.get("current") if isinstance(progress, dict) else None
    if not isinstance(current, dict) or not all(type(current.get(name)) is int for name in _COUNTS):
        raise CheckpointError(f"the checkpoint's Lightning fit-loop entry {key!r} lacks the counts "
                              f"{list(_COUNTS)} under 'current'; it is not a Lightning 2.x checkpoint.")
    return {name: current[name] for name in _COUNTS}


def _global_step(checkpoint: dict[str, Any], fit_loop: dict[str, Any]) -> int:
    """The checkpoint's ``global_step``; else the optimizer steps Lightning counted (automatic + manual)."""
    if type(checkpoint.get("global_step")) is int:
        return checkpoint["global_step"]
    steps = 0
    automatic = fit_loop.get("epoch_loop.automatic_optimization.optim_progress", {})
    manual = fit_loop.get("epoch_loop.manual_optimization.optim_step_progress", {})
    for progress in (automatic.get("optimizer", {}).get("step", {}), manual):
        steps += int(progress.get("total", {}).get("completed", 0))
    return steps
