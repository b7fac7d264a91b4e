"""What a checkpoint holds, and putting it back: ``save``/``dump`` and ``restore_from_path``/``restore``.

The dict (Lightning's keys where Lightning has one):

    epoch, global_step, statetrainer_version, state_dict, loops (trainer._loop_state()),
    callbacks {state_key: state}, optimizer_states [..], lr_schedulers [..], grad_scaler {..},
    hyper_parameters + hparams_name, datamodule_hyper_parameters + datamodule_hparams_name,
    <DataModule class qualname>: its state_dict(), plus whatever on_save_checkpoint adds.

``weights_only=True`` leaves out callbacks, optimizers, schedulers and the scaler (as Lightning).
Hook order on save: callbacks' state_dict, then callbacks' on_save_checkpoint (not weights-only),
the module's, the datamodule's. On restore: datamodule state, module on_load_checkpoint, module
weights, callbacks' on_load_checkpoint then load_state_dict, and for fit the scaler, the loop
progress, the optimizers and the schedulers.
"""
from __future__ import annotations

import copy
import os
import warnings
from typing import Any

from statetrainer.callbacks.callback import Callback
from statetrainer.checkpoint.resolve import resolve_ckpt_path
from statetrainer.checkpoint.weights import load_weights
from statetrainer.errors import CheckpointError

__all__ = ["save", "dump", "restore_from_path", "load_from_path", "restore", "restore_modules_and_callbacks",
           "restore_training_state", "VERSION_KEY"]

VERSION_KEY = "statetrainer_version"
_SCALER_KEYS = ("grad_scaler", "MixedPrecision", "native_amp_scaling_state")  # ours, then Lightning's


def save(trainer, path: str | os.PathLike, weights_only: bool = False) -> None:
    """``trainer.save_checkpoint``: every rank builds the dict (hooks run everywhere), rank 0 writes it."""
    checkpoint = dump(trainer, weights_only)
    if trainer.is_global_zero:
        _checkpoint_io(trainer).save_checkpoint(checkpoint, path)
    barrier = getattr(getattr(trainer, "strategy", None), "barrier", None)
    if barrier is not None:
        barrier()


def dump(trainer, weights_only: bool = False) -> dict[str, Any]:
    """The checkpoint dict for the trainer's current state (see the module docstring)."""
    from statetrainer import __version__
    module = trainer.lightning_module
    checkpoint: dict[str, Any] = {"epoch": trainer.current_epoch, "global_step": trainer.global_step,
                                  VERSION_KEY: __version__, "state_dict": module.state_dict(),
                                  "loops": trainer._loop_state()}
    if not weights_only:
        checkpoint["callbacks"] = _callback_states(trainer.callbacks)
        checkpoint["optimizer_states"] = [optimizer.state_dict() for optimizer in trainer.optimizers]
        checkpoint["lr_schedulers"] = [config.scheduler.state_dict() for config in trainer.lr_scheduler_configs]
        scaler = _precision(trainer)
        if scaler is not None and scaler.state_dict():
            checkpoint["grad_scaler"] = scaler.state_dict()
    _add_hparams(checkpoint, module, trainer.datamodule)
    datamodule = trainer.datamodule
    if datamodule is not None:
        state = datamodule.state_dict()
        if state:
            checkpoint[type(datamodule).__qualname__] = state
    _save_hooks(trainer, checkpoint, callbacks=not weights_only)
    return checkpoint


def restore_from_path(trainer, ckpt_path: Any, fn: str, weights_only: bool | None = None) -> str | None:
    """Resolve `ckpt_path` ("best", "last" or a path), load it and restore all; returns the path used."""
    loaded = load_from_path(trainer, ckpt_path, fn, weights_only)
    if loaded is None:
        return None
    path, checkpoint = loaded
    restore(trainer, checkpoint, fn, source=path)
    return path


def load_from_path(trainer, ckpt_path: Any, fn: str, weights_only: bool | None = None) -> tuple[str, dict] | None:
    """Resolve and read `ckpt_path` (weights-only unless weights_only=False); None when there is none.

    For fit the file must hold statetrainer loop progress and the optimizer states.
    """
    path = resolve_ckpt_path(trainer, ckpt_path, fn)
    if path is None:
        return None
    checkpoint = _checkpoint_io(trainer).load_checkpoint(path, weights_only=weights_only is not False)
    if fn == "fit":
        _check_resumable(checkpoint, path)
    trainer._ckpt_path = path
    return path, checkpoint


def restore(trainer, checkpoint: dict[str, Any], fn: str, source: str = "") -> None:
    """Put `checkpoint` back into the trainer, module, datamodule and callbacks (see the module docstring)."""
    if fn == "fit":
        _check_resumable(checkpoint, source)
    restore_modules_and_callbacks(trainer, checkpoint, source)
    if fn == "fit":
        restore_training_state(trainer, checkpoint)


