"""MetricBook: what `self.log` records, and the three metric dictionaries the Trainer shows.

The loops tell the book where they are (see docs/internals.md, "The metric book"); the book
keeps one MetricCollection per running loop and merges its views into `callback_metrics`,
`logged_metrics` and `progress_bar_metrics` at the moments Lightning 2.x does, and sends
`logger.log_metrics(metrics, step)` + `logger.save()` at Lightning's steps (docs/logging.md).
"""
from __future__ import annotations

import warnings
from collections import ChainMap, defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import torch

from statetrainer.errors import MisconfigurationError
from statetrainer.metrics.collection import MetricCollection, Views
from statetrainer.metrics.hook_rules import resolve_levels
from statetrainer.metrics.options import LogOptions, parse_reduce_fx
from statetrainer.metrics.values import to_loggable

__all__ = ["MetricBook"]

STAGES = ("train", "validate", "sanity_check", "test", "predict")
_EVAL = ("validate", "sanity_check", "test")
_KEPT_AS_IS = frozenset({torch.float32, torch.float64})  # dtypes a slot stores without conversion


def _never() -> bool:
    return False


def _no_loggers() -> list:
    return []


def _no_sync(tensor: torch.Tensor, reduce_op: str | None = None, group: Any = None) -> torch.Tensor:
    return tensor


@dataclass
class _Run:
    """One running loop: its stage, its collection and what to restore when it ends."""

    stage: str
    collection: MetricCollection | None
    nested: bool = False            # a validation run inside training
    inner: bool = False             # the `validate` run that a sanity check consists of
    saved_first_iter: bool | None = None
    between_epochs: bool = False    # training: after end_epoch, before the next batch
    requested: str = ""             # the stage begin_run was called with (end_run must name it)


