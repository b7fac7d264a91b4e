"""Warnings and checks around the loop that Lightning's own tests pin, run on both libraries with the
same module code (see test_lightning_behaviours.py for the helpers) and compared."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data._utils.collate import default_collate

from tests.api.test_lightning_behaviours import LIBS, QUIET, _loader, _model, _pkg


def _fit(lib, model, tmp_path, train=None, val=None, **flags):
    trainer = _pkg(lib).Trainer(default_root_dir=tmp_path, enable_checkpointing=False, **QUIET, **flags)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, train, val)
    return trainer, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("frozen", [True, False])
def test_eval_mode_submodule_warns_once_at_training_start(tmp_path, frozen):
    seen = {}
    for lib in LIBS:
        model = _model(lib)
        model.extra = torch.nn.Dropout()
        if frozen:
            model.extra.eval()
        _, messages = _fit(lib, model, tmp_path / lib, _loader(), max_epochs=1)
        seen[lib] = [m for m in messages if "eval mode" in m]
        assert model.extra.training is not frozen  # the mode is kept, not forced to train
    assert len(seen["st"]) == len(seen["pl"]) == (1 if frozen else 0)
    if frozen:
        assert "extra" in seen["st"][0]


def test_none_batches_are_skipped_with_one_warning(tmp_path):
    got = {}
    for lib in LIBS:
        counter = [0]

        def collate(items):
            counter[0] += 1
            return None if counter[0] % 2 == 1 else default_collate(items)

        ends = []

        def on_train_batch_end(self, outputs, batch, batch_idx):
            ends.append((batch_idx, outputs is None, batch is None))

        starts = []
        model = _model(lib, on_train_batch_end=on_train_batch_end,
                       on_train_batch_start=lambda self, batch, batch_idx: starts.append(batch_idx))
        torch.manual_seed(0)
        data = TensorDataset(torch.randn(8, 2), torch.randn(8, 1))
        trainer, messages = _fit(lib, model, tmp_path / lib, DataLoader(data, batch_size=2, collate_fn=collate),
                                 max_epochs=2, limit_val_batches=0)
        got[lib] = (ends, starts, trainer.global_step, [p.detach().clone() for p in model.parameters()])
        assert len([m for m in messages if "yielded None" in m]) == 1
    assert got["st"][:3] == got["pl"][:3]
    assert got["st"][0][0] == (0, True, True) and got["st"][2] == 4  # half of the 8 batches train
    for ours, theirs in zip(got["st"][3], got["pl"][3]):
        assert torch.allclose(ours, theirs)


def test_val_data_without_validation_step_warns_and_skips(tmp_path):
    for lib in LIBS:
        calls = []
        model = _model(lib, on_validation_start=lambda self: calls.append("val"))
        model.validation_step = None
        _, messages = _fit(lib, model, tmp_path / lib, _loader(), _loader(), max_epochs=1)
        assert len([m for m in messages if "validation_step" in m]) == 1, lib
        assert calls == [], lib


def _eval_trainer(lib, tmp_path):
    return _pkg(lib).Trainer(default_root_dir=tmp_path, **QUIET)


def _step_needing_idx(self, batch, batch_idx, dataloader_idx):
    return None


def _start_needing_idx(self, batch, batch_idx, dataloader_idx):
    return None


def _end_needing_idx(self, outputs, batch, batch_idx, dataloader_idx):
    return None


@pytest.mark.parametrize(("hook", "fn"), [("validation_step", _step_needing_idx),
                                          ("on_validation_batch_start", _start_needing_idx),
                                          ("on_validation_batch_end", _end_needing_idx)])
def test_dataloader_idx_required_with_one_loader_is_a_runtime_error(tmp_path, hook, fn):
    from statetrainer.errors import MisconfigurationError
    started = []
    for lib in LIBS:
        model = _model(lib, **{hook: fn, "on_validation_start": lambda self: started.append(lib)})
        with pytest.raises(RuntimeError, match=hook) as raised:
            _eval_trainer(lib, tmp_path / lib).validate(model, _loader())
        if lib == "st":
            assert isinstance(raised.value, MisconfigurationError)  # still caught as ours
    assert started == []  # raised before on_validation_start, as Lightning


def test_missing_dataloader_idx_with_several_loaders_is_a_runtime_error(tmp_path):
    for lib in LIBS:
        model = _model(lib)
        with pytest.raises(RuntimeError, match="predict_step"):
            _eval_trainer(lib, tmp_path / lib).predict(model, [_loader(), _loader()])


def _iter_model(lib):
    """A module whose steps pull their own batches through `dataloader_iter`; records what each hook saw."""
    base = _pkg(lib).LightningModule if lib == "pl" else _pkg(lib).StateModule

    class PullsBatches(base):
        def __init__(self):
            super().__init__()
            self.seen: list = []

        def on_validation_batch_start(self, batch, batch_idx, dataloader_idx):
            self.seen.append(("start", batch, batch_idx, dataloader_idx))

        def validation_step(self, dataloader_iter):
            self.seen.append(("step", *next(dataloader_iter)))

        def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx):
            self.seen.append(("end", batch, batch_idx, dataloader_idx))

        def on_predict_batch_start(self, batch, batch_idx, dataloader_idx):
            self.seen.append(("start", batch, batch_idx, dataloader_idx))

        def predict_step(self, dataloader_iter):
            first = next(dataloader_iter)
            self.seen.append(("step", *first))
            return first[0] * 10

        def on_predict_batch_end(self, outputs, batch, batch_idx, dataloader_idx):
            self.seen.append(("end", outputs, batch, batch_idx, dataloader_idx))

    return PullsBatches()


def test_steps_taking_dataloader_iter_pull_their_batches_like_lightning(tmp_path):
    got = {}
    for lib in LIBS:
        validated = _iter_model(lib)
        _pkg(lib).Trainer(default_root_dir=tmp_path, limit_val_batches=1, **QUIET).validate(
            validated, {"a": [0, 1], "b": [2, 3]})
        predicted = _iter_model(lib)
        out = _pkg(lib).Trainer(default_root_dir=tmp_path, **QUIET).predict(predicted, [[0, 1, 5], [7]])
        got[lib] = (validated.seen, predicted.seen, out)
    assert got["st"] == got["pl"]
    assert got["st"][0][:3] == [("start", None, 0, 0), ("step", 0, 0, 0), ("end", 0, 0, 0)]
    assert got["st"][2] == [[0, 10, 50], [70]]
