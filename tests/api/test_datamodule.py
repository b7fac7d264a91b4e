"""DataModule.from_datasets, str(datamodule) and the checkpoint key constants, compared with Lightning."""
from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import Dataset, IterableDataset, TensorDataset

import statetrainer as st
from tests.core.helpers import QUIET, Tiny, lightning, tiny_class

pytestmark = pytest.mark.filterwarnings("ignore:'pin_memory' argument:UserWarning")


def data(n: int = 10, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 4, generator=gen), torch.randn(n, 1, generator=gen))


class Stream(IterableDataset):
    def __iter__(self):
        return iter(torch.arange(5.0).unsqueeze(1))


def batches(loaders):
    if isinstance(loaders, dict):
        return {key: batches(value) for key, value in loaders.items()}
    if isinstance(loaders, (list, tuple)):
        return [batches(value) for value in loaders]
    return [[t.tolist() for t in batch] if isinstance(batch, (list, tuple)) else batch.tolist() for batch in loaders]


def both(base_names=("DataModule", "LightningDataModule")):
    pl = lightning()
    return getattr(st, base_names[0]), getattr(pl, base_names[1])


CASES = {
    "one each": dict(train_dataset=data(10), val_dataset=data(6, 1), test_dataset=data(4, 2),
                     predict_dataset=data(3, 3)),
    "lists and dicts": dict(train_dataset=data(9), val_dataset=[data(4, 1), data(5, 2)],
                            test_dataset={"a": data(3, 3), "b": data(2, 4)}),
    "iterable train": dict(train_dataset=Stream(), val_dataset=(data(4, 1),)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_from_datasets_batches_match_lightning(case):
    ours_cls, theirs_cls = both()
    kwargs = CASES[case]
    ours = ours_cls.from_datasets(**kwargs, batch_size=3)
    theirs = theirs_cls.from_datasets(**kwargs, batch_size=3)
    for name in kwargs:
        hook = name.replace("_dataset", "_dataloader")
        torch.manual_seed(7)
        expected = batches(getattr(theirs, hook)())
        torch.manual_seed(7)
        assert batches(getattr(ours, hook)()) == expected, hook
    if case == "lists and dicts":  # Lightning's str() raises on a dict of loaders; ours numbers its values
        assert str(ours).split(os.linesep)[1:3] == ["{Validation dataloader: 1. size=4 ; 2. size=5}",
                                                    "{Test dataloader: 1. size=3 ; 2. size=2}"]
    else:
        assert str(ours) == str(theirs)


def test_from_datasets_init_arguments_match_lightning():
    def make(base):
        class Known(base):
            def __init__(self, batch_size=1, num_workers=0, other=None):
                super().__init__()
                self.batch_size, self.num_workers, self.other = batch_size, num_workers, other

        class Kwargs(base):
            def __init__(self, num_workers, **kwargs):
                super().__init__()
                self.num_workers, self.kwargs = num_workers, kwargs
        return Known, Kwargs

    for base in both():
        known, kw = make(base)
        dm = known.from_datasets(data(), batch_size=4, num_workers=0, other=5)
        assert (dm.batch_size, dm.num_workers, dm.other) == (4, 0, 5) and isinstance(dm, known)
        dm = kw.from_datasets(data(), batch_size=10, num_workers=0, another=None)
        assert (dm.num_workers, dm.kwargs) == (0, {"batch_size": 10, "another": None})
        with pytest.raises(TypeError):
            known.from_datasets(data(), unknown=1)


def test_fit_with_from_datasets_trains_like_lightning():
    pl = lightning()
    weights = []
    for base, dm_cls, flags in ((st.StateModule, st.DataModule, {}),
                                (pl.LightningModule, pl.LightningDataModule, {"accelerator": "cpu"})):
        torch.manual_seed(0)
        model = tiny_class(base)()
        dm = dm_cls.from_datasets(data(12), data(6, 1), batch_size=4)
        torch.manual_seed(1)
        base_trainer = st.Trainer if base is st.StateModule else pl.Trainer
        base_trainer(max_epochs=2, num_sanity_val_steps=0, **QUIET, **flags).fit(model, datamodule=dm)
        weights.append(model.layer.weight.detach().clone())
    torch.testing.assert_close(weights[0], weights[1])


def summary_class(base: type) -> type:
    class Summary(base):
        def setup(self, stage):
            if stage in ("fit", "validate"):
                self.val = [data(5), data(7)] if stage == "validate" else data(8)
            if stage == "fit":
                self.train = Stream()
            if stage == "test":
                self.test = data(3)

        def train_dataloader(self):
            return torch.utils.data.DataLoader(self.train, batch_size=2)

        def val_dataloader(self):
            if isinstance(self.val, list):
                return [torch.utils.data.DataLoader(ds) for ds in self.val]
            return torch.utils.data.DataLoader(self.val)

        def test_dataloader(self):
            return torch.utils.data.DataLoader(self.test)
    return Summary


@pytest.mark.parametrize("stage", [None, "fit", "validate", "test", "predict"])
def test_str_matches_lightning_before_and_after_setup(stage):
    texts = []
    for base in both():
        dm = summary_class(base)()
        if stage is not None:
            dm.setup(stage)
        texts.append(str(dm))
    assert texts[0] == texts[1]
    assert texts[0].count(os.linesep) == 3


def test_str_text():
    dm = summary_class(st.DataModule)()
    assert str(dm) == os.linesep.join(["{Train dataloader: None}", "{Validation dataloader: None}",
                                       "{Test dataloader: None}", "{Predict dataloader: None}"])
    dm.setup("fit")
    assert str(dm).split(os.linesep)[:2] == ["{Train dataloader: size=NA}", "{Validation dataloader: size=8}"]
    assert "object at" in repr(dm)  # repr stays Python's, as Lightning's


@pytest.mark.parametrize("names", [("StateModule", "LightningModule"), ("DataModule", "LightningDataModule")])
def test_checkpoint_key_constants_match_lightning(names):
    ours, theirs = both(names)
    for key in ("CHECKPOINT_HYPER_PARAMS_KEY", "CHECKPOINT_HYPER_PARAMS_NAME", "CHECKPOINT_HYPER_PARAMS_TYPE"):
        assert getattr(ours, key) == getattr(theirs, key)


def test_checkpoint_stores_hparams_under_the_constants(tmp_path):
    class WithHparams(Tiny):
        def __init__(self, lr=0.05):
            super().__init__(lr=lr)
            self.save_hyperparameters()

    class DM(st.DataModule):
        def __init__(self, size=8):
            super().__init__()
            self.save_hyperparameters()

        def train_dataloader(self):
            return torch.utils.data.DataLoader(data(8), batch_size=4)

    trainer = st.Trainer(max_steps=1, **QUIET)
    trainer.fit(WithHparams(lr=0.1), datamodule=DM(size=8))
    trainer.save_checkpoint(tmp_path / "x.ckpt")
    ckpt = torch.load(tmp_path / "x.ckpt", weights_only=True)
    assert ckpt[st.StateModule.CHECKPOINT_HYPER_PARAMS_KEY] == {"lr": 0.1}
    assert ckpt[st.DataModule.CHECKPOINT_HYPER_PARAMS_KEY] == {"size": 8}


def test_a_dataset_subclass_is_wrapped():
    class Squares(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.tensor([float(i * i)])

    dm = st.DataModule.from_datasets(predict_dataset=Squares(), batch_size=2)
    assert batches(dm.predict_dataloader()) == [[[0.0], [1.0]], [[4.0], [9.0]]]


@pytest.mark.parametrize("hook", ["train_dataloader", "val_dataloader", "test_dataloader", "predict_dataloader"])
def test_a_hook_from_datasets_did_not_get_refuses_like_lightning(hook):
    ours_cls, theirs_cls = both()
    kinds = {"train_dataloader": "val_dataset"}
    other = kinds.get(hook, "train_dataset")
    ours, theirs = ours_cls.from_datasets(**{other: data()}), theirs_cls.from_datasets(**{other: data()})
    from lightning.pytorch.utilities.exceptions import MisconfigurationException
    with pytest.raises(MisconfigurationException, match=hook):
        getattr(theirs, hook)()
    with pytest.raises(st.errors.MisconfigurationError, match=hook):
        getattr(ours, hook)()
