"""Data handling: overfit_batches, reloading, iterable datasets, limits, empty loaders, several
evaluation loaders, DataModules and batch transfer."""
from __future__ import annotations

import dataclasses
import warnings
from collections import namedtuple

import pytest
import torch
from torch.utils.data import DataLoader

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.loop.transfer import move_to_device
from tests.core.helpers import QUIET, Stream, Tiny, counter_class, lightning, loader, tiny_class


def probe_class(base):
    """Tiny recording the first feature of every batch it trains and validates on, and its loader hooks."""

    class Probe(tiny_class(base)):
        def __init__(self, train=None, val=None, **kwargs):
            super().__init__(**kwargs)
            self.train_x, self.val_x, self.loads = [], [], []
            self._train, self._val = train, val

        def training_step(self, batch, batch_idx):
            self.train_x.append((self.current_epoch, round(batch[0][0, 0].item(), 4)))
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            self.val_x.append((self.current_epoch, dataloader_idx, round(batch[0][0, 0].item(), 4)))
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

        def test_step(self, batch, batch_idx, dataloader_idx=0):
            x, y = batch
            self.log("test_loss", torch.nn.functional.mse_loss(self(x), y))

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            return (dataloader_idx, batch_idx)

    return Probe


class HookLoaders:
    """Mixin for Probe: the loaders come from the module's hooks, which count their calls."""

    def train_dataloader(self):
        self.loads.append(("train", self.current_epoch))
        return self._train()

    def val_dataloader(self):
        self.loads.append(("val", self.current_epoch))
        return self._val()


def _libs():
    pl = lightning()
    return {"st": (st.Trainer, st.StateModule, st.Callback), "pl": (pl.Trainer, pl.LightningModule, pl.Callback)}


def _fit(lib, flags, train=None, val=None, hook_loaders=False, module_kwargs=None):
    if lib == "st":
        trainer_cls, module_base, callback_base = st.Trainer, st.StateModule, st.Callback
    else:
        trainer_cls, module_base, callback_base = _libs()["pl"]
    probe = probe_class(module_base)
    cls = type("HookProbe", (HookLoaders, probe), {}) if hook_loaders else probe
    module = cls(train=train, val=val, **(module_kwargs or {}))
    counter = counter_class(callback_base)()
    extra = {"accelerator": "cpu"} if lib == "pl" else {}
    trainer = trainer_cls(callbacks=[counter], **QUIET, **extra, **flags)
    if hook_loaders:
        trainer.fit(module)
    else:
        trainer.fit(module, train() if train else None, val() if val else None)
    return trainer, module, counter


def _same_as_lightning(flags, **kwargs):
    ours = _fit("st", flags, **kwargs)
    theirs = _fit("pl", flags, **kwargs)
    assert (ours[0].global_step, ours[0].current_epoch) == (theirs[0].global_step, theirs[0].current_epoch)
    assert ours[1].train_x == theirs[1].train_x and ours[1].val_x == theirs[1].val_x
    assert ours[1].loads == theirs[1].loads and ours[2].counts == theirs[2].counts
    return ours


# ------------------------------------------------------------------ overfit_batches
def test_overfit_batches_same_unshuffled_batches_every_epoch():
    trainer, module, _ = _fit("st", dict(max_epochs=3, overfit_batches=2, num_sanity_val_steps=0),
                              train=lambda: loader(16, 2, shuffle=True), val=lambda: loader(8, 2, seed=1))
    first_two = [round(x[0, 0].item(), 4) for x, _ in list(loader(16, 2))[:2]]
    assert module.train_x == [(epoch, value) for epoch in range(3) for value in first_two]
    assert trainer.global_step == 6 and trainer.limit_train_batches == trainer.limit_val_batches == 2
    assert [v for _, _, v in module.val_x] == [round(x[0, 0].item(), 4) for x, _ in list(loader(8, 2, seed=1))[:2]] * 3


@pytest.mark.parametrize("overfit", [2, 0.25])
def test_overfit_batches_matches_lightning(overfit):
    _same_as_lightning(dict(max_epochs=2, overfit_batches=overfit),
                       train=lambda: loader(16, 2, shuffle=True), val=lambda: loader(8, 2, seed=1))


