"""Subclass a library callback so that chosen hooks also record ``<Label>.<hook>()`` in the trace.

Used to see where ModelCheckpoint / EarlyStopping / a plain trailing callback run relative to
the recording callback and the module.
"""
from __future__ import annotations

from .harness import fmt_stage, format_call

TRACED_HOOKS = (
    "setup", "on_fit_start", "on_train_start", "on_train_batch_end", "on_train_epoch_end",
    "on_validation_epoch_end", "on_validation_end", "on_train_end", "on_fit_end",
    "on_save_checkpoint", "on_load_checkpoint", "on_exception", "teardown",
)


def _traced(label: str, hook: str):
    def method(self, *args, **kwargs):
        ids = {}
        if hook in ("setup", "teardown"):
            ids["stage"] = fmt_stage(args[2] if len(args) > 2 else kwargs.get("stage"))
        self.trace_recorder.add(format_call(label, hook, ids))
        return getattr(super(cls_holder[0], self), hook)(*args, **kwargs)

    cls_holder: list = []
    method.cls_holder = cls_holder
    return method


def traced_subclass(base: type, label: str, recorder) -> type:
    """A subclass of ``base`` recording TRACED_HOOKS, bound to ``recorder``."""
    methods = {hook: _traced(label, hook) for hook in TRACED_HOOKS}
    cls = type(f"Traced{label}", (base,), {**methods, "trace_recorder": recorder})
    for method in methods.values():
        method.cls_holder.append(cls)
    return cls