def restore_modules_and_callbacks(trainer, checkpoint: dict[str, Any], source: str = "") -> None:
    """DataModule state, module on_load_checkpoint + weights, callbacks (Lightning: before configure_optimizers)."""
    module, datamodule = trainer.lightning_module, trainer.datamodule
    if datamodule is not None and type(datamodule).__qualname__ in checkpoint:
        datamodule.load_state_dict(checkpoint[type(datamodule).__qualname__])
    _call(module, "on_load_checkpoint", checkpoint)
    load_weights(module, checkpoint["state_dict"], strict=getattr(module, "strict_loading", None) is not False,
                 source=source)
    _load_hooks(trainer, checkpoint)
    _load_callback_states(trainer.callbacks, checkpoint.get("callbacks") or {})


def restore_training_state(trainer, checkpoint: dict[str, Any], source: str = "") -> None:
    """Fit only: scaler, loop progress, optimizers, schedulers (Lightning: after on_fit_start)."""
    scaler = _precision(trainer)
    state = next((checkpoint[key] for key in _SCALER_KEYS if key in checkpoint), None)
    if scaler is not None and state:
        scaler.load_state_dict(state)
    trainer._restore_loop_state(checkpoint["loops"])
    _load_optimizers(trainer, checkpoint, source)


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


def _check_resumable(checkpoint: dict[str, Any], source: str) -> None:
    if VERSION_KEY not in checkpoint or not isinstance(checkpoint.get("loops"), dict):
        raise CheckpointError(
            f"checkpoint {source!r} was not written by statetrainer (no {VERSION_KEY!r} and loop progress), so fit "
            "cannot continue it at the exact next batch; load its weights with load_from_checkpoint, or use it "
            "with validate/test/predict(ckpt_path=...).")
    if "optimizer_states" not in checkpoint:
        raise CheckpointError(
            f"checkpoint {source!r} holds only the model weights (save_weights_only=True), so fit cannot resume "
            "the optimizers from it; resume from a full checkpoint, or load the weights with load_from_checkpoint.")


def _load_optimizers(trainer, checkpoint: dict[str, Any], source: str) -> None:
    for label, objects, states in (
            ("optimizer", trainer.optimizers, checkpoint["optimizer_states"]),
            ("lr scheduler", [c.scheduler for c in trainer.lr_scheduler_configs], checkpoint.get("lr_schedulers", []))):
        if len(objects) != len(states):
            raise CheckpointError(f"checkpoint {source!r} holds {len(states)} {label} state(s) but "
                                  f"configure_optimizers returned {len(objects)} {label}(s).")
        for obj, state in zip(objects, states):
            obj.load_state_dict(state)


def _precision(trainer):
    plugin = getattr(trainer, "_precision_plugin", None)
    if plugin is None:
        plugin = getattr(getattr(trainer, "_session", None), "precision", None)
    return plugin if plugin is not None and hasattr(plugin, "state_dict") else None


def _save_hooks(trainer, checkpoint: dict, callbacks: bool) -> None:
    """on_save_checkpoint: the callbacks (unless weights-only), the module, the datamodule, the signal."""
    module = trainer.lightning_module
    if callbacks:
        for callback in trainer.callbacks:
            if _overrides(callback, "on_save_checkpoint"):
                callback.on_save_checkpoint(trainer, module, checkpoint)
    _call(module, "on_save_checkpoint", checkpoint)
    _finish_hook(trainer, "on_save_checkpoint", checkpoint)


def _load_hooks(trainer, checkpoint: dict) -> None:
    """on_load_checkpoint of the callbacks (the module's ran before its weights were loaded), then the rest."""
    module = trainer.lightning_module
    for callback in trainer.callbacks:
        if _overrides(callback, "on_load_checkpoint"):
            callback.on_load_checkpoint(trainer, module, checkpoint)
    _finish_hook(trainer, "on_load_checkpoint", checkpoint)


def _finish_hook(trainer, hook: str, checkpoint: dict) -> None:
    datamodule = trainer.datamodule
    if datamodule is not None and callable(getattr(datamodule, hook, None)):
        getattr(datamodule, hook)(checkpoint)
    from statetrainer.signals import CATALOGUE
    signal = CATALOGUE.get(hook)
    if signal is not None and signal.receivers:
        signal.send(trainer, checkpoint=checkpoint)


def _call(module, hook: str, checkpoint: dict) -> None:
    previous = getattr(module, "_current_fx_name", None)
    module._current_fx_name = hook
    try:
        getattr(module, hook)(checkpoint)
    finally:
        module._current_fx_name = previous


def _overrides(callback: Any, hook: str) -> bool:
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


def _checkpoint_io(trainer):
    """The trainer's CheckpointIO plugin (the atomic torch one unless `plugins=` gave another)."""
    plugin = getattr(trainer, "checkpoint_io", None)
    if plugin is None:
        from statetrainer.plugins import TorchCheckpointIO
        plugin = TorchCheckpointIO()
    return plugin
