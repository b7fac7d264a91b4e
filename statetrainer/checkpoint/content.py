"""What a checkpoint holds, and putting it back. Each part of a run saves and restores its own state;
this module only assembles them and calls the checkpoint hooks through the run's dispatcher.

The dict (Lightning's keys where Lightning has one):

    epoch, global_step, statetrainer_version, state_dict,
    loops: {"format": 2, "state": machine state, "position": .., "feed": .., "metrics": ..,
            "ranks": [{"rng", "rng_epoch_start", "feed"} per global rank] with several processes},
    callbacks {state_key: state}, optimizer_states [..], lr_schedulers [..], grad_scaler {..},
    hyper_parameters + hparams_name, datamodule_hyper_parameters + datamodule_hparams_name,
    <DataModule class qualname>: its state_dict(), plus whatever on_save_checkpoint adds.

``weights_only=True`` leaves out callbacks, optimizers, schedulers and the scaler (as Lightning).
Hook order on save: callbacks' state_dict, callbacks' on_save_checkpoint (not weights-only), the
module's, the datamodule's. On restore: datamodule state, module on_load_checkpoint, module weights,
callbacks' on_load_checkpoint, the datamodule's, callbacks' load_state_dict; for fit, after
on_fit_start: the scaler, the loops (position, feed, metric book), the optimizers and schedulers.
"""
from __future__ import annotations

import copy
import os
import warnings
from typing import Any

from statetrainer.checkpoint.weights import load_weights
from statetrainer.errors import CheckpointError
from statetrainer.machine.guards import is_global_zero

__all__ = ["save", "dump", "restore_modules_and_callbacks", "restore_training_state", "check_resumable",
           "VERSION_KEY", "LOOPS_FORMAT"]

VERSION_KEY = "statetrainer_version"
LOOPS_FORMAT = 2
_SCALER_KEYS = ("grad_scaler", "MixedPrecision", "native_amp_scaling_state")  # ours, then Lightning's


def save(s, checkpoint_io, path: str | os.PathLike, weights_only: bool = False) -> None:
    """``trainer.save_checkpoint``: every rank builds the dict (hooks run everywhere; every rank's random and
    data-source state is gathered), global rank 0 writes it, then the ranks meet (no rank reads or
    writes past a save that is not complete)."""
    checkpoint = dump(s, weights_only)
    if is_global_zero(s.ctx):
        checkpoint_io.save_checkpoint(checkpoint, path)
        s.run.written.append(os.fspath(path))
    s.strategy.barrier("checkpoint saved")


def dump(s, weights_only: bool = False) -> dict[str, Any]:
    """The checkpoint dict for the run's current state (see the module docstring)."""
    from statetrainer.version import __version__
    p = s.position
    checkpoint: dict[str, Any] = {"epoch": p.epoch, "global_step": p.global_step, VERSION_KEY: __version__,
                                  "state_dict": s.module.state_dict(), "loops": _loops(s)}
    if not weights_only:
        checkpoint["callbacks"] = _callback_states(s.callbacks)
        checkpoint.update(s.optim.state_dict())
        scaler_state = s.precision.state_dict()
        if scaler_state:
            checkpoint["grad_scaler"] = scaler_state
    _add_hparams(checkpoint, s.module, s.datamodule)
    if s.datamodule is not None:
        state = s.datamodule.state_dict()
        if state:
            checkpoint[type(s.datamodule).__qualname__] = state
    groups = ("callbacks", "module", "datamodule") if not weights_only else ("module", "datamodule")
    s.dispatch.call("on_save_checkpoint", checkpoint, part=groups)
    return checkpoint


def _loops(s) -> dict[str, Any]:
    loops = {"format": LOOPS_FORMAT, "state": s.state.current, "position": s.position.state_dict(),
             "feed": s.feed.state_dict(), "metrics": s.metrics.state_dict()}
    if s.strategy.world_size > 1:  # each rank's random and data-source state, for an exact resume of every rank
        from statetrainer.strategies.collectives import gather_objects
        position = loops["position"]
        loops["ranks"] = gather_objects({"rng": position["rng"], "rng_epoch_start": position["rng_epoch_start"],
                                         "feed": loops["feed"]})
    return loops


