"""Hooks and steps called as Lightning calls them: optional batch_idx / dataloader_idx, hooks assigned on
the instance, `= None` to disable, mock callbacks — decided once per run, and compared with Lightning."""
from __future__ import annotations

import warnings
from unittest import mock

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.errors import MisconfigurationError

pl = pytest.importorskip("lightning.pytorch")
QUIET = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
             max_epochs=1, accelerator="cpu")


def _loader(n: int = 8, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g)), batch_size=2)


def _model_class(base):
    class Model(base):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
            self.seen: list = []

        def training_step(self, batch):  # no batch_idx: Lightning passes only what the step accepts
            self.seen.append("train")
            return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

        def validation_step(self, batch):
            self.seen.append("val")

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)
    return Model


def _fit(lib, base, change=None, callbacks=(), val=True):
    torch.manual_seed(0)
    model = _model_class(base)()
    if change is not None:
        change(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib.Trainer(callbacks=list(callbacks), num_sanity_val_steps=0, **QUIET).fit(
            model, _loader(), _loader(4, 1) if val else None)
    return model


BOTH = [(st, st.StateModule), (pl, pl.LightningModule)]


def test_steps_without_batch_idx_train_as_in_lightning():
    ours, theirs = (_fit(lib, base) for lib, base in BOTH)
    assert ours.seen == theirs.seen == ["train"] * 4 + ["val"] * 2
    assert torch.equal(ours.layer.weight, theirs.layer.weight)


def test_validation_step_set_to_none_disables_the_validation_loop():
    def disable(model):
        model.validation_step = None
    ours, theirs = (_fit(lib, base, disable) for lib, base in BOTH)
    assert ours.seen == theirs.seen == ["train"] * 4


def test_a_hook_assigned_on_the_instance_is_called():
    calls: list = []

    def assign(model):
        model.on_train_epoch_end = lambda: calls.append(model.current_epoch)
        model.on_train_batch_start = mock.Mock(return_value=None)
    ours = _fit(st, st.StateModule, assign)
    assert calls == [0] and ours.on_train_batch_start.call_count == 4


def test_mock_callbacks_receive_every_hook_they_are_asked_for():
    callback = mock.Mock(spec=st.Callback)
    _fit(st, st.StateModule, callbacks=[callback])
    names = [call[0] for call in callback.method_calls]
    assert names.count("on_train_batch_end") == 4 and "on_fit_start" in names and "teardown" in names


def test_a_step_that_requires_dataloader_idx_with_one_loader_is_refused():
    class Needs(_model_class(st.StateModule)):
        def validation_step(self, batch, batch_idx, dataloader_idx):
            pass
    trainer = st.Trainer(**QUIET)
    with pytest.raises(MisconfigurationError, match=r"`Needs.validation_step` requires `dataloader_idx` but the "
                                                    r"validation data is one dataloader"):
        trainer.validate(Needs(), _loader(), verbose=False)


def test_a_step_without_dataloader_idx_with_several_loaders_is_refused():
    class Lacks(_model_class(st.StateModule)):
        def test_step(self, batch, batch_idx):
            pass
    trainer = st.Trainer(**QUIET)
    with pytest.raises(MisconfigurationError, match=r"`Lacks.test_step` has no `dataloader_idx` argument but the "
                                                    r"test data has several dataloaders"):
        trainer.test(Lacks(), [_loader(), _loader(4, 1)], verbose=False)


def test_a_receiver_connected_during_fit_is_reached_from_the_next_batch():
    """The batch plan is decided again when listeners change: a receiver of a hook inside the optimization
    connected half-way sees the batches from then on (and the plain body is left)."""
    seen: list = []
    trainer = st.Trainer(max_steps=4, **{k: v for k, v in QUIET.items() if k != "max_epochs"})

    def receiver(sender, loss):
        seen.append(sender.global_step)

    @trainer.on("on_train_batch_end")
    def connect_later(sender, outputs, batch, batch_idx):
        if batch_idx == 1:
            st.signals.on_before_backward.connect(receiver, sender=trainer, weak=False)
    try:
        trainer.fit(_model_class(st.StateModule)(), _loader())
    finally:
        st.signals.on_before_backward.disconnect(receiver)
        connect_later.disconnect()
    assert seen == [2, 3]
