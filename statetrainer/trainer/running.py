"""One trainer call from start to terminal state: build the session, drive the machine, clean up."""
from __future__ import annotations

import functools
import warnings
from typing import Any

from statetrainer.errors import MisconfigurationError
from statetrainer.loop import rng
from statetrainer.loop.actions import ACTIONS
from statetrainer.loop.driver import drive
from statetrainer.loop.optim_step import Stepper
from statetrainer.loop.session import Session
from statetrainer.loop.sources import DataSources
from statetrainer.plugins.precision import make_precision
from statetrainer.trainer.dispatch import Dispatcher

__all__ = ["run", "split_datamodule", "connect_filtered", "loop_state", "restore_loop_state"]

_STEP = {"fit": "training_step", "validate": "validation_step", "test": "test_step"}


def split_datamodule(loaders: Any, datamodule: Any, name: str):
    from statetrainer.data.datamodule import DataModule
    if isinstance(loaders, DataModule):
        if datamodule is not None:
            raise MisconfigurationError(f"`{name}` got a DataModule and `datamodule` is also set; accepted: one of them.")
        return None, loaders
    if loaders is not None and datamodule is not None:
        raise MisconfigurationError(f"`{name}` and `datamodule` were both given; accepted: dataloaders or a datamodule.")
    return loaders, datamodule


def _resolve_model(trainer, fn: str, model):
    from statetrainer.module.hooks import HookStubs
    from statetrainer.module.module import StateModule
    if model is None:
        model = trainer._module
        if model is None:
            raise MisconfigurationError(f"`{fn}` got model=None and no model was given before; accepted: a StateModule.")
    if not isinstance(model, StateModule):
        raise MisconfigurationError(f"`model` got {type(model).__name__}; accepted: a statetrainer.StateModule instance.")
    step = _STEP.get(fn)
    if step and getattr(type(model), step) is getattr(HookStubs, step):
        raise MisconfigurationError(f"`{fn}` needs `{step}` but {type(model).__name__} does not define it; accepted: "
                                    f"a StateModule that implements {step}(batch, batch_idx).")
    return model


def _validation_enabled(s) -> bool:
    from statetrainer.module.hooks import HookStubs
    return (s.sources.is_defined("val") and getattr(type(s.module), "validation_step") is not HookStubs.validation_step
            and s.config.limits["val"] != 0)


def _session(trainer, fn: str, model, datamodule, **options: Any) -> Session:
    loaders = {kind: options.pop(kind, None) for kind in ("train", "val", "test", "predict")}
    dispatch = Dispatcher(trainer, model, trainer.callbacks, datamodule, trainer.profiler)
    sources = DataSources(model, datamodule, dispatch, **loaders)
    precision = make_precision(trainer._config.precision, trainer.strategy.root_device.type)
    s = Session(fn=fn, module=model, datamodule=datamodule, dispatch=dispatch, ctx=trainer._ctx,
                metrics=trainer._metrics, precision=precision, strategy=trainer.strategy, config=trainer._config,
                sources=sources, callbacks=trainer.callbacks)
    s.trainer, s.state = trainer, trainer.state
    from statetrainer.profilers import actions
    s.stepper = actions.timed(dispatch.profiler, actions.OPTIMIZER_STEP, Stepper(s))
    s.return_predictions = options.get("return_predictions", True)
    s.on_model_ready = functools.partial(_restore_model, ckpt_path=options.get("ckpt_path"),
                                         weights_only=options.get("weights_only"))
    s.on_started = _on_started
    return s


def _restore_model(s, ckpt_path=None, weights_only=None) -> None:
    """After configure_model: read the checkpoint, restore weights, datamodule and callback states."""
    s.checkpoint = None
    if ckpt_path is None:
        return
    from statetrainer.checkpoint import content
    loaded = content.load_from_path(s.trainer, ckpt_path, s.fn, weights_only)
    if loaded is not None:
        s.checkpoint = loaded
        content.restore_modules_and_callbacks(s.trainer, loaded[1], loaded[0])


def _on_started(s) -> None:
    """After on_fit_start: log hyper-parameters, then (fit) restore optimizers and loop progress."""
    from statetrainer.loggers import lifecycle
    lifecycle.start(s.trainer.loggers, s.module, s.datamodule)
    if s.fn == "fit" and getattr(s, "checkpoint", None) is not None:
        from statetrainer.checkpoint import content
        path, checkpoint = s.checkpoint
        content.restore_training_state(s.trainer, checkpoint, path)


def _prepare(trainer, fn: str, model, datamodule) -> None:
    model._trainer = trainer
    trainer._module = model
    trainer._datamodule = datamodule
    if datamodule is not None:
        datamodule.trainer = trainer
    trainer._interrupted = False
    trainer._ckpt_path = None
    trainer._stop.request(False)
    trainer._ctx.fn = fn
    trainer.state.fn = fn
    if fn == "fit":
        trainer.state.stop_reason = None