class MetricBook:
    """Records logged values and produces the three dictionaries and the logger calls.

    `loggers` is a callable returning the current logger list. Attributes the trainer may set:
    `rank_zero` (only then loggers are called), `sync(tensor, reduce_op=, group=)` (used for
    `sync_dist=True`; identity by default), `device` (where Python numbers become tensors),
    `should_stop` (a callable; a requested stop logs the step and saves the loggers),
    `fast_dev_run` (log every training step), `barebones` (ignore `self.log` with a warning).
    """

    def __init__(self, log_every_n_steps: int = 50, loggers: Callable[[], Iterable[Any]] | None = None, *,
                 rank_zero: bool = True, fast_dev_run: bool = False, barebones: bool = False,
                 should_stop: Callable[[], bool] | None = None, sync: Callable[..., torch.Tensor] | None = None,
                 device: torch.device | str | None = None, stop_rules: Any = None):
        self.log_every_n_steps = log_every_n_steps
        self.loggers = loggers or _no_loggers
        self.rank_zero = rank_zero
        self.fast_dev_run = fast_dev_run
        self.barebones = barebones
        self.should_stop = should_stop or _never
        self.stop_rules = stop_rules      # read directly when given (its `should_stop`): no call per batch
        self.sync = sync or _no_sync
        self.device = device
        self.batches_that_stepped = 0
        self._callback: dict[str, torch.Tensor] = {}
        self._logged: dict[str, torch.Tensor] = {}
        self._pbar: dict[str, float] = {}
        self._runs: list[_Run] = []
        self._first_iter: bool | None = None   # None: outside a batch loop; True: its first batch
        self._current_fx: str | None = None
        self._pending_step = False
        self._last_global_step: int | None = None
        self._eval_steps: dict[int, int] = defaultdict(int)
        self._eval_outputs: list[dict[str, torch.Tensor]] = []
        self._previous_dl = 0
        self._warned: set[str] = set()
        self._resume: dict | None = None   # what a checkpoint gave, applied when the training run opens
        self._unmerged: MetricCollection | None = None  # step values logged since the dictionaries were updated
        self._slots_seen: dict[tuple, tuple] = {}  # a log call's arguments -> (collection, slot, dataloader index)

    # ------------------------------------------------------------------ the three dictionaries
    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        return self._merge_now("callback", self._callback)

    @property
    def logged_metrics(self) -> dict[str, torch.Tensor]:
        return self._merge_now("log", self._logged)

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        return self._merge_now("pbar", self._pbar)

    def _merge_now(self, view: str, target: dict) -> dict:
        self._flush()
        collection = self._collection()
        if collection is not None:
            target.update(getattr(collection.views(self._first_iter is not None), view))
        return target

    def _flush(self) -> None:
        """Bring the step values logged in earlier batches into the dictionaries (done when something reads
        them or the loop moves on, not after every batch)."""
        if self._unmerged is not None:
            collection, self._unmerged = self._unmerged, None
            self._merge(collection.views(True))

    def _merge(self, views: Views) -> None:
        self._callback.update(views.callback)
        self._logged.update(views.log)
        self._pbar.update(views.pbar)

    def adopt(self, callback: Mapping[str, Any], logged: Mapping[str, Any], pbar: Mapping[str, Any]) -> None:
        """Take the three dictionaries another process computed (rank 0 of a ddp_spawn run)."""
        self._runs.clear()
        self._callback, self._logged, self._pbar = dict(callback), dict(logged), dict(pbar)

    def _reset_dicts(self) -> None:
        self._callback, self._logged, self._pbar = {}, {}, {}
        self._unmerged = None

    # ------------------------------------------------------------------ self.log
    def log(self, fx: str | None, name: str, value: Any, prog_bar: bool = False, logger: bool | None = None,
            on_step: bool | None = None, on_epoch: bool | None = None, reduce_fx: Any = "mean",
            enable_graph: bool = False, sync_dist: bool = False, sync_dist_group: Any = None,
            add_dataloader_idx: bool = True, batch_size: int | None = None, metric_attribute: str | None = None,
            rank_zero_only: bool = False) -> None:
        """`StateModule.log` lands here with `fx` = the hook running now. A name logged again with the same
        arguments in the same loop goes straight to its slot (`_fast_log`): what the first call decided holds."""
        key = (fx, name, prog_bar, logger, on_step, on_epoch, reduce_fx, enable_graph, sync_dist, add_dataloader_idx,
               rank_zero_only)
        if sync_dist_group is None and self._fast_log(key, value, batch_size):
            return
        value = to_loggable(name, value, self.device)
        if self.barebones:
            self._warn_once("`self.log` is ignored because the Trainer runs with `barebones=True`.")
            return
        on_step, on_epoch = resolve_levels(fx, name, on_step, on_epoch)
        collection = self._checked_collection(fx, name, on_step, on_epoch, add_dataloader_idx)
        options = LogOptions(
            fx=fx, name=name, prog_bar=bool(prog_bar), logger=True if logger is None else bool(logger),
            on_step=on_step, on_epoch=on_epoch, reduce=parse_reduce_fx(name, reduce_fx),
            enable_graph=bool(enable_graph), add_dataloader_idx=bool(add_dataloader_idx),
            dataloader_idx=collection.dataloader_idx, sync_dist=bool(sync_dist), sync_dist_group=sync_dist_group,
            rank_zero_only=bool(rank_zero_only))
        if self._current_fx != fx and self._first_iter in (None, True):
            collection.reset(tensors_only=True, fx=fx)    # first call of this hook in a new loop or epoch
        if logger is True and not list(self.loggers()):
            self._warn_once(f"`self.log({name!r}, ..., logger=True)` was called but the Trainer has no logger.")
        slot = collection.log(options, value, batch_size)
        self._current_fx = fx
        if slot.is_tensor and sync_dist_group is None:
            self._slots_seen[key] = (collection, slot, collection.dataloader_idx)

    def _fast_log(self, key: tuple, value: Any, batch_size: int | None) -> bool:
        """The same call as one already made in this loop: the value goes straight to its slot.

        A step-only slot (no epoch aggregate, no sync) keeps the 0-d float tensor as it is; it is detached
        where something reads it (`MetricSlot.value`). Other single-element float tensors are detached and
        added to the running aggregate."""
        seen = self._slots_seen.get(key)
        if seen is None or type(value) is not torch.Tensor:
            return False
        collection, slot, dataloader_idx = seen
        runs = self._runs
        if not runs or runs[-1].collection is not collection or collection.dataloader_idx != dataloader_idx:
            return False
        if self._current_fx != key[0] and self._first_iter is not False:
            return False  # the first call of this hook in a new loop or epoch resets its values: the full path
        if slot.step_only and value.ndim == 0 and value.dtype in _KEPT_AS_IS:
            slot.take_step(value)
            return True
        if value.numel() != 1 or not value.is_floating_point():
            return False
        value = value.detach()
        slot.update(value if value.dim() == 0 else value.squeeze(), collection._batch_size(slot, batch_size))
        return True

    def log_dict(self, fx: str | None, dictionary: Mapping[str, Any], **options: Any) -> None:
        """`log` for every item of a mapping (options shared)."""
        for name, value in dictionary.items():
            self.log(fx, name, value, **options)

    def _checked_collection(self, fx: str, name: str, on_step: bool, on_epoch: bool,
                            add_dataloader_idx: bool) -> MetricCollection:
        collection = self._collection()
        if collection is None:
            raise MisconfigurationError(
                f"`self.log({name!r})` was called inside `{fx}` while no training, validation or test loop runs; "
                "accepted: calls made while `fit`, `validate` or `test` runs (predict cannot log).")
        if add_dataloader_idx and "/dataloader_idx_" in name:
            raise MisconfigurationError(
                f"`self.log({name!r})` names a dataloader although `add_dataloader_idx=True` adds the suffix "
                "itself; accepted: a name without '/dataloader_idx_', or `add_dataloader_idx=False`.")
        if not on_step and not on_epoch:
            raise MisconfigurationError(
                f"`self.log({name!r}, on_step=False, on_epoch=False)` inside `{fx}` would record nothing; "
                "accepted: on_step=True and/or on_epoch=True.")
        return collection

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(message, UserWarning, stacklevel=4)

    # ------------------------------------------------------------------ call points of the loops
    def begin_run(self, stage: str) -> None:
        """A loop run starts: training (once per fit), a validation run, the sanity check, test, predict.

        Only a validation run nests (inside a training epoch, or as the sanity check's run); any
        other start ends whatever was left open (a fit that failed, a fit whose end was not told).
        """
        if stage not in STAGES:
            raise MisconfigurationError(f"`begin_run` got stage {stage!r}; accepted: {', '.join(STAGES)}.")
        self._flush()
        top = self._top()
        if stage == "train" and top is not None and top.stage == "train" and top.between_epochs:
            return                              # a loop that announces every epoch: same fit
        if stage == "validate" and top is not None and top.stage == "sanity_check":
            self._runs.append(_Run("sanity_check", top.collection, inner=True, requested=stage))
            return
        if stage == "validate" and top is not None and top.stage == "train" and not top.between_epochs:
            run = _Run(stage, MetricCollection(False, self._sync), nested=True, saved_first_iter=self._first_iter)
        else:
            self._runs.clear()
            run = self._fresh_run(stage)
            if stage == "train" and self._resume is not None:
                self._apply_resume(run)
        if stage in _EVAL:
            self._eval_outputs, self._previous_dl = [], 0
        run.requested = stage
        self._runs.append(run)

    def _fresh_run(self, stage: str) -> _Run:
        self._reset_dicts()
        self._slots_seen.clear()
        self._first_iter, self._current_fx, self._pending_step = None, None, False
        if stage in ("train", "validate", "test"):
            self._eval_steps = defaultdict(int)     # the dataloaders are set up anew
        if stage == "train":
            self._last_global_step = None
        collection = None if stage == "predict" else MetricCollection(stage == "train", self._sync)
        return _Run(stage, collection)

    def begin_batch(self, batch: Any, batch_idx: int = 0, dataloader_idx: int = 0, num_dataloaders: int = 1) -> None:
        """After batch transfer, before `on_*_batch_start` (per batch: kept to attribute work)."""
        run = self._runs[-1] if self._runs else None
        if run is None or run.collection is None:
            return
        if run.stage == "train":
            if self._pending_step:
                self._apply_pending_step()
            run.between_epochs = False
        elif dataloader_idx != self._previous_dl:
            self._store_dataloader_outputs(run.collection)
        self._previous_dl = dataloader_idx
        self._first_iter = True if self._first_iter is None else False
        collection = run.collection
        collection.batch, collection.batch_size = batch, None
        several = run.stage != "train" and num_dataloaders > 1
        collection.dataloader_idx = dataloader_idx if several else None

    def end_batch(self, stage: str, global_step: int, epoch: int, is_last_batch: bool = False,
                  stepped: bool | None = None) -> None:
        """After `on_*_batch_end`. `stepped`: False when automatic optimization accumulates this batch."""
        run = self._runs[-1] if self._runs else None
        if run is None or run.collection is None:
            return
        collection = run.collection
        if collection.slots:  # merged into the dictionaries when they are read or the loop moves on
            self._unmerged = collection
        collection.batch, collection.batch_size = None, None
        if run.stage == "train":
            if stepped is None or stepped:
                self._end_train_batch(collection, global_step, epoch, stepped)
            else:
                self._last_global_step = global_step
        elif run.stage != "sanity_check":
            self._emit(collection.views(True).log, epoch, step=self._eval_steps[self._previous_dl])
            self._eval_steps[self._previous_dl] += 1

    def _end_train_batch(self, collection: MetricCollection, global_step: int, epoch: int,
                         stepped: bool | None) -> None:
        if stepped is None:             # infer: did an optimizer step happen since the last batch?
            last = self.batches_that_stepped if self._last_global_step is None else self._last_global_step
            stepped = global_step != last
        self._last_global_step = global_step
        if not stepped:
            return
        if collection.slots and self._should_log_step():
            self._emit(collection.views(True).log, epoch)
        self._pending_step = True      # counted after a validation run this batch may trigger

    def _should_log_step(self) -> bool:
        if self.fast_dev_run:
            return True
        if not self.log_every_n_steps:
            return False
        return (self.batches_that_stepped + 1) % self.log_every_n_steps == 0 or self._stop_requested()

    def _stop_requested(self) -> bool:
        rules = self.stop_rules
        return rules.should_stop if rules is not None else bool(self.should_stop())

    def _apply_pending_step(self) -> None:
        if not self._pending_step:
            return
        self._pending_step = False
        self.batches_that_stepped += 1
        if self._stop_requested() and self.rank_zero:
            for logger in self.loggers():
                logger.save()

    def epoch_end_reached(self, stage: str) -> None:
        """Before the `on_*_epoch_end` hooks."""
        run = self._top()
        if run is None or run.collection is None:
            return
        if run.stage == "train":
            self._apply_pending_step()
            self._first_iter = None
        else:
            self._store_dataloader_outputs(run.collection)
            run.collection.dataloader_idx = None

    def _store_dataloader_outputs(self, collection: MetricCollection) -> None:
        self._first_iter = None
        self._eval_outputs.append(self._eval_epoch_views(collection))

    def _eval_epoch_views(self, collection: MetricCollection) -> dict[str, torch.Tensor]:
        if self._top().stage == "sanity_check":
            return {}
        views = collection.views(False)
        self._merge(views)
        return views.log

    def end_epoch(self, stage: str, global_step: int, epoch: int) -> list[dict[str, float]] | None:
        """After the `on_*_epoch_end` hooks; validate/test/sanity: the results, one dict per dataloader."""
        run = self._top()
        if run is None or run.collection is None:
            return None
        collection = run.collection
        self._flush()
        self._merge(collection.views(self._first_iter is not None))
        self._current_fx = None
        if run.stage == "train":
            self._emit(collection.views(False).log, epoch, default_step=self.batches_that_stepped - 1)
            collection.reset()
            self._first_iter = None
            run.between_epochs = True
            return None
        return self._end_eval_epoch(run, collection, epoch)

    def _end_eval_epoch(self, run: _Run, collection: MetricCollection, epoch: int) -> list[dict[str, float]]:
        epoch_outputs = self._eval_epoch_views(collection)
        outputs, self._eval_outputs = self._eval_outputs, []
        merged = dict(ChainMap(*outputs))
        merged.update(epoch_outputs)
        for output in outputs:
            output.update(epoch_outputs)
        if run.stage != "sanity_check":
            self._emit(merged, epoch)
        return [{name: value.item() for name, value in output.items()} for output in outputs]

    def end_run(self, stage: str) -> None:
        """After `on_validation_end` / `on_test_end` / `on_train_end` / `on_sanity_check_end`."""
        if not self._runs or self._runs[-1].requested != stage:
            return
        self._flush()
        run = self._runs.pop()
        if run.inner or run.collection is None:
            return
        if run.stage != "train":
            run.collection.reset()
            self._first_iter, self._current_fx = None, None
        if run.nested:
            self._first_iter = run.saved_first_iter
        elif run.stage != "sanity_check":   # sanity values stay visible (on_sanity_check_end) until the next run
            self._to_cpu()

    def abort(self) -> None:
        """A call ended by an exception: close every open run; the dictionaries keep their values."""
        self._flush()
        self._runs.clear()
        self._first_iter, self._current_fx, self._pending_step = None, None, False
        self._eval_outputs = []
        self._to_cpu()

    # ------------------------------------------------------------------ loggers
    def _emit(self, metrics: dict[str, torch.Tensor], epoch: int, step: int | None = None,
              default_step: int | None = None) -> None:
        loggers = list(self.loggers())
        if not loggers or not metrics:
            return
        self._logged.update(metrics)
        scalars = {name: _item(name, value) for name, value in metrics.items()}
        if step is None:
            user_step = scalars.pop("step", None)
            if user_step is not None:
                step = int(user_step)
            else:
                scalars.setdefault("epoch", epoch)
                step = self.batches_that_stepped if default_step is None else default_step
        if not self.rank_zero:
            return
        for logger in loggers:
            logger.log_metrics(metrics=scalars, step=step)
            logger.save()

    # ------------------------------------------------------------------ helpers
    def _top(self) -> _Run | None:
        return self._runs[-1] if self._runs else None

    def _collection(self) -> MetricCollection | None:
        run = self._top()
        return run.collection if run is not None else None

    def _sync(self, tensor: torch.Tensor, reduce_op: str | None = None, group: Any = None) -> torch.Tensor:
        return self.sync(tensor, reduce_op=reduce_op, group=group)

    def _to_cpu(self) -> None:
        self._callback = {k: v.cpu() for k, v in self._callback.items()}
        self._logged = {k: v.cpu() for k, v in self._logged.items()}

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs to continue as if never stopped: the logger step counter, the three
        dictionaries (a scheduler or EarlyStopping may read a metric before it is logged again) and,
        inside a training epoch, the running epoch aggregates of the training run."""
        self._flush()
        state: dict[str, Any] = {"batches_that_stepped": self.batches_that_stepped,
                                 "callback": dict(self._callback), "logged": dict(self._logged),
                                 "pbar": dict(self._pbar)}
        train = next((run for run in self._runs if run.stage == "train"), None)
        if train is not None and train.collection is not None and not train.between_epochs:
            nested = self._top() is not train
            state["train"] = {"slots": train.collection.state_dict(),
                              "first_iter": self._first_iter if not nested else self._runs[-1].saved_first_iter,
                              "pending_step": self._pending_step if not nested else False,
                              "last_global_step": self._last_global_step}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.batches_that_stepped = int(state.get("batches_that_stepped", 0))
        self._resume = dict(state)

    def _apply_resume(self, run: _Run) -> None:
        """On the training run a resume opens: the dictionaries and the epoch aggregates as saved."""
        saved, self._resume = self._resume, None
        self._callback.update(saved.get("callback", {}))
        self._logged.update(saved.get("logged", {}))
        self._pbar.update(saved.get("pbar", {}))
        train = saved.get("train")
        if train and run.collection is not None:
            run.collection.load_state_dict(train["slots"])
            run.between_epochs = False
            self._first_iter = train["first_iter"]
            self._current_fx = None if train["first_iter"] is None else "training_step"
            self._pending_step = bool(train["pending_step"])
            self._last_global_step = train["last_global_step"]


def _item(name: str, value: torch.Tensor) -> float:
    if value.numel() != 1:
        raise MisconfigurationError(f"The value logged as {name!r} has {value.numel()} elements; accepted: a single "
                                    "element to send it to a logger.")
    return value.item()
