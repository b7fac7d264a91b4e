"""Where batches come from: the one owner of a run's loaders, their limits and reloads, the shape of an
epoch, batch transfer, and the state of every data source (saved and restored for an exact resume).

Loaders are loaded here and nowhere else, when the loop first needs them (Lightning calls the
*_dataloader hooks at those moments too). `prepare` is the one place a loader is adapted for the
run (unshuffled for overfit_batches; the strategy's distributed sampler goes in here).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

from torch.utils.data import DataLoader

from statetrainer.data.distributed import distributed_sampler_for
from statetrainer.errors import MisconfigurationError
from statetrainer.loop import data_state
from statetrainer.loop.data import Fetcher, count_batches, set_sampler_epoch, without_shuffle
from statetrainer.loop.indexed import recording
from statetrainer.loop.sources import DataSources
from statetrainer.profilers import actions

__all__ = ["Feed", "EvalCursor"]

_LIMIT_FLAG = {"train": "limit_train_batches", "val": "limit_val_batches", "test": "limit_test_batches",
               "predict": "limit_predict_batches"}


class EvalCursor:
    """Iterates several evaluation loaders in sequence, one batch per fetch."""

    def __init__(self, loaders: list, limits: list, fetch: Callable[[Fetcher], Any] = Fetcher.fetch):
        self.loaders = loaders
        self.limits = limits
        self._fetch = fetch
        self.dl_idx = 0
        self.batch_idx = -1
        self._fetcher: Optional[Fetcher] = None

    def has_next(self) -> bool:
        while self.dl_idx < len(self.loaders):
            if self._fetcher is None:
                self._fetcher = Fetcher(self.loaders[self.dl_idx], self.limits[self.dl_idx])
                self.batch_idx = -1
            if self._fetcher.has_next():
                return True
            self._fetcher = None
            self.dl_idx += 1
        return False

    def fetch(self) -> tuple[Any, int, int]:
        """(batch, batch_idx, dataloader_idx); call after has_next() said True."""
        batch = self._fetch(self._fetcher)
        self.batch_idx += 1
        return batch, self.batch_idx, self.dl_idx

    def restart(self, loaders: list, limits: list) -> None:
        """Iterate `loaders` instead, from their start (nothing was fetched yet)."""
        self.loaders, self.limits = loaders, limits
        self.dl_idx, self.batch_idx, self._fetcher = 0, -1, None

    def at_last_of_loader(self) -> bool:
        return not self._fetcher.has_next()

    @property
    def empty(self) -> bool:
        return sum(self.limits) == 0


class Feed:
    """A run's loaders: train (one), validation in fit, and the loaders of validate/test/predict."""

    def __init__(self, sources: DataSources, config, position, transfer: Callable[[Any, int], Any],
                 profiler=None, split: Optional[dict] = None):
        self.sources = sources
        self.split = split  # {"num_replicas", "rank"}: each loader is cut to this rank's share (several processes)
        self.config = config
        self.position = position
        self.profiler = profiler
        # the precision/device/hook chain a batch goes through, and the fetches: profiler rows when one is active
        self.transfer = actions.timed(profiler, actions.TRANSFER, transfer)
        self._fetch = actions.timed(profiler, actions.FETCH_TRAIN, Fetcher.fetch)
        self.train_loader: Any = None
        self.train_loaded_epoch: Optional[int] = None
        self.val_loaders: Optional[list] = None
        self.val_limits: Optional[list] = None
        self.val_loaded_epoch: Optional[int] = None
        self.eval_loaders: Optional[list] = None
        self.eval_limits: list = []
        self.cursor: Optional[EvalCursor] = None
        self._recorders: list = []                        # predict: each loader's IndexRecorder (or None)
        self._eval_source: Optional[str] = None           # val / test / predict while validate/test/predict runs
        self._fetcher: Optional[Fetcher] = None
        self._train_epoch_start: Optional[dict] = None   # data state of the train loader at the epoch's start
        self._val_start: Optional[list] = None           # val loaders' data state when an evaluation began
        self._saved: Optional[dict] = None               # what a checkpoint gave us to resume from

    # ------------------------------------------------------------------ loading
    def prepare(self, loader: Any, kind: str = "train") -> Any:
        """`loader` adapted to the run: unshuffled for overfit_batches (fit's loaders), and with several
        processes this rank's share of it (a DistributedSampler; prediction gets an unpadded share)."""
        if self.config.overfit_batches and kind in ("train", "val_in_fit"):
            loader = without_shuffle(loader)
        if self.split is not None and isinstance(loader, DataLoader):
            loader = distributed_sampler_for(loader, **self.split, even=kind != "predict")
        return loader

    def _reload_due(self, loaded_epoch: Optional[int]) -> bool:
        n = self.config.reload_dataloaders_every_n_epochs
        return bool(n) and loaded_epoch is not None and self.position.epoch - loaded_epoch >= n

    def train(self) -> Any:
        """The training loader, loaded (or reloaded when due) now; sets the epoch's shape."""
        if self.train_loader is None or self._reload_due(self.train_loaded_epoch):
            self.train_loader = self.prepare(self.sources.load("train")[0])
            self.train_loaded_epoch = self.position.epoch
            self._set_shape(count_batches(self.train_loader, self.config.limits["train"], "limit_train_batches"))
        return self.train_loader

    def _set_shape(self, n: float) -> None:
        shape, vci = self.position.shape, self.config.val_check_interval
        shape.epoch_length = n
        if isinstance(vci, int):
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
                    "number of batches, or 1.0 with check_val_every_n_epoch.")
            shape.val_check_batch = math.inf
        else:
            shape.val_check_batch = max(1, int(n * vci))

    def val(self) -> tuple[list, list]:
        """The validation loaders of fit and their batch counts (reloaded when due)."""
        if self.val_loaders is None or self._reload_due(self.val_loaded_epoch):
            self.val_loaders = [self.prepare(dl, "val_in_fit") for dl in self.sources.load("val")]
            self.val_loaded_epoch = self.position.epoch
            self.val_limits = [count_batches(dl, self.config.limits["val"], "limit_val_batches")
                               for dl in self.val_loaders]
        return self.val_loaders, self.val_limits

    def evaluation(self, source: str) -> tuple[list, list]:
        """The loaders of validate/test/predict (`source`: val, test, predict) and their counts. Predict
        iterates copies that record each batch's dataset indices (for prediction writers); the user's
        loaders are left as they are and `eval_loaders` shows them."""
        self._eval_source = source
        self.eval_loaders = [self.prepare(dl, source) for dl in self.sources.load(source)]
        self.eval_limits = [count_batches(dl, self.config.limits[source], _LIMIT_FLAG[source])
                            for dl in self.eval_loaders]
        if source != "predict":
            self._recorders = []
            return self.eval_loaders, self.eval_limits
        pairs = [recording(loader) for loader in self.eval_loaders]
        self._recorders = [recorder for _, recorder in pairs]
        return [loader for loader, _ in pairs], self.eval_limits

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

    # ------------------------------------------------------------------ evaluation batches
    def begin_eval(self, loaders: list, limits: list, in_fit: bool, kind: str = "validation") -> EvalCursor:
        if in_fit:
            self._val_start = [data_state.capture(dl) for dl in loaders]
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
        set_sampler_epoch(loader, self.position.epochs_processed)
        p, n = self.position, self.position.shape.epoch_length
        saved = self._saved if resuming else None
        skip, already = 0, 0
        if saved is not None and saved.get("now") and p.epoch_data_ended():
            data_state.restore(loader, saved["now"])  # the epoch's data was used up: nothing to iterate
            self._train_epoch_start, self._saved = saved.get("epoch_start"), None
            self._fetcher = Fetcher((), 0)
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
        self._fetcher = Fetcher(loader, n, skip=skip, already=already, track=track)

    def has_next_train(self) -> bool:
        return self._fetcher is not None and self._fetcher.has_next()

    def fetch_train(self) -> Any:
        """The next training batch (not yet transferred); StopIteration when the loader ended early."""
        return self._fetch(self._fetcher)

    @property
    def fetched_last(self) -> bool:
        return self._fetcher.done

    # ------------------------------------------------------------------ saving and restoring
    def state_dict(self) -> dict[str, Any]:
        loader = self.train_loader
        if loader is None:
            return {}
        stateful = data_state.is_stateful(loader)
        now = None
        if self.position.phase not in ("batch_running",):
            tracked = self._fetcher.tracked if self._fetcher is not None else None
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
            loaders, _ = self.val()
            for loader, state in zip(loaders, saved["val"]):
                data_state.restore(loader, state)

    def apply_mid_epoch_val_state(self) -> None:
        if self._saved:
            self._restore_val(self._saved)
