"""What happens to the loaders around the batches, differential with Lightning: set_epoch calls, reload
epochs, worker processes stopped at teardown, the loaders the trainer shows after a call, and the
one-line warnings about validation data without a validation_step (or the reverse)."""
from __future__ import annotations

import warnings
from unittest.mock import Mock

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler
from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

import statetrainer as st
from tests.core.helpers import QUIET
from tests.core.test_combined_loaders import _ints, _lib, recorder_class


def _trainer(lib, **flags):
    trainer_cls = _lib(lib)[0]
    extra = {"accelerator": "cpu"} if lib == "pl" else {}
    return trainer_cls(**{**QUIET, **extra, **flags})


def _sampled(batch_sampler: bool) -> DataLoader:
    data = torch.arange(8, dtype=torch.float32)
    sampler = RandomSampler(data, generator=torch.Generator().manual_seed(0))
    sampler.set_epoch = Mock()
    if batch_sampler:
        return DataLoader(data, batch_sampler=BatchSampler(sampler, 2, drop_last=True))
    return DataLoader(data, sampler=sampler)


def _set_epoch_calls(loader) -> list:
    sampler = loader.batch_sampler.sampler if isinstance(loader.batch_sampler, BatchSampler) else loader.sampler
    return [call.args for call in sampler.set_epoch.mock_calls]


@pytest.mark.parametrize("batch_sampler", [False, True])
def test_set_epoch_once_per_epoch_on_train_and_val_samplers(batch_sampler):
    seen = {}
    for lib in ("st", "pl"):
        train, val, later = _sampled(batch_sampler), _sampled(batch_sampler), _sampled(batch_sampler)
        trainer, module = _trainer(lib, max_epochs=2, limit_train_batches=1, limit_val_batches=1), \
            recorder_class(_lib(lib)[1])()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(module, train, val)
            trainer.validate(module, later, verbose=False)
        seen[lib] = (_set_epoch_calls(train), _set_epoch_calls(val), _set_epoch_calls(later))
    assert seen["st"] == seen["pl"] == ([(0,), (1,)], [(0,), (0,), (1,)], [(2,)])


def _loads(lib, sanity, every, reload):
    _, base, _ = _lib(lib)
    loads = []

    class Module(recorder_class(base)):
        def train_dataloader(self):
            loads.append(("train", self.current_epoch))
            return _ints(2)

        def val_dataloader(self):
            loads.append(("val", self.current_epoch, self.trainer.sanity_checking))
            return _ints(2)

    trainer = _trainer(lib, max_epochs=6, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=sanity,
                       check_val_every_n_epoch=every, reload_dataloaders_every_n_epochs=reload)
    module = Module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module)
    return loads, [(epoch, idx) for epoch, idx, _, _ in module.validated]


@pytest.mark.parametrize("sanity, every, reload", [(1, 2, 2), (1, 3, 4), (0, 3, 2), (1, 1, 2), (2, 2, 1)])
def test_reload_epochs_as_lightning(sanity, every, reload):
    assert _loads("st", sanity, every, reload) == _loads("pl", sanity, every, reload)


class _Counting(DataLoader):
    """A DataLoader (one worker) that records `current_epoch` whenever its worker processes are stopped."""

    def __init__(self, *args, trainer_ref, **kwargs):
        super().__init__(*args, **kwargs)
        self.stops, self._trainer_ref = [], trainer_ref

    def _get_iterator(self):
        loader = self

        class Iterator(_MultiProcessingDataLoaderIter):
            def _shutdown_workers(self):
                loader.stops.append(loader._trainer_ref[0].current_epoch)
                super()._shutdown_workers()
        return Iterator(self)


@pytest.mark.parametrize("persistent", [False, True])
def test_worker_processes_stop_at_teardown(persistent):
    seen = {}
    for lib in ("st", "pl"):
        ref = [_trainer(lib, max_epochs=2, limit_train_batches=2, limit_val_batches=1)]
        make = lambda: _Counting(torch.arange(8, dtype=torch.float32), num_workers=1, persistent_workers=persistent,
                                 multiprocessing_context="fork", trainer_ref=ref)  # noqa: E731
        train, val = make(), make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref[0].fit(recorder_class(_lib(lib)[1])(), train, val)
        seen[lib] = (train.stops, val.stops)
    expected = ([2, 2], [2, 2]) if persistent else ([1, 2], [0, 1, 2])
    assert seen["st"] == seen["pl"] == expected


def test_loaders_stay_readable_after_the_call_until_the_next():
    for lib in ("st", "pl"):
        train, val = _ints(4), [_ints(2), _ints(3)]
        trainer, module = _trainer(lib, max_epochs=1), recorder_class(_lib(lib)[1])()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(module, train, val)
            assert trainer.train_dataloader is train and trainer.val_dataloaders == val
            assert trainer.num_val_batches == [2, 3]
            trainer.predict(module, {"a": _ints(1)})
        assert trainer.train_dataloader is None and trainer.val_dataloaders is None
        assert list(trainer.predict_dataloaders) == ["a"]


@pytest.mark.parametrize("case", ["data_without_step", "step_without_data"])
def test_unused_validation_warns_once(case):
    seen = {}
    for lib in ("st", "pl"):
        base = recorder_class(_lib(lib)[1])
        module_cls = type("NoStep", (base,), {"validation_step": _lib(lib)[1].validation_step}) \
            if case == "data_without_step" else base
        trainer = _trainer(lib, max_epochs=1, limit_train_batches=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer.fit(module_cls(), _ints(2), _ints(2) if case == "data_without_step" else None)
        seen[lib] = [str(w.message) for w in caught if "validation" in str(w.message).lower()
                     and ("validation_step" in str(w.message))]
    assert len(seen["st"]) == len(seen["pl"]) == 1
    assert {"data_without_step": "defines no `validation_step`",
            "step_without_data": "defines `validation_step` but no validation data"}[case] in seen["st"][0]