# ------------------------------------------------------------------ reload_dataloaders_every_n_epochs
@pytest.mark.parametrize("n", [0, 1, 2])
def test_reload_dataloaders_every_n_epochs(n):
    trainer, module, _ = _fit("st", dict(max_epochs=4, reload_dataloaders_every_n_epochs=n),
                              train=lambda: loader(4, 2), val=lambda: loader(2, 2), hook_loaders=True)
    reloads = {0: [0], 1: [0, 1, 2, 3], 2: [0, 2]}[n]
    assert [e for kind, e in module.loads if kind == "train"] == reloads
    assert [e for kind, e in module.loads if kind == "val"] == reloads


@pytest.mark.parametrize("n", [0, 1, 2])
def test_reload_dataloaders_matches_lightning(n):
    _same_as_lightning(dict(max_epochs=4, reload_dataloaders_every_n_epochs=n),
                       train=lambda: loader(4, 2), val=lambda: loader(2, 2), hook_loaders=True)


# ------------------------------------------------------------------ iterable datasets
def test_iterable_dataset_without_len():
    trainer, module, counter = _fit("st", dict(max_epochs=2), train=lambda: DataLoader(Stream(6), batch_size=2),
                                    val=lambda: DataLoader(Stream(4), batch_size=2))
    assert trainer.global_step == 6 and trainer.num_training_batches == float("inf")
    assert [e for e, _ in module.train_x] == [0, 0, 0, 1, 1, 1]
    assert counter.counts["on_validation_start"] == 3  # sanity + once per epoch, at the data's end


@pytest.mark.parametrize("flags", [dict(max_epochs=2), dict(max_epochs=2, limit_train_batches=2),
                                   dict(max_steps=4), dict(max_epochs=2, val_check_interval=2)])
def test_iterable_dataset_matches_lightning(flags):
    _same_as_lightning(flags, train=lambda: DataLoader(Stream(6), batch_size=2),
                       val=lambda: DataLoader(Stream(4), batch_size=2))


def test_iterable_dataset_refuses_a_fraction():
    with pytest.raises(MisconfigurationError, match=r"^`limit_train_batches` got 0.5; accepted: an int number of "
                                                    r"batches or 1.0/0.0 when the dataloader has no length\.$"):
        _fit("st", dict(max_epochs=1, limit_train_batches=0.5), train=lambda: DataLoader(Stream(6), batch_size=2))


# ------------------------------------------------------------------ limits
@pytest.mark.parametrize("flags, steps, val_batches", [
    (dict(limit_train_batches=3, limit_val_batches=1), 6, 1), (dict(limit_train_batches=0.5, limit_val_batches=0.5), 4, 2),
    (dict(limit_train_batches=1.0, limit_val_batches=0), 8, 0), (dict(limit_train_batches=100), 8, 4)])
def test_limit_batches(flags, steps, val_batches):
    ours, *_ = _fit("st", dict(max_epochs=2, **flags), train=lambda: loader(8, 2), val=lambda: loader(8, 2, seed=1))
    assert ours.global_step == steps and ours.num_val_batches == ([val_batches] if val_batches else ours.num_val_batches)
    _same_as_lightning(dict(max_epochs=2, **flags), train=lambda: loader(8, 2), val=lambda: loader(8, 2, seed=1))


def test_limit_test_and_predict_batches():
    module = probe_class(st.StateModule)()
    trainer = st.Trainer(limit_test_batches=0.5, limit_predict_batches=3, **QUIET)
    trainer.test(module, loader(8, 2), verbose=False)
    assert trainer.num_val_batches == [2]  # the running evaluation's count
    assert trainer.predict(module, loader(8, 2)) == [(0, 0), (0, 1), (0, 2)]


def test_fraction_leaving_no_batch_is_refused():
    with pytest.raises(MisconfigurationError, match=r"`limit_val_batches` got 0.1, which leaves 0 of the 4 batches; "
                                                    r"accepted: a larger fraction \(at least 0.2500\)"):
        _fit("st", dict(max_epochs=1, limit_val_batches=0.1), train=lambda: loader(), val=lambda: loader())


# ------------------------------------------------------------------ empty loaders
def test_empty_training_loader_warns_and_skips_training():
    with pytest.warns(UserWarning, match=r"the train dataloader has length 0: it yields no batches"):
        trainer, module, counter = _fit("st", dict(max_epochs=2), train=lambda: loader(0, 2))
    assert trainer.state.stop_reason == "no training batches (num_training_batches=0)."
    assert counter.counts["on_train_start"] == 0 and counter.counts["on_fit_end"] == 1


