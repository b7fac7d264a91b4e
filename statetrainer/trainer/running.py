"""One trainer call from start to terminal state: build the session, drive the machine, clean up."""
from __future__ import annotations

import functools
import warnings
import weakref
from typing import Any

from statetrainer.errors import MisconfigurationError, MisconfigurationTypeError
from statetrainer.module.hook_lookup import overrides
from statetrainer.loop.actions import ACTIONS
from statetrainer.loop.announce import announce
from statetrainer.loop.bookkeeping import attach_metric_book
from statetrainer.loop.dispatch import Dispatcher
from statetrainer.loop.driver import SignalInterrupt, drive
from statetrainer.loop.feed import Feed
from statetrainer.loop.optim_step import Optimization
from statetrainer.loop.resume import Restore
from statetrainer.loop.session import RunRecord, Session
from statetrainer.loop.sources import DataSources, warn_unused_validation
from statetrainer.loop.batch_transfer import batch_transfer
from statetrainer.plugins.precision import make_precision

__all__ = ["run", "connect_filtered"]

_STEP = {"fit": "training_step", "validate": "validation_step", "test": "test_step"}


def _resolve_model(trainer, fn: str, model):
    from statetrainer.module.hooks import HookStubs
    from statetrainer.module.module import StateModule
    if model is None:
        model = trainer._module
        if model is None:
            raise MisconfigurationTypeError(f"`{fn}` got model=None and no model was given before; accepted: a "
                                            "StateModule.")
    if not isinstance(model, StateModule):
        raise MisconfigurationTypeError(f"`model` got a {type(model).__name__}; accepted: a statetrainer.StateModule "
                                        "instance (a LightningModule ported by changing its imports).")
    step = _STEP.get(fn)
    if step and not overrides(model, HookStubs, step):
        raise MisconfigurationError(f"`{fn}` needs `{step}` but {type(model).__name__} does not define it; accepted: "
                                    f"a StateModule that implements {step}(batch, batch_idx).")
    if fn == "fit" and getattr(model, "configure_optimizers", None) is None:
        raise MisconfigurationError(f"`fit` needs `configure_optimizers` but {type(model).__name__} sets it to None; "
                                    "accepted: a configure_optimizers method (one returning None trains without "
                                    "an optimizer).")
    return model


def _validation_enabled(sources, module, limits) -> bool:
    """Validation runs in fit: there is validation data, a validation_step (not None), and batches to take."""
    from statetrainer.module.hooks import HookStubs
    return sources.is_defined("val") and overrides(module, HookStubs, "validation_step") and limits["val"] != 0


def _read_checkpoint(trainer, ckpt_path, fn: str, weights_only) -> tuple[str, dict] | None:
    """Resolve `ckpt_path` ("best", "last" or a path) and read it through the CheckpointIO plugin."""
    from statetrainer.checkpoint.resolve import resolve_ckpt_path
    path = resolve_ckpt_path(trainer, ckpt_path, fn)
    if path is None:
        return None
    checkpoint = trainer.checkpoint_io.load_checkpoint(path, weights_only=weights_only is not False)
    trainer._ckpt_path = path
    trainer.strategy.barrier("checkpoint loaded")  # every rank has read it before any rank may write again
    return path, checkpoint


def _session(trainer, fn: str, model, datamodule, ckpt_path, options: dict) -> Session:
    loaders = {kind: options.pop(kind, None) for kind in ("train", "val", "test", "predict")}
    config, position = trainer._config, trainer._position
    dispatch = Dispatcher(trainer, model, trainer.callbacks, datamodule, trainer.profiler,
                          signal_counts=position.signal_counts)
    precision = make_precision(config.precision, trainer.strategy.root_device.type)
    sources = DataSources(model, datamodule, dispatch, **loaders)
    transfer = batch_transfer(model, datamodule, dispatch, precision, trainer.strategy.root_device)
    record = RunRecord(return_predictions=options.get("return_predictions", True),
                       restore=Restore(functools.partial(_read_checkpoint, trainer, ckpt_path, fn,
                                                         options.get("weights_only"))))
    s = Session(fn=fn, module=model, datamodule=datamodule, callbacks=trainer.callbacks, dispatch=dispatch,
                position=position, stop=trainer._stop,
                feed=Feed(sources, config, position, transfer, dispatch.profiler, shown=trainer._dataloaders,
                          split=_data_split(trainer)),
                optim=Optimization(model, dispatch, precision, position, config, trainer._metrics, dispatch.profiler,
                                   trainer._accumulation, strategy=trainer.strategy),
                metrics=trainer._metrics, precision=precision, strategy=trainer.strategy, config=config,
                ctx=trainer._ctx, state=trainer.state, loggers=trainer.loggers, run=record)
    attach_metric_book(dispatch, trainer._metrics, position, record)
    shape = position.shape
    shape.validation_enabled = _validation_enabled(sources, model, config.limits)
    if fn == "fit":
        warn_unused_validation(sources, model)
    shape.sanity_steps = config.num_sanity_val_steps
    shape.check_val_every_n_epoch = config.check_val_every_n_epoch
    return s


