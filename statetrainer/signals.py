"""The signal catalogue: one blinker signal per hook name, each with a declared payload.

A receiver is called as ``receiver(trainer, **payload)``: the sender is the trainer, the payload
fields are the hook's arguments (without ``trainer`` and ``module``) and, for the ``*_step``
signals, the step's ``outputs``. Signals fire after the module and callbacks have run the hook of
the same name, in the order the dispatcher fixes (see ``docs/signals.md``).

    import statetrainer as st

    @st.signals.on_train_batch_end.connect
    def show(trainer, outputs, batch, batch_idx):
        print(trainer.global_step, outputs["loss"].item())

Receivers connected here are weak references (blinker's default): keep a reference to a closure
or pass ``weak=False``. ``trainer.on(signal, every=N, once=True)`` connects strongly, for one trainer.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from blinker import ANY, Signal

from statetrainer.errors import MisconfigurationError

__all__ = ["HookSignal", "CATALOGUE", "by_name", "signal_names"]

# Hook name -> (payload fields, targets, one-line description).
# targets: "cb" = Callback method, "mod" = StateModule hook, "dm" = DataModule hook.
_T = "torch.Tensor"
_SPEC: dict[str, tuple[tuple[tuple[str, str], ...], str, str]] = {
    "configure_callbacks": ((), "mod", "The module's extra callbacks were collected."),
    "prepare_data": ((), "mod dm", "Data download/preparation ran (local rank 0, or node rank 0)."),
    "setup": ((("stage", "str"),), "cb mod dm", "Setup for a stage: fit, validate, test or predict."),
    "configure_model": ((), "mod", "The module may build its layers now."),
    "configure_optimizers": ((), "mod", "Optimizers and schedulers were built."),
    "on_fit_start": ((), "cb mod", "fit() begins, after setup and optimizer creation."),
    "on_sanity_check_start": ((), "cb", "The sanity-check validation begins."),
    "on_sanity_check_end": ((), "cb", "The sanity-check validation ended."),
    "on_train_start": ((), "cb mod", "Training begins (after the sanity check)."),
    "on_train_epoch_start": ((), "cb mod", "A training epoch begins."),
    "on_before_batch_transfer": ((("batch", "Any"), ("dataloader_idx", "int")), "mod dm",
                                 "A batch is about to move to the device."),
    "transfer_batch_to_device": ((("batch", "Any"), ("device", "torch.device"), ("dataloader_idx", "int")),
                                 "mod dm", "A batch is moved to the device."),
    "on_after_batch_transfer": ((("batch", "Any"), ("dataloader_idx", "int")), "mod dm",
                                "A batch is on the device."),
    "on_train_batch_start": ((("batch", "Any"), ("batch_idx", "int")), "cb mod",
                             "A training batch begins; the module returning -1 ends the epoch."),
    "training_step": ((("batch", "Any"), ("batch_idx", "int"), ("outputs", "Any")), "mod",
                      "training_step returned `outputs`."),
    "on_before_zero_grad": ((("optimizer", "torch.optim.Optimizer"),), "cb mod", "Gradients are about to be zeroed."),
    "optimizer_zero_grad": ((("epoch", "int"), ("batch_idx", "int"), ("optimizer", "torch.optim.Optimizer")),
                            "mod", "Gradients were zeroed."),
    "on_before_backward": ((("loss", _T),), "cb mod", "backward is about to run on `loss`."),
    "backward": ((("loss", _T),), "mod", "backward ran on `loss`."),
    "on_after_backward": ((), "cb mod", "backward ran; gradients are populated."),
    "on_before_optimizer_step": ((("optimizer", "torch.optim.Optimizer"),), "cb mod",
                                 "The optimizer is about to step (gradients final, before clipping)."),
    "configure_gradient_clipping": ((("optimizer", "torch.optim.Optimizer"), ("gradient_clip_val", "float|None"),
                                     ("gradient_clip_algorithm", "str|None")), "mod", "Gradients were clipped."),
    "optimizer_step": ((("epoch", "int"), ("batch_idx", "int"), ("optimizer", "torch.optim.Optimizer")),
                       "mod", "The optimizer stepped (global_step counts these)."),
    "lr_scheduler_step": ((("scheduler", "Any"), ("metric", "Any")), "mod",
                          "A learning-rate scheduler stepped (metric: the monitored value, or None)."),
    "on_train_batch_end": ((("outputs", "Any"), ("batch", "Any"), ("batch_idx", "int")), "cb mod",
                           "A training batch ended."),
    "on_train_epoch_end": ((), "cb mod", "A training epoch ended (after its end-of-epoch validation)."),
    "on_train_end": ((), "cb mod", "Training ended."),
    "on_fit_end": ((), "cb mod", "fit() ended."),
    "on_validation_model_zero_grad": ((), "mod", "Gradients are cleared before validation."),
    "on_validation_model_eval": ((), "mod", "The module was put in eval mode for validation."),
    "on_validation_model_train": ((), "mod", "The module was put back in train mode after validation."),
    "on_validation_start": ((), "cb mod", "A validation run begins."),
    "on_validation_epoch_start": ((), "cb mod", "A validation epoch begins."),
    "on_validation_batch_start": ((("batch", "Any"), ("batch_idx", "int"), ("dataloader_idx", "int")), "cb mod",
                                  "A validation batch begins."),
    "validation_step": ((("batch", "Any"), ("batch_idx", "int"), ("dataloader_idx", "int"), ("outputs", "Any")),
                        "mod", "validation_step returned `outputs`."),
    "on_validation_batch_end": ((("outputs", "Any"), ("batch", "Any"), ("batch_idx", "int"),
                                 ("dataloader_idx", "int")), "cb mod", "A validation batch ended."),
    "on_validation_epoch_end": ((), "cb mod", "A validation epoch ended."),
    "on_validation_end": ((), "cb mod", "A validation run ended."),
    "on_test_model_eval": ((), "mod", "The module was put in eval mode for testing."),
    "on_test_model_train": ((), "mod", "The module was put back in train mode after testing."),
    "on_test_start": ((), "cb mod", "A test run begins."),
    "on_test_epoch_start": ((), "cb mod", "A test epoch begins."),
    "on_test_batch_start": ((("batch", "Any"), ("batch_idx", "int"), ("dataloader_idx", "int")), "cb mod",
                            "A test batch begins."),
    "test_step": ((("batch", "Any"), ("batch_idx", "int"), ("dataloader_idx", "int"), ("outputs", "Any")),
                  "mod", "test_step returned `outputs`."),
    "on_test_batch_end": ((("outputs", "Any"), ("batch", "Any"), ("batch_idx", "int"), ("dataloader_idx", "int")),
                          "cb mod", "A test batch ended."),
    "on_test_epoch_end": ((), "cb mod", "A test epoch ended."),
    "on_test_end": ((), "cb mod", "A test run ended."),
    "on_predict_model_eval": ((), "mod", "The module was put in eval mode for prediction."),
    "on_predict_start": ((), "cb mod", "A prediction run begins."),
    "on_predict_epoch_start": ((), "cb mod", "A prediction epoch begins."),
    "on_predict_batch_start": ((("batch", "Any"), ("batch_idx", "int"), ("dataloader_idx", "int")), "cb mod",
                               "A prediction batch begins."),
    "predict_step": ((("batch", "Any"), ("batch_idx", "int"), ("dataloader_idx", "int"), ("outputs", "Any")),
                     "mod", "predict_step returned `outputs`."),
    "on_predict_batch_end": ((("outputs", "Any"), ("batch", "Any"), ("batch_idx", "int"),
                              ("dataloader_idx", "int")), "cb mod", "A prediction batch ended."),
    "on_predict_epoch_end": ((), "cb mod", "A prediction epoch ended."),
    "on_predict_end": ((), "cb mod", "A prediction run ended."),
    "on_save_checkpoint": ((("checkpoint", "dict"),), "cb mod dm", "A checkpoint dict is being assembled."),
    "on_load_checkpoint": ((("checkpoint", "dict"),), "cb mod dm", "A checkpoint dict is being restored."),
    "on_exception": ((("exception", "BaseException"),), "cb mod dm", "An exception ends the run."),
    "teardown": ((("stage", "str"),), "cb mod dm", "Teardown for a stage."),
}


class HookSignal(Signal):
    """A blinker signal for one hook, with declared payload fields checked at connect time."""

    def __init__(self, name: str, fields: tuple[tuple[str, str], ...], targets: str, doc: str):
        super().__init__(doc)
        self.name = name
        self.fields = tuple(field for field, _ in fields)
        self.field_types = dict(fields)
        self.targets = frozenset(targets.split())

    def __repr__(self) -> str:
        return f"<signal {self.name}({', '.join(self.fields)})>"

    def connect(self, receiver: Callable, sender: Any = ANY, weak: bool = True) -> Callable:
        check_receiver(self, receiver)
        LISTENER_CHANGES[0] += 1
        return super().connect(receiver, sender=sender, weak=weak)

    def disconnect(self, receiver: Callable, sender: Any = ANY) -> None:
        LISTENER_CHANGES[0] += 1
        super().disconnect(receiver, sender=sender)


LISTENER_CHANGES = [0]  # connects and disconnects so far: a run's batch plan is rebuilt when this moves


def listeners_version() -> int:
    """A number that changes whenever a receiver connects to or disconnects from any signal."""
    return LISTENER_CHANGES[0]


def check_receiver(signal: HookSignal, receiver: Callable) -> None:
    """Refuse a receiver that cannot be called as ``receiver(trainer, **payload)``."""
    if not callable(receiver):
        raise MisconfigurationError(f"receiver for signal `{signal.name}` got {receiver!r}; accepted: a callable.")
    try:
        sig = inspect.signature(receiver)
    except (TypeError, ValueError):  # builtins without a signature: trust them
        return
    try:
        sig.bind(object(), **{field: None for field in signal.fields})
    except TypeError as err:
        wanted = ", ".join(("sender",) + signal.fields) if signal.fields else "sender"
        raise MisconfigurationError(
            f"receiver {getattr(receiver, '__qualname__', receiver)!r} for signal `{signal.name}` cannot be "
            f"called as fn({wanted}) ({err}); accepted: a function taking the sender and the keyword "
            f"arguments {list(signal.fields)} (or **kwargs)."
        ) from None


CATALOGUE: dict[str, HookSignal] = {name: HookSignal(name, *spec) for name, spec in _SPEC.items()}
globals().update(CATALOGUE)
__all__ += list(CATALOGUE)


def by_name(name: str) -> HookSignal:
    """The signal for a hook name; a clear error for an unknown one."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise MisconfigurationError(f"signal {name!r} does not exist; accepted: {', '.join(sorted(CATALOGUE))}.") from None


def signal_names(target: str) -> frozenset[str]:
    """The hook names delivered to one kind of target: "cb", "mod" or "dm"."""
    return frozenset(name for name, sig in CATALOGUE.items() if target in sig.targets)
