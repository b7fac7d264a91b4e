"""Where batches come from: the one owner of a run's loaders, their limits and reloads, the shape of an
epoch, batch transfer, and the state of every data source (saved and restored for an exact resume).

Loaders are loaded here and nowhere else, when the loop first needs them (Lightning calls the
*_dataloader hooks at those moments too). `prepare` is the one place a loader is adapted for the
run (unshuffled for overfit_batches; the strategy's distributed sampler goes in here).

Several loaders (a list, dict or tuple of them, or a CombinedLoader) are read as Lightning reads
them: training through a CombinedLoader in `max_size_cycle` mode unless the user chose another
(each batch holds one batch of every loader), evaluation one loader after the other (`sequential`)
unless the user's CombinedLoader says otherwise. A single loader is read directly.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

from torch.utils.data import DataLoader

from statetrainer.data.distributed import distributed_sampler_for
from statetrainer.errors import MisconfigurationError
from statetrainer.loop import data_state
from statetrainer.loop.cursor import EvalCursor
from statetrainer.loop.data import Fetcher, batches_of, combine, count_batches, set_sampler_epoch, without_shuffle
from statetrainer.loop.indexed import recording
from statetrainer.loop.sources import DataSources
from statetrainer.profilers import actions
from statetrainer.utilities.combined_loader import CombinedLoader, shutdown_workers

__all__ = ["Feed", "EvalCursor"]

_LIMIT_FLAG = {"train": "limit_train_batches", "val": "limit_val_batches", "test": "limit_test_batches",
               "predict": "limit_predict_batches"}


def _as_it_comes(batch: Any, dataloader_idx: int) -> Any:
    return batch


def _clock() -> float:
    return time.monotonic()  # looked up at each call, so a patched time.monotonic is the one read


def _names(kind: str, count: int) -> list:
    """How the warning about an empty loader names each of `count` loaders."""
    if count == 1:
        return [f"{kind} dataloader"]
    return [f"{kind} dataloader #{index} (of {count} combined)" for index in range(count)]


class Feed:
    """A run's loaders: train, validation in fit, and the loaders of validate/test/predict."""

    def __init__(self, sources: DataSources, config, position, transfer: Callable[[Any, int], Any] | None,
                 profiler=None, shown: Optional[dict] = None, split: Optional[dict] = None):
        self.sources = sources
        self.split = split  # {"num_replicas", "rank"}: each loader is cut to this rank's share (several processes)
        self.config = config
        self.position = position
        self.profiler = profiler
        # the precision/device/hook chain a batch goes through (None: nothing to do), and the fetches: profiler
        # rows when one is active
        self._transfer_needed = transfer is not None
        self.transfer = actions.timed(profiler, actions.TRANSFER, transfer or _as_it_comes)
        self._fetch = actions.timed(profiler, actions.FETCH_TRAIN, Fetcher.fetch)
        # what `trainer.*_dataloader(s)` show: the loaders last loaded, as given (kept after the call)
        self.shown = {} if shown is None else shown
        self.shown.clear()
        self.train_loader: Any = None                     # the one loader, or the CombinedLoader, read in training
        self.train_loaded_epoch: Optional[float] = None
        self.val_loaders: Optional[list] = None           # fit's validation loaders, flat
        self.val_limits: Optional[list] = None            # their batch counts
        self.val_loaded_epoch: Optional[float] = None
        self._val_streams: tuple = ([], [])               # what fit's validation iterates, and how far
        self.eval_loaders: Optional[list] = None          # validate/test/predict loaders, flat
        self.eval_limits: list = []
        self.cursor: Optional[EvalCursor] = None
        self._recorders: list = []                        # predict: each loader's IndexRecorder (or None)
        self._eval_source: Optional[str] = None           # val / test / predict while validate/test/predict runs
        self.fetcher: Optional[Fetcher] = None
        self._train_epoch_start: Optional[dict] = None   # data state of the train loader at the epoch's start
        self._val_start: Optional[list] = None           # val loaders' data state when an evaluation began
        self._saved: Optional[dict] = None               # what a checkpoint gave us to resume from
        position.clock = _clock if config.val_check_seconds is not None else None  # decided once per run

    def transfers(self) -> bool:
        """A batch goes through something before its step (precision conversion, transfer hooks, a device)."""
        return self._transfer_needed or self.profiler is not None

    # ------------------------------------------------------------------ loading
    def prepare(self, loader: Any, kind: str = "train") -> Any:
        """`loader` adapted to the run: unshuffled for overfit_batches (fit's loaders), and with several
        processes this rank's share of it (a DistributedSampler; prediction gets an unpadded share)."""
        if self.config.overfit_batches and kind in ("train", "val_in_fit"):
            loader = without_shuffle(loader)
        if self.split is not None and isinstance(loader, DataLoader):
            loader = distributed_sampler_for(loader, **self.split, even=kind != "predict")
        return loader

    def _reload_due(self, loaded_epoch: Optional[float]) -> bool:
        n = self.config.reload_dataloaders_every_n_epochs
        return bool(n) and loaded_epoch is not None and self.position.epoch - loaded_epoch >= n

    def train(self) -> Any:
        """The training loader, loaded (or reloaded when due) now; sets the epoch's shape."""
        if self.train_loader is None or self._reload_due(self.train_loaded_epoch):
            value = self.sources.load("train")
            combined = combine(value, "max_size_cycle")
            limit = self.config.limits["train"]
            if combined is None:
                self.train_loader = self.prepare(value)
                n = count_batches(self.train_loader, limit, "limit_train_batches")
                self.shown["train"] = self.train_loader
            else:
                combined.flattened = [self.prepare(loader) for loader in combined.flattened]
                names = _names("train", len(combined.flattened))
                combined.limits = [count_batches(loader, limit, "limit_train_batches", name)
                                   for loader, name in zip(combined.flattened, names)]
                self.train_loader, n = combined, combined.batches_per_pass()
                self.shown["train"] = combined.iterables
            self.train_loaded_epoch = self.position.epoch
            self._set_shape(n)
            if n:
                self.position.restart_clock()
            self._warn_short_epoch(n)
        return self.train_loader

    def _warn_short_epoch(self, n: float) -> None:
        """As Lightning: an epoch shorter than log_every_n_steps logs no training-step metrics."""
        cfg = self.config
        if cfg.logger is not False and not cfg.fast_dev_run and n < cfg.log_every_n_steps:
            import warnings
            warnings.warn(f"an epoch has {n} training batches, fewer than log_every_n_steps={cfg.log_every_n_steps}: "
                          "no training step of an epoch is logged (lower log_every_n_steps to see them).",
                          UserWarning, stacklevel=4)

    def _set_shape(self, n: float) -> None:
        shape, vci = self.position.shape, self.config.val_check_interval
        shape.epoch_length = n
        shape.val_check_seconds = self.config.val_check_seconds
        if shape.val_check_seconds is not None:
            shape.val_check_batch = math.inf  # validation follows the clock, not a batch count
        elif isinstance(vci, int):
            if vci > n and self.config.check_val_every_n_epoch is not None and shape.validation_enabled:
                raise MisconfigurationError(
                    f"`val_check_interval` got {vci}, more than the {n} training batches of an epoch; accepted: "
                    "an int <= the batches per epoch, a float fraction, or check_val_every_n_epoch=None to count "
                    "across epochs.")
            shape.val_check_batch = vci
        elif math.isinf(n):
            if vci != 1.0:
                raise MisconfigurationError(
                    f"`val_check_interval` got {vci} but the training loader has no length; accepted: an int "
                    "number of batches, a time, or 1.0 with check_val_every_n_epoch.")
            shape.val_check_batch = math.inf
        else:
            shape.val_check_batch = max(1, int(n * vci))

    def _load_eval(self, source: str, flag: str, prepare: Callable[[Any], Any]) -> tuple[list, list, list, list]:
        """(flat loaders, their counts, the streams the cursor reads, their counts) for `source`; records
        what the trainer's properties show. Several loaders are read one after the other unless a
        CombinedLoader with another mode combines their batches into one stream."""
        value = self.sources.load(source)
        combined = combine(value, "sequential")
        loaders = [prepare(value)] if combined is None else [prepare(loader) for loader in combined.flattened]
        names = _names(source, len(loaders))
        counts = [count_batches(loader, self.config.limits[source], flag, name) for loader, name in zip(loaders, names)]
        if combined is None:
            self.shown[source] = loaders[0]
            return loaders, counts, loaders, counts
        combined.flattened = loaders
        self.shown[source] = combined.iterables
        if combined.mode == "sequential":
            return loaders, counts, loaders, counts
        combined.limits = counts
        return loaders, counts, [batches_of(combined)], [combined.batches_per_pass()]

    def val(self) -> tuple[list, list]:
        """The validation streams of fit and their batch counts (reloaded when due)."""
        if self.val_loaders is None or self._reload_due(self.val_loaded_epoch):
            self.val_loaders, self.val_limits, *streams = self._load_eval("val", "limit_val_batches",
                                                                         lambda loader: self.prepare(loader, "val_in_fit"))
            self._val_streams = tuple(streams)
            # loaded for a sanity check in an epoch that does not validate: the first validation reloads (as Lightning)
            every = self.config.check_val_every_n_epoch
            validates = every is None or (self.position.epoch + 1) % every == 0
            self.val_loaded_epoch = self.position.epoch if validates else -math.inf
        return self._val_streams

    def evaluation(self, source: str) -> tuple[list, list]:
        """The streams of validate/test/predict (`source`: val, test, predict) and their counts. Predict
        iterates copies that record each batch's dataset indices (for prediction writers); the user's
        loaders are left as they are and `eval_loaders` shows them."""
        self._eval_source = source
        if self.config.limits[source] == 0:  # nothing to run: the *_dataloader hook is not called (as Lightning)
            self.eval_loaders, self.eval_limits, self._recorders = [], [], []
            return [], []
        self.eval_loaders, self.eval_limits, streams, limits = self._load_eval(source, _LIMIT_FLAG[source],
                                                                             lambda loader: self.prepare(loader, source))
        for loader in self.eval_loaders:
            set_sampler_epoch(loader, self.position.epochs_processed)
        if source != "predict":
            self._recorders = []
            return streams, limits
        pairs = [recording(loader) for loader in streams]
        self._recorders = [recorder for _, recorder in pairs]
        return [loader for loader, _ in pairs], limits

    def batch_indices(self) -> Optional[list]:
        """The dataset indices of the predict batch being run, or None when the loader cannot tell."""
        cursor = self.cursor
        if cursor is None or cursor.dl_idx >= len(self._recorders) or self._recorders[cursor.dl_idx] is None:
            return None
        return self._recorders[cursor.dl_idx].indices(cursor.batch_idx)

    def reload(self) -> None:
        """Load the run's loaders again from their hooks (a batch-size finder changed the batch size): the
        training loader now if it was loaded, fit's validation loaders at their next run, and the loaders
        of a validate/test/predict whose evaluation has not fetched a batch yet, now."""
        self.val_loaders = None
        if self.train_loader is not None:
            self.train_loader = None
            self.train()
        cursor = self.cursor
        if self._eval_source is not None and cursor is not None and cursor.dl_idx == 0 and cursor.batch_idx < 0:
            cursor.restart(*self.evaluation(self._eval_source))

    def close(self) -> None:
        """The call ends (or failed): drop the open iterators and stop the loaders' persistent worker
        processes, as Lightning does at teardown. The loaders stay readable through the trainer."""
        self.fetcher = None
        if self.cursor is not None:
            self.cursor.close()
        train = self.train_loader
        loaders = (train.flattened if isinstance(train, CombinedLoader) else [train]) if train is not None else []
        for loader in [*loaders, *(self.val_loaders or []), *(self.eval_loaders or [])]:
            shutdown_workers(loader)

    # ------------------------------------------------------------------ evaluation batches
    def begin_eval(self, loaders: list, limits: list, in_fit: bool, kind: str = "validation") -> EvalCursor:
        if in_fit:
            self._val_start = [data_state.capture(dl) for dl in self.val_loaders]
            for loader in self.val_loaders:  # some users shuffle validation by the training progress
                set_sampler_epoch(loader, self.position.epochs_processed)
        self.cursor = EvalCursor(loaders, limits, actions.timed(self.profiler, actions.FETCH_EVAL[kind], Fetcher.fetch))
        return self.cursor

    def end_eval(self, restore: bool) -> None:
        """`restore`: the sanity check leaves the validation loaders' generators as it found them."""
        if restore and self._val_start is not None and self.val_loaders is not None:
            for loader, state in zip(self.val_loaders, self._val_start):
                data_state.restore(loader, state, stateful=False)
        self._val_start = None

    def eval_has_next(self) -> bool:
        return self.cursor is not None and self.cursor.has_next()

    # ------------------------------------------------------------------ training batches
    def start_epoch(self, resuming: bool) -> None:
        """Open the epoch's iterator: set_epoch on the sampler, remember the data state it starts from,
        and on a mid-epoch resume bring the loader back to the saved batch."""
        loader = self.train()
        if isinstance(loader, CombinedLoader) and loader.mode == "sequential":
            raise ValueError("training got a CombinedLoader with mode='sequential'; accepted for training: "
                             "'max_size_cycle', 'max_size' or 'min_size' (each batch holds one batch of every loader).")
        set_sampler_epoch(loader, self.position.epochs_processed)
        p, n = self.position, self.position.shape.epoch_length
        saved = self._saved if resuming else None
        skip, already = 0, 0
        if saved is not None and saved.get("now") and p.epoch_data_ended():
            data_state.restore(loader, saved["now"])  # the epoch's data was used up: nothing to iterate
            self._train_epoch_start, self._saved = saved.get("epoch_start"), None
            self.fetcher = Fetcher((), 0)
            return
        if saved is not None and saved.get("stateful") and p.replay_exact and saved.get("now"):
            data_state.restore(loader, saved["now"])  # the source continues from where it was: no replay
            self._train_epoch_start = saved.get("epoch_start")
            already = p.batches_seen
        elif saved is None:  # a new epoch (skip 0), or no data state was saved (a Lightning file): replay as is
            self._train_epoch_start = data_state.capture(loader)
            skip = p.batches_seen
        else:
            data_state.restore(loader, saved.get("epoch_start"))
            from statetrainer.loop import rng
            if p.rng_epoch_start is not None:
                rng.restore(p.rng_epoch_start)
            self._train_epoch_start = saved.get("epoch_start")
            skip = p.batches_seen
        self._saved = None
        track = (lambda: data_state.capture(loader)) if data_state.is_stateful(loader) else None
        source = batches_of(loader) if isinstance(loader, CombinedLoader) else loader
        self.fetcher = Fetcher(source, n, skip=skip, already=already, track=track)

    def has_next_train(self) -> bool:
        return self.fetcher is not None and self.fetcher.has_next()

    def fetch_train(self) -> Any:
        """The next training batch (not yet transferred); StopIteration when the loader ended early.
        `fetcher.done` then tells whether it was the epoch's last."""
        return self._fetch(self.fetcher)

    # ------------------------------------------------------------------ saving and restoring
    def state_dict(self) -> dict[str, Any]:
        loader = self.train_loader
        if loader is None:
            return {}
        stateful = data_state.is_stateful(loader)
        now = None
        if self.position.phase not in ("batch_running",):
            tracked = self.fetcher.tracked if self.fetcher is not None else None
            now = tracked if tracked is not None else data_state.capture(loader)
        state = {"epoch_start": self._train_epoch_start, "now": now, "stateful": stateful}
        if self.val_loaders:
            state["val"] = self._val_start or [data_state.capture(dl) for dl in self.val_loaders]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Keep what to resume from; applied when the loaders exist (boundary: at once, mid-epoch: at
        the epoch's start)."""
        self._saved = dict(state) if state else None

    def apply_boundary_state(self) -> None:
        """Resumed between epochs: the loaders' generators continue from where they were saved."""
        saved, self._saved = self._saved, None
        if not saved:
            return
        if saved.get("now") is not None:
            data_state.restore(self.train(), saved["now"])
        self._restore_val(saved)

    def _restore_val(self, saved: dict) -> None:
        if saved.get("val") and self.position.shape.validation_enabled:
            self.val()
            for loader, state in zip(self.val_loaders, saved["val"]):
                data_state.restore(loader, state)

    def apply_mid_epoch_val_state(self) -> None:
        if self._saved:
            self._restore_val(self._saved)