def _data_split(trainer) -> dict | None:
    """Each rank's share of the loaders (`use_distributed_sampler`, with a strategy that has several ranks)."""
    kwargs = trainer.strategy.distributed_sampler_kwargs
    if not kwargs or not trainer._config.use_distributed_sampler:
        return None
    import os
    return {**kwargs, "seed": int(os.environ.get("PL_GLOBAL_SEED", 0))}


def _prepare(trainer, fn: str, model, datamodule) -> None:
    model._trainer = trainer
    trainer._module = model
    trainer._datamodule = datamodule
    if datamodule is not None:
        datamodule.trainer = trainer
    trainer._interrupted = False
    trainer._ckpt_path = None
    trainer._stop.request(False)
    trainer._position.new_run()
    trainer._ctx.fn = fn
    trainer._ctx.prepare_data_per_node = _prepare_data_per_node(model, datamodule)
    strategy = trainer.strategy
    several = strategy.launcher is not None and strategy.world_size > 1
    trainer._stop.use_ranks(strategy if several else None)  # one stop decision for every rank
    trainer._metrics.sync = strategy.reduce                 # self.log(..., sync_dist=True)
    trainer._metrics.rank_zero = strategy.is_global_zero    # only rank 0 calls the loggers
    trainer.state.fn = fn
    if fn == "fit":
        trainer.state.stop_reason = None


def _implicit_ckpt_path(trainer, fn: str, model, ckpt_path):
    """validate/test/predict without a model after the trainer had one: the best checkpoint of the previous
    fit, with a warning (Lightning's rule); "best" is resolved now so that a missing one fails before any hook."""
    if fn != "fit" and model is None and ckpt_path is None and trainer._module is not None:
        warnings.warn(f"`{fn}()` got no model, so it loads the best checkpoint of the previous fit "
                      f"(ckpt_path='best'); pass ckpt_path='best' or 'last', or the model, to choose.",
                      UserWarning, stacklevel=4)
        ckpt_path = "best"
    if ckpt_path == "best":
        from statetrainer.checkpoint.resolve import resolve_ckpt_path
        return resolve_ckpt_path(trainer, ckpt_path, fn)
    return ckpt_path


def _prepare_data_per_node(model, datamodule) -> bool:
    """The datamodule's setting when it prepares data, else the module's (Lightning reads each for its own hook)."""
    from statetrainer.data.datamodule import DataModule
    prepares = datamodule is not None and type(datamodule).prepare_data is not DataModule.prepare_data
    return bool(getattr(datamodule if prepares else model, "prepare_data_per_node", True))


def run(trainer, fn: str, model, datamodule, ckpt_path, **options: Any):
    """One fit/validate/test/predict call: here, or through the strategy's launcher in every process of the run."""
    ckpt_path = _implicit_ckpt_path(trainer, fn, model, ckpt_path)
    model = _resolve_model(trainer, fn, model)
    if trainer._session is not None and trainer.state.status == "running":
        from statetrainer.errors import InvalidTransitionError
        raise InvalidTransitionError(trainer._machine.current, fn, trainer._machine.allowed())
    if fn == "fit":
        from statetrainer.trainer.flags import settle_max_epochs
        trainer._stop.max_epochs = settle_max_epochs(trainer._config, trainer.callbacks)
    launcher = trainer.strategy.launcher
    if launcher is None:
        return _run_here(trainer, fn, model, datamodule, ckpt_path, options)
    from statetrainer.strategies.launchers import MultiProcessingLauncher
    if isinstance(launcher, MultiProcessingLauncher):  # ddp_spawn / ddp_fork: new processes train copies
        from statetrainer.trainer import handing_back
        _prepare(trainer, fn, model, datamodule)
        back = launcher.launch(handing_back.run_in_worker, _run_here, trainer, fn, model, datamodule, ckpt_path,
                               options)
        return handing_back.adopt(trainer, model, back)
    return launcher.launch(_run_here, trainer, fn, model, datamodule, ckpt_path, options)


def _run_here(trainer, fn: str, model, datamodule, ckpt_path, options: dict):
    """The call in this process (one rank of a multi-process run, or the whole run)."""
    strategy = trainer.strategy
    strategy.setup_environment()
    try:
        _prepare(trainer, fn, model, datamodule)
        s = _session(trainer, fn, model, datamodule, ckpt_path, dict(options))
        trainer._session = s
        trainer.profiler.setup(stage=fn, local_rank=trainer.local_rank if trainer.world_size > 1 else None,
                               log_dir=trainer.log_dir)
        trainer.profiler.bind(model)
        import torch
        from statetrainer.callbacks.callback import running_module
        with torch.autograd.set_detect_anomaly(trainer._config.detect_anomaly), running_module(model):
            drive(trainer._machine, ACTIONS, s, fn, functools.partial(_on_terminal, trainer), trainer.profiler)
    finally:
        strategy.teardown()
    _finish(trainer, "success" if not trainer._interrupted else "interrupted")
    if fn == "fit" and not trainer._interrupted:
        _warn_if_nothing_trained(trainer)
    if fn in ("validate", "test") and options.get("verbose", True) and trainer.is_global_zero and s.run.results:
        from statetrainer.metrics import print_results
        print_results(s.run.results, fn)
    return s.run.results