def test_empty_validation_loader_runs_no_validation_hooks():
    with pytest.warns(UserWarning, match=r"the val dataloader has length 0"):
        ours = _fit("st", dict(max_epochs=2), train=lambda: loader(4, 2), val=lambda: loader(0, 2))
    assert ours[0].global_step == 4 and ours[2].counts["on_validation_start"] == 0
    assert ours[2].counts["on_sanity_check_start"] == 1  # as Lightning: the sanity check starts, finds nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same_as_lightning(dict(max_epochs=2), train=lambda: loader(4, 2), val=lambda: loader(0, 2))


def test_validate_on_an_empty_loader_returns_no_results():
    with pytest.warns(UserWarning, match="val dataloader has length 0"):
        assert st.Trainer(**QUIET).validate(Tiny(), loader(0, 2), verbose=False) == []


def test_iterable_that_yields_nothing_trains_nothing():
    trainer, module, counter = _fit("st", dict(max_epochs=2), train=lambda: DataLoader(Stream(0), batch_size=2))
    assert trainer.global_step == 0 and module.train_x == [] and counter.counts["on_train_epoch_end"] == 2


# ------------------------------------------------------------------ several evaluation loaders
def test_several_validation_loaders_in_fit_and_validate():
    trainer, module, _ = _fit("st", dict(max_epochs=1, num_sanity_val_steps=0), train=lambda: loader(4, 2),
                              val=lambda: [loader(4, 2, seed=1), loader(2, 2, seed=2)])
    assert [(dl, e) for e, dl, _ in module.val_x] == [(0, 0), (0, 0), (1, 0)]
    assert trainer.num_val_batches == [2, 1]
    results = trainer.validate(module, [loader(4, 2, seed=1), loader(2, 2, seed=2)], verbose=False)
    assert [sorted(r) for r in results] == [["val_loss/dataloader_idx_0"], ["val_loss/dataloader_idx_1"]]


def test_several_loaders_results_match_lightning():
    pl = lightning()
    outputs = {}
    for lib, (trainer_cls, base, _) in _libs().items():
        torch.manual_seed(0)
        module = probe_class(base)()
        trainer = trainer_cls(**QUIET, **({"accelerator": "cpu"} if lib == "pl" else {}))
        loaders = [loader(4, 2, seed=1), loader(2, 2, seed=2)]
        outputs[lib] = (trainer.validate(module, loaders, verbose=False), trainer.test(module, loaders, verbose=False),
                        trainer.predict(module, loaders))
    assert pl is not None
    (ours_val, ours_test, ours_pred), (their_val, their_test, their_pred) = outputs["st"], outputs["pl"]
    assert [sorted(r) for r in ours_val] == [sorted(r) for r in their_val]
    for mine, theirs in zip(ours_val + ours_test, their_val + their_test):
        assert mine == pytest.approx(theirs)
    assert ours_pred == their_pred == [[(0, 0), (0, 1)], [(1, 0)]]


def test_no_training_data_is_refused():
    with pytest.raises(MisconfigurationError, match=r"no train data: pass `train_dataloaders`, a datamodule with "
                                                    r"`train_dataloader`, or define `train_dataloader` on the module"):
        st.Trainer(max_epochs=1, **QUIET).fit(Tiny())


# ------------------------------------------------------------------ DataModule
class DM(st.DataModule):
    def __init__(self):
        super().__init__()
        self.calls = []

    def prepare_data(self):
        self.calls.append("prepare_data")

    def setup(self, stage):
        self.calls.append(f"setup:{stage}")

    def train_dataloader(self):
        self.calls.append("train_dataloader")
        return loader(4, 2)

    def val_dataloader(self):
        self.calls.append("val_dataloader")
        return loader(2, 2, seed=1)

    def test_dataloader(self):
        self.calls.append("test_dataloader")
        return loader(2, 2, seed=2)

    def teardown(self, stage):
        self.calls.append(f"teardown:{stage}")


