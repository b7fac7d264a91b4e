"""The names of the actions a profiler sees, in one place, and the helper that times a loop function.

Every row of a profiler report is one of these actions. The bracketed prefix says who ran it:

- ``[State]<state>``: one run of a machine state's action (``[State]train_batch``);
- ``[Callback]<state_key>.<hook>``, ``[StateModule]<Class>.<hook>``, ``[DataModule]<Class>.<hook>``:
  one hook call (only hooks that are overridden are called, so only those have rows);
- ``[Signal]<hook>``: delivering a hook's signal to user receivers;
- the loop's own work, timed whether or not a hook is overridden: fetching the next batch,
  moving it to the device, backward, the optimizer step and zero_grad (constants below; the
  names follow Lightning's closely enough to be recognised: ``train_dataloader_next``,
  ``val_next``, ``batch_to_device``...).
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

__all__ = ["FETCH_TRAIN", "FETCH_EVAL", "TRANSFER", "BACKWARD", "OPTIMIZER_STEP", "ZERO_GRAD", "STEP_HOOKS",
           "state", "callback", "module_hook", "datamodule_hook", "signal", "timed"]

#: fetching the next training batch from the train dataloader
FETCH_TRAIN = "[TrainingLoop].train_dataloader_next"
#: fetching the next batch of an evaluation run, by kind of run (the sanity check is a validation run)
FETCH_EVAL = {"validation": "[EvaluationLoop].val_next", "test": "[EvaluationLoop].test_next",
              "predict": "[PredictionLoop].predict_next"}
#: moving a batch to the device: convert_input and the three transfer hooks (those overridden)
TRANSFER = "[Loop].batch_to_device"
#: on_before_backward, the backward pass (or the module's backward override), on_after_backward
BACKWARD = "[Optimization].backward"
#: one optimizer step through the trainer: the closure (training_step, zero_grad, backward), the
#: before-step hooks, clipping and ``optimizer.step``; in manual optimization, each ``opt.step()``
OPTIMIZER_STEP = "[Optimization].optimizer_step"
#: clearing the gradients before backward (``optimizer.zero_grad`` or the module's override)
ZERO_GRAD = "[Optimization].optimizer_zero_grad"

#: the module hooks whose end marks one step of a run (the PyTorchProfiler's schedule counts them)
STEP_HOOKS = ("training_step", "validation_step", "test_step", "predict_step")


def state(name: str) -> str:
    return f"[State]{name}"


def callback(state_key: str, hook: str) -> str:
    return f"[Callback]{state_key}.{hook}"


def module_hook(module: Any, hook: str) -> str:
    return f"[StateModule]{type(module).__name__}.{hook}"


def datamodule_hook(datamodule: Any, hook: str) -> str:
    return f"[DataModule]{type(datamodule).__name__}.{hook}"


def signal(hook: str) -> str:
    return f"[Signal]{hook}"


F = TypeVar("F", bound=Callable[..., Any])


def timed(profiler: Any, action: str, fn: F) -> F:
    """`fn` itself when `profiler` is None or records nothing; otherwise a function with the same
    arguments that runs `fn` inside ``profiler.profile(action)``.

    Call it once per run, where the run's parts are built: a loop that calls the result pays
    nothing per batch when no profiler is active.
    """
    if profiler is None or not getattr(profiler, "active", True):
        return fn

    def profiled(*args: Any, **kwargs: Any) -> Any:
        with profiler.profile(action):
            return fn(*args, **kwargs)
    profiled.__wrapped__ = fn  # type: ignore[attr-defined]
    return profiled  # type: ignore[return-value]