def run(trainer, fn: str, model, datamodule, ckpt_path, **options: Any):
    model = _resolve_model(trainer, fn, model)
    if trainer._session is not None and trainer.state.status == "running":
        from statetrainer.errors import InvalidTransitionError
        raise InvalidTransitionError(trainer._machine.current, fn, trainer._machine.allowed())
    _prepare(trainer, fn, model, datamodule)
    s = _session(trainer, fn, model, datamodule, ckpt_path=ckpt_path, **options)
    cfg = trainer._ctx.config
    cfg.validation_enabled = _validation_enabled(s)
    cfg.sanity_steps = trainer._config.num_sanity_val_steps
    cfg.check_val_every_n_epoch = trainer._config.check_val_every_n_epoch
    trainer._session = s
    trainer.profiler.setup(stage=fn, local_rank=trainer.local_rank if trainer.world_size > 1 else None,
                           log_dir=trainer.log_dir)
    trainer.profiler.bind(model)
    import torch
    with torch.autograd.set_detect_anomaly(trainer._config.detect_anomaly):  # restores the previous mode
        drive(trainer._machine, ACTIONS, s, fn, _on_terminal, trainer.profiler)
    _finish(trainer, "success" if not trainer._interrupted else "interrupted")
    if fn in ("validate", "test") and options.get("verbose", True) and trainer.is_global_zero and s.results:
        from statetrainer.metrics import print_results
        print_results(s.results, fn)
    return s.results


def _finish(trainer, status: str) -> None:
    from statetrainer.loggers import lifecycle
    lifecycle.finish(trainer.loggers, status)
    trainer.profiler.describe()
    trainer.profiler.teardown(stage=trainer.state.fn)


def _on_terminal(s, trigger: str, exc: BaseException) -> None:
    """Reach a terminal state, tell the listeners, tear down."""
    trainer, p = s.trainer, s.progress
    if s.eval_run is not None:
        s.eval_run.close()
    trainer._metrics.abort()
    s.state_before_terminal = trainer.state.failing_state = trainer._machine.current
    trainer._machine.force_terminal(trigger)
    where = f"at epoch {p.epoch}, global_step={p.global_step}"
    if trigger == "interrupt":
        trainer._interrupted = True
        trainer.state.stop_reason = f"interrupted by {type(exc).__name__} {where}."
    else:
        trainer.state.stop_reason = f"failed with {type(exc).__name__}: {exc} {where}."
    for hook, args in (("on_exception", (exc,)), ("teardown", (s.fn,))):
        try:
            s.dispatch.call(hook, *args)
        except Exception as err:  # the original exception is the one that matters
            warnings.warn(f"{hook} raised {type(err).__name__}: {err} while handling {type(exc).__name__}")
    trainer.state.failing_state = None
    if trigger == "fail":
        from statetrainer.loggers import lifecycle
        lifecycle.finish(trainer.loggers, "failed")


def connect_filtered(trainer, signal, every, once):
    """The `trainer.on(signal, every=N, once=True)` decorator (strong reference, this trainer only)."""
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise MisconfigurationError(f"`every` got {every!r}; accepted: an int >= 1 or None.")

    def decorator(fn):
        from statetrainer.signals import check_receiver
        check_receiver(signal, fn)
        count = {"n": 0}

        def receiver(sender, **payload):
            count["n"] += 1
            if every is not None and count["n"] % every:
                return None
            if once:
                signal.disconnect(receiver, sender=trainer)
            return fn(sender, **payload)
        receiver.__wrapped__ = fn
        signal.connect(receiver, sender=trainer, weak=False)
        fn.disconnect = lambda: signal.disconnect(receiver, sender=trainer)
        return fn
    return decorator


def loop_state(trainer) -> dict:
    """The loops' position as plain data: the machine state's name, the counters, the RNG states.

    Taken while a training batch runs (an interrupt), the position is the one before that batch
    when the batch has not stepped yet: resuming re-runs it whole.
    """
    s = trainer._session
    state = trainer._machine.current
    if state in ("interrupted", "failed") and s is not None:
        state = getattr(s, "state_before_terminal", state)
    progress = trainer._progress.state_dict()
    decided = state != "train_batch"
    if state == "train_batch" and getattr(s, "batch_running", False) and s.step_at_batch_start == progress["global_step"]:
        progress.update(batch_idx=progress["batch_idx"] - 1, batches_seen=progress["batches_seen"] - 1,
                        total_batch_idx=progress["total_batch_idx"] - 1, is_last_batch=False)
        decided = True  # the position before the interrupted batch: its predecessor's decision was taken
    return {"state": state, "progress": progress, "decided": decided,
            "rng": rng.capture(), "rng_epoch_start": getattr(s, "epoch_rng", None),
            "batch_open": bool(getattr(s, "batch_open", False)),
            "batch_stepped": bool(getattr(s, "batch_stepped", False)),
            "metrics": trainer._metrics.state_dict()}


_MID_EPOCH = {"train_batch", "val_start", "val_batch", "val_end"}


def restore_loop_state(trainer, state: dict) -> None:
    """Put the loops back where `loop_state` was taken; fit continues at the next batch, first taking
    the validate/continue decision of the last trained batch if it was still pending."""
    p = trainer._progress
    p.load_state_dict(state.get("progress", {}))
    trainer._metrics.load_state_dict(state.get("metrics", {}))
    s = trainer._session
    saved = state.get("state")
    if saved in _MID_EPOCH and not p.epoch_skipped and state.get("rng_epoch_start") is not None:
        p.resume_skip = p.batches_seen
        s.resume = {"rng_epoch_start": state["rng_epoch_start"], "rng": state["rng"]}
        s.batch_open, s.batch_stepped = state.get("batch_open", False), state.get("batch_stepped", False)
        s.resume_decided = state.get("decided", saved != "train_batch")
    else:
        p.resume_skip = 0
        p.epoch = max(p.epoch, p.epochs_processed)
        if state.get("rng") is not None:
            rng.restore(state["rng"])