def _this_rank(s, loops: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(position, feed) state for this rank: its own random and data-source state when the checkpoint holds
    every rank's (written by a run with as many processes), else rank 0's."""
    position, feed = loops.get("position", {}), loops.get("feed", {})
    ranks = loops.get("ranks")
    if ranks and len(ranks) == s.strategy.world_size and s.strategy.global_rank < len(ranks):
        mine = ranks[s.strategy.global_rank]
        position = {**position, "rng": mine["rng"], "rng_epoch_start": mine["rng_epoch_start"]}
        feed = mine["feed"]
    return position, feed


def check_resumable(checkpoint: dict[str, Any], source: str) -> None:
    """fit can continue a statetrainer or Lightning 2.x checkpoint with loop progress and optimizer states."""
    from statetrainer.checkpoint.lightning_format import is_lightning_checkpoint
    lightning = is_lightning_checkpoint(checkpoint) and isinstance(checkpoint.get("loops"), dict)
    if not lightning and (VERSION_KEY not in checkpoint or not isinstance(checkpoint.get("loops"), dict)):
        raise CheckpointError(
            f"checkpoint {source!r} was not written by statetrainer (no {VERSION_KEY!r} and loop progress), so fit "
            "cannot continue it at the exact next batch; load its weights with load_from_checkpoint, or use it "
            "with validate/test/predict(ckpt_path=...).")
    if "optimizer_states" not in checkpoint:
        raise CheckpointError(
            f"checkpoint {source!r} holds only the model weights (save_weights_only=True), so fit cannot resume "
            "the optimizers from it; resume from a full checkpoint, or load the weights with load_from_checkpoint.")


def restore_modules_and_callbacks(s, checkpoint: dict[str, Any], source: str = "") -> None:
    """DataModule state, module on_load_checkpoint + weights, callbacks (Lightning: before configure_optimizers)."""
    module, datamodule = s.module, s.datamodule
    if datamodule is not None and type(datamodule).__qualname__ in checkpoint:
        datamodule.load_state_dict(checkpoint[type(datamodule).__qualname__])
    s.dispatch.call("on_load_checkpoint", checkpoint, part=("module",))
    load_weights(module, checkpoint["state_dict"], strict=getattr(module, "strict_loading", None) is not False,
                 source=source)
    s.dispatch.call("on_load_checkpoint", checkpoint, part=("callbacks", "datamodule"))
    _load_callback_states(s.callbacks, checkpoint.get("callbacks") or {})


def restore_training_state(s, checkpoint: dict[str, Any], source: str = "") -> None:
    """Fit only: scaler, the loops (position, feed, metric book), optimizers, schedulers."""
    state = next((checkpoint[key] for key in _SCALER_KEYS if key in checkpoint), None)
    if state:
        s.precision.load_state_dict(state)
    loops = checkpoint["loops"]
    if VERSION_KEY not in checkpoint:
        loops = _from_lightning(checkpoint)
    elif loops.get("format") != LOOPS_FORMAT:
        loops = _from_format_1(loops)
    position, feed = _this_rank(s, loops)
    s.position.load_state_dict(position)
    s.feed.load_state_dict(feed)
    s.metrics.load_state_dict(loops.get("metrics", {}))
    s.optim.load_state_dict(checkpoint, source)


def _from_format_1(loops: dict[str, Any]) -> dict[str, Any]:
    """Checkpoints of statetrainer 0.1 before the position owner: counters only, resumed at their epoch's
    start when they were taken mid-epoch (their data state was not recorded)."""
    progress = dict(loops.get("progress", {}))
    mid = loops.get("state") in ("train_batch", "val_start", "val_batch", "val_end")
    counters = {key: progress[key] for key in ("epoch", "epochs_processed", "global_step", "total_batch_idx")
                if key in progress}
    counters["phase"] = "between_epochs"
    if not mid:
        counters["epoch"] = max(progress.get("epoch", 0), progress.get("epochs_processed", 0))
    return {"position": {"counters": counters, "rng": loops.get("rng")}, "metrics": loops.get("metrics", {})}


def _from_lightning(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """A Lightning 2.x file: its fit-loop counters as a position. Lightning saves no random state and no
    data-source state, so an epoch it left half-way is replayed from the loader as it is now."""
    from statetrainer.checkpoint.lightning_format import position_from_lightning
    where = position_from_lightning(checkpoint)
    epoch, done = where["epoch"], where["batches_in_epoch"]
    counters = {"epoch": epoch, "epochs_processed": epoch + 1 if where["epoch_finished"] else epoch,
                "global_step": where["global_step"], "batches_seen": done, "batch_idx": done - 1,
                "total_batch_idx": -1}
    if where["epoch_finished"]:
        counters["phase"] = "epoch_ending"
    elif done == 0:
        counters["phase"] = "in_epoch" if _lightning_epoch_started(checkpoint) else "between_epochs"
    else:
        counters["phase"] = "validated" if where["batch_decided"] else "batch_done"
        counters["close_pending"] = counters["batch_stepped"] = not where["batch_decided"]
    return {"position": {"counters": counters, "exact": False}}


def _lightning_epoch_started(checkpoint: dict[str, Any]) -> bool:
    current = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]
    return current["started"] > current["processed"]


# ---------------------------------------------------------------- parts


def _callback_states(callbacks: list) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for callback in callbacks:
        state = callback.state_dict()
        if not state:
            continue
        key = callback.state_key
        if key in states:
            raise CheckpointError(
                f"two callbacks have the state_key {key!r}, so their states would overwrite each other in the "
                "checkpoint; give them different arguments (or a state_key property) to tell them apart.")
        states[key] = state
    return states


def _load_callback_states(callbacks: list, states: dict[str, Any]) -> None:
    known = {callback.state_key for callback in callbacks}
    absent = sorted(key for key in states if key not in known)
    if absent:
        warnings.warn(f"the checkpoint holds the state of callbacks this Trainer does not have: {absent}; "
                      "add them to `callbacks` to restore their state.", UserWarning)
    for callback in callbacks:
        state = states.get(callback.state_key)
        if state:
            callback.load_state_dict(copy.deepcopy(state))


def _add_hparams(checkpoint: dict[str, Any], module, datamodule) -> None:
    from statetrainer.module.hparams import HPARAMS_KEYS, hparams_for_checkpoint
    for kind, obj in (("module", module), ("datamodule", datamodule)):
        stored = hparams_for_checkpoint(obj) if obj is not None else None
        if stored:
            key, name_key = HPARAMS_KEYS[kind]
            checkpoint[key], name = stored
            if name is not None:
                checkpoint[name_key] = name
