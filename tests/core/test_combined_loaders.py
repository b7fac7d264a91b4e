"""Several train loaders and CombinedLoader, differential with Lightning: the batches each step gets,
batch_idx / dataloader_idx, counts, limits, the loaders the trainer shows afterwards."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils.data import DataLoader

import statetrainer as st
from statetrainer.utilities import CombinedLoader
from statetrainer.utilities.combined_loader import CombinedLoader as CombinedLoaderByPath
from tests.core.helpers import QUIET, lightning

MODES = ("min_size", "max_size_cycle", "max_size", "sequential")


def _lib(name):
    if name == "st":
        return st.Trainer, st.StateModule, CombinedLoader
    pl = lightning()
    from lightning.pytorch.utilities import CombinedLoader as PLCombined
    return pl.Trainer, pl.LightningModule, PLCombined


def _plain(batch):
    """A batch as plain data (tensors as lists) so the two libraries' batches compare."""
    if isinstance(batch, torch.Tensor):
        return batch.tolist()
    if isinstance(batch, dict):
        return {key: _plain(value) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_plain(item) for item in batch) if not hasattr(batch, "_fields") else tuple(map(_plain, batch))
    return batch


def recorder_class(base):
    class Recorder(base):
        def __init__(self, train=None, val=None):
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)
            self.trained, self.validated, self.hooks = [], [], []
            self._train, self._val = train, val

        def training_step(self, batch, batch_idx):
            self.trained.append((self.current_epoch, batch_idx, _plain(batch)))
            return self.layer(torch.ones(1, 1)).sum()

        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            self.validated.append((self.current_epoch, batch_idx, dataloader_idx, _plain(batch)))

        def on_train_batch_start(self, batch, batch_idx):
            self.hooks.append(("on_train_batch_start", batch_idx))

        def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            self.hooks.append(("on_validation_batch_end", batch_idx, dataloader_idx))

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            return batch

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return Recorder


def _ints(n, batch_size=1, start=0):
    return DataLoader(torch.arange(start, start + n, dtype=torch.float32), batch_size=batch_size)


def _fit(lib, make_train, make_val=None, flags=None, hook=False, quiet=True):
    trainer_cls, module_base, combined_cls = _lib(lib)
    train = make_train(combined_cls)
    val = make_val(combined_cls) if make_val else None
    module = recorder_class(module_base)()
    if hook:
        type(module).train_dataloader = lambda self: train
    extra = {"accelerator": "cpu"} if lib == "pl" else {}
    trainer = trainer_cls(**QUIET, **extra, **{"max_epochs": 2, "num_sanity_val_steps": 0, **(flags or {})})
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        if hook:
            trainer.fit(module, val_dataloaders=val)
        else:
            trainer.fit(module, train, val)
    return trainer, module


def _compare(make_train, make_val=None, flags=None, hook=False):
    (ours, ours_module), (theirs, their_module) = (_fit(lib, make_train, make_val, flags, hook) for lib in ("st", "pl"))
    assert ours_module.trained == their_module.trained
    assert ours_module.validated == their_module.validated
    assert ours_module.hooks == their_module.hooks
    assert ours.num_training_batches == theirs.num_training_batches
    assert ours.global_step == theirs.global_step
    assert ours.num_val_batches == theirs.num_val_batches
    return ours, theirs, ours_module


def test_combined_loader_has_lightnings_paths():
    assert CombinedLoader is CombinedLoaderByPath
    assert st.utilities.CombinedLoader is CombinedLoader


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("limits", [None, 2, 0])
def test_combined_loader_yields_what_lightnings_yields(mode, limits):
    """Every mode over a nested structure, with and without limits: batches, indices, length."""
    _, _, theirs_cls = _lib("pl")

    def walk(cls):
        loaders = {"a": _ints(6, 4), "b": [_ints(15, 5), _ints(2)], "c": [1, 2, 3]}
        combined = cls(loaders, mode)
        if limits is not None:
            combined.limits = limits
        iter(combined)
        length = len(combined)
        samplers = {key: type(value).__name__ for key, value in combined.sampler.items()}
        return length, [(_plain(batch), idx, dl_idx) for batch, idx, dl_idx in combined], samplers

    ours, theirs = walk(CombinedLoader), walk(theirs_cls)
    assert ours == theirs
    assert [type(s).__name__ for s in CombinedLoader({"a": _ints(2)}).sampler.values()] == ["SequentialSampler"]


def test_combined_loader_refuses_an_unknown_mode_and_len_before_iter():
    with pytest.raises(ValueError, match=r"mode='zip'; accepted: 'min_size', 'max_size_cycle', 'max_size', "
                                         r"'sequential'"):
        CombinedLoader([_ints(2)], "zip")
    combined = CombinedLoader([_ints(2), _ints(3)])
    with pytest.raises(RuntimeError, match="call iter"):
        len(combined)
    assert combined.batches_per_pass() == 2
    with pytest.raises(ValueError, match="got 1 iterables; accepted: a list of 2"):
        combined.flattened = [_ints(1)]