def _warn_if_nothing_trained(trainer) -> None:
    """A fit whose limit was already reached when it started (a second fit, a checkpoint at or past
    max_epochs/max_steps) ends at once; say so, as Lightning's 'fit stopped' line does."""
    granted = trainer._stop.granted
    if trainer._position.train_started or granted is None or granted.rule not in ("max_epochs", "max_steps"):
        return
    limit = getattr(trainer._stop, granted.rule)
    warnings.warn(f"fit had nothing to train: {granted.rule}={limit} was already reached when it started "
                  f"(current_epoch={trainer.current_epoch}, global_step={trainer.global_step}); raise "
                  f"{granted.rule} to train further.", UserWarning, stacklevel=4)


def _finish(trainer, status: str) -> None:
    from statetrainer.loggers import lifecycle
    lifecycle.finish(trainer.loggers, status)
    trainer.profiler.describe()
    trainer.profiler.teardown(stage=trainer.state.fn)


def _on_terminal(trainer, s, trigger: str, exc: BaseException) -> None:
    """Reach a terminal state, tell the listeners (their checkpoints describe the last consistent point), tear down."""
    p = s.position
    if trigger == "fail":  # first let go of the other ranks (they fail at once), so no handler waits on them
        s.strategy.on_exception(exc)
    if s.run.evaluation is not None:
        s.run.evaluation.close()
    trainer._metrics.abort()
    s.run.failing_state = trainer.state.failing_state = trainer._machine.current
    exact = p.consistent_point()[2] and p.replay_exact
    trainer._machine.force_terminal(trigger)
    where = f"at epoch {p.epoch}, global_step={p.global_step}"
    if trigger == "interrupt":
        trainer._interrupted = True
        trainer.state.stop_reason = f"interrupted by {type(exc).__name__} {where}."
    else:
        trainer.state.stop_reason = f"failed with {type(exc).__name__}: {exc} {where}."
    written = len(s.run.written)
    calls = [("on_exception", lambda: s.dispatch.call("on_exception", exc)),
             ("teardown", lambda: s.dispatch.call_staged("teardown", s.fn))]
    if trigger == "interrupt":  # the strategy hears of an interrupt too, after the hooks (as in Lightning)
        calls.insert(1, ("strategy.on_exception", lambda: s.strategy.on_exception(exc)))
    for hook, call in calls:
        try:
            call()
        except Exception as err:  # the original exception is the one that matters
            warnings.warn(f"{hook} raised {type(err).__name__}: {err} while handling {type(exc).__name__}")
    s.feed.close()  # after the hooks: a checkpoint written in on_exception still reads the data position
    trainer.state.failing_state = None
    if trigger == "interrupt":
        announce(_interrupt_line(exc, s, written, exact), rank_zero=trainer.is_global_zero)
    else:
        from statetrainer.loggers import lifecycle
        lifecycle.finish(trainer.loggers, "failed")


def _interrupt_line(exc: BaseException, s, written_before: int, exact: bool) -> str:
    """Where the run stopped, which checkpoint holds that point, and that `trainer.interrupted` is True."""
    what = "SIGTERM" if isinstance(exc, SignalInterrupt) else "Ctrl-C"
    files = s.run.written
    if len(files) > written_before:
        saved = f"wrote {', '.join(files[written_before:])}"
    elif files:
        saved = f"the newest checkpoint, {files[-1]}, already holds this point"
    else:
        saved = "no checkpoint was written"
    replay = "" if exact or not files else (
        "; the batch it interrupted will run again from its start on resume (its random draws are not replayed)")
    return (f"Interrupted by {what} in state {s.run.failing_state} at {s.position.describe()}; {saved}{replay}; "
            "trainer.interrupted is True.")


def connect_filtered(trainer, signal, every, once):
    """The `trainer.on(signal, every=N, once=True)` decorator (strong reference, this trainer only).

    The filters count the signal's firings in the trainer's position, which a checkpoint saves: a
    resumed run keeps the cadence of `every` and does not fire a `once` receiver again."""
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise MisconfigurationError(f"`every` got {every!r}; accepted: an int >= 1 or None.")
    position = trainer._position

    def decorator(fn):
        from statetrainer.signals import check_receiver
        check_receiver(signal, fn)
        counts = position.signal_counts
        counts.setdefault(signal.name, 0)
        key = f"{signal.name}:{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"

        def receiver(sender, **payload):
            if every is not None and counts.get(signal.name, 0) % every:
                return None
            if once:
                signal.disconnect(receiver)  # from every sender: blinker keeps it listed otherwise
                if key in position.once_fired:  # it ran before the checkpoint this run resumed from
                    return None
                position.once_fired.add(key)
            return fn(sender, **payload)
        receiver.__wrapped__ = fn
        signal.connect(receiver, sender=trainer, weak=False)
        fn.disconnect = lambda: signal.disconnect(receiver)
        weakref.finalize(trainer, signal.disconnect, receiver)  # the trainer gone, its receivers go too
        return fn
    return decorator