def test_datamodule_inputs():
    dm, module = DM(), Tiny()
    trainer = st.Trainer(max_epochs=2, **QUIET)
    trainer.fit(module, datamodule=dm)
    assert trainer.datamodule is dm and dm.trainer is trainer and trainer.global_step == 4
    assert dm.calls == ["prepare_data", "setup:fit", "val_dataloader", "train_dataloader", "teardown:fit"]
    dm.calls.clear()
    results = trainer.test(module, datamodule=dm, verbose=False)
    assert dm.calls == ["prepare_data", "setup:test", "test_dataloader", "teardown:test"] and list(results[0]) == ["test_loss"]
    trainer.validate(module, dm, verbose=False)  # a DataModule in the dataloaders position works too
    with pytest.raises(MisconfigurationError, match="`train_dataloaders` and `datamodule` were both given"):
        trainer.fit(module, loader(), datamodule=dm)


def test_datamodule_hook_order_matches_lightning():
    pl = lightning()

    def run(trainer_cls, base_dm, base_module, **extra):
        class LDM(base_dm):
            def __init__(self):
                super().__init__()
                self.calls = []
        for name in ("prepare_data", "setup", "train_dataloader", "val_dataloader", "teardown"):
            def hook(self, *args, _name=name, **kwargs):
                self.calls.append(_name + "".join(f":{getattr(a, 'value', a)}" for a in (*args, *kwargs.values())))
                return {"train_dataloader": lambda: loader(4, 2), "val_dataloader": lambda: loader(2, 2)}.get(
                    _name, lambda: None)()
            setattr(LDM, name, hook)
        dm = LDM()
        trainer_cls(max_epochs=1, **QUIET, **extra).fit(tiny_class(base_module)(), datamodule=dm)
        return dm.calls
    assert run(st.Trainer, st.DataModule, st.StateModule) == run(pl.Trainer, pl.LightningDataModule,
                                                                   pl.LightningModule, accelerator="cpu")


# ------------------------------------------------------------------ batch transfer
Pair = namedtuple("Pair", "x y")


@dataclasses.dataclass
class Batch:
    x: torch.Tensor
    extra: dict
    name: str = "b"


def test_move_to_device_handles_nested_containers():
    meta = torch.device("meta")
    batch = {"a": [torch.ones(2), (torch.zeros(1), 3)], "p": Pair(torch.ones(1), torch.ones(2)),
             "d": Batch(torch.ones(3), {"k": torch.ones(1)}), "s": "text"}
    moved = move_to_device(batch, meta)
    assert moved["a"][0].device == meta and moved["a"][1][0].device == meta and moved["a"][1][1] == 3
    assert isinstance(moved["a"], list) and isinstance(moved["a"][1], tuple)
    assert isinstance(moved["p"], Pair) and moved["p"].y.device == meta
    assert isinstance(moved["d"], Batch) and moved["d"].x.device == meta and moved["d"].extra["k"].device == meta
    assert moved["d"].name == "b" and moved["s"] == "text"
    assert batch["a"][0].device.type == "cpu"  # the input is not changed in place


def test_nested_batches_reach_the_step_with_their_types():
    seen = []

    class Nested(Tiny):
        def on_after_batch_transfer(self, batch, dataloader_idx):
            seen.append(type(batch).__name__)
            return batch

        def training_step(self, batch, batch_idx):
            return torch.nn.functional.mse_loss(self(batch.x), batch.extra["y"])

    data = [Batch(torch.randn(2, 4), {"y": torch.randn(2, 1)}) for _ in range(3)]
    trainer = st.Trainer(max_epochs=1, **QUIET)
    trainer.fit(Nested(), DataLoader(data, batch_size=None))
    assert seen == ["Batch"] * 3 and trainer.global_step == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_nested_batches_move_to_the_gpu():
    devices = []

    class OnGpu(Tiny):
        def training_step(self, batch, batch_idx):
            devices.append((batch.x.device.type, batch.extra["y"].device.type, self.device.type))
            return torch.nn.functional.mse_loss(self(batch.x), batch.extra["y"])

    data = [Batch(torch.randn(2, 4), {"y": torch.randn(2, 1)}) for _ in range(2)]
    st.Trainer(max_epochs=1, accelerator="cuda", devices=1, **QUIET).fit(OnGpu(), DataLoader(data, batch_size=None))
    assert devices == [("cuda", "cuda", "cuda")] * 2