@pytest.mark.parametrize("structure", ["list", "dict", "single_in_list", "nested"])
def test_several_train_loaders_as_lightning(structure):
    """fit(train_dataloaders=[...] / {...}): one batch of each loader per step (max_size_cycle)."""
    def make(_):
        return {"list": lambda: [_ints(5), _ints(3, start=100)],
                "dict": lambda: {"a": _ints(4, 2), "b": _ints(7, start=100)},
                "single_in_list": lambda: [_ints(3)],
                "nested": lambda: {"x": [_ints(2), _ints(3, start=10)], "y": (_ints(4, start=50),)}}[structure]()
    ours, theirs, module = _compare(make)
    assert type(ours.train_dataloader) is type(theirs.train_dataloader)
    assert module.trained


@pytest.mark.parametrize("mode", ["min_size", "max_size_cycle", "max_size"])
def test_a_train_combined_loader_from_the_hook_as_lightning(mode):
    ours, theirs, _ = _compare(lambda cls: cls({"a": _ints(3), "b": _ints(5, 2, start=10)}, mode), hook=True)
    # Lightning's trainer shows the loaders inside the CombinedLoader, not the CombinedLoader itself
    assert isinstance(ours.train_dataloader, dict) and isinstance(theirs.train_dataloader, dict)


@pytest.mark.parametrize("flags", [{"limit_train_batches": 2}, {"limit_train_batches": 0.5},
                                   {"limit_train_batches": 3, "val_check_interval": 2},
                                   {"limit_train_batches": 1e50, "accumulate_grad_batches": 2}])
def test_limits_over_several_train_loaders_as_lightning(flags):
    _compare(lambda cls: [_ints(7), _ints(3, start=100)], lambda cls: _ints(2, start=500), flags)


def test_sequential_mode_is_refused_for_training_after_epoch_start():
    """As Lightning: a ValueError once the epoch started (its on_train_epoch_start ran), with the
    number of batches already known."""
    match = {"st": "accepted for training: 'max_size_cycle', 'max_size' or 'min_size'", "pl": "sequential"}
    seen = {}
    for lib in ("st", "pl"):
        trainer_cls, module_base, combined_cls = _lib(lib)

        class Module(recorder_class(module_base)):
            def train_dataloader(self):
                return combined_cls([_ints(2), _ints(3)], "sequential")

            def on_train_epoch_start(self):
                self.hooks.append("on_train_epoch_start")

        module, trainer = Module(), trainer_cls(**QUIET, max_epochs=1, **({"accelerator": "cpu"} if lib == "pl" else {}))
        with pytest.raises(ValueError, match=match[lib]):
            trainer.fit(module)
        seen[lib] = (module.hooks, trainer.num_training_batches)
    assert seen["st"] == seen["pl"] == (["on_train_epoch_start"], 5)


@pytest.mark.parametrize("mode", MODES)
def test_validation_with_a_combined_loader_as_lightning(mode):
    """Validation reads several loaders one after the other (dataloader_idx passed) unless a
    CombinedLoader in another mode combines their batches (no dataloader_idx)."""
    _compare(lambda cls: _ints(2), lambda cls: cls([_ints(3), _ints(2, start=100)], mode))


def test_validation_loaders_shown_as_given():
    for given in ([_ints(2)], {"a": _ints(2), "b": _ints(1)}):
        ours, theirs, _ = _compare(lambda cls: _ints(2), lambda cls: given)
        assert type(ours.val_dataloaders) is type(theirs.val_dataloaders) is type(given)


def test_bad_train_dataloaders_name_the_argument():
    module = recorder_class(st.StateModule)()
    for bad in (42, [_ints(2), 42]):
        with pytest.raises(TypeError, match=r"`train_dataloaders` got 42 \(int\); accepted: a DataLoader or any "
                                            r"iterable of batches"):
            st.Trainer(max_epochs=1, **QUIET).fit(module, bad)

    class FromHook(recorder_class(st.StateModule)):
        def train_dataloader(self):
            return 7
    with pytest.raises(TypeError, match=r"`FromHook.train_dataloader\(\)` got 7"):
        st.Trainer(max_epochs=1, **QUIET).fit(FromHook())


def test_an_empty_loader_among_several_is_named():
    with pytest.warns(UserWarning, match=r"the train dataloader #1 \(of 2 combined\) has length 0"):
        trainer, _ = _fit("st", lambda cls: [_ints(3), _ints(0)], quiet=False)
    assert trainer.num_training_batches == 3
