"""BasePredictionWriter: the same write calls and files as Lightning (batch indices, shuffled loaders,
several loaders, return_predictions=False), and the interval check."""
from __future__ import annotations

import os
import warnings

import pytest
import torch
from torch.utils.data import DataLoader

from statetrainer.callbacks import BasePredictionWriter
from statetrainer.errors import MisconfigurationError
from tests.callbacks import twins


def _writer(lib: str, interval: str, folder):
    """Saves each batch's prediction and indices to <folder>/<dl>-<batch>.pt and the whole run to epoch.pt;
    also keeps a plain record of the calls."""
    base = twins.api(lib)[1].BasePredictionWriter

    class FileWriter(base):
        def __init__(self):
            super().__init__(interval)
            self.calls = []

        def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
            torch.save({"prediction": prediction, "indices": batch_indices},
                       os.path.join(folder, f"{dataloader_idx}-{batch_idx}.pt"))
            self.calls.append(("batch", batch_indices, batch_idx, dataloader_idx, prediction.flatten().tolist()))

        def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
            torch.save({"predictions": predictions, "indices": batch_indices}, os.path.join(folder, "epoch.pt"))
            self.calls.append(("epoch", batch_indices, _values(predictions)))

    return FileWriter()


def _values(predictions):
    if isinstance(predictions, torch.Tensor):
        return predictions.flatten().tolist()
    return [_values(item) for item in predictions]


def _loaders(several: bool, workers: int = 0):
    shuffled = DataLoader(twins.dataset(20), batch_size=4, shuffle=True, num_workers=workers,
                          generator=torch.Generator().manual_seed(11))
    return [shuffled, DataLoader(twins.dataset(6), batch_size=5)] if several else shuffled


def _predict(lib: str, tmp_path, interval: str, several: bool, return_predictions: bool = True, workers: int = 0):
    folder = tmp_path / lib
    folder.mkdir()
    writer = _writer(lib, interval, str(folder))
    package = twins.api(lib)[0]
    package.seed_everything(3, **({"verbose": False} if lib == "pl" else {}))
    model = twins.build(lib)()
    options = dict(twins.QUIET, **({"accelerator": "cpu", "devices": 1} if lib == "pl" else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = package.Trainer(callbacks=[writer], limit_predict_batches=4, **options)
        returned = trainer.predict(model, _loaders(several, workers), return_predictions=return_predictions)
    files = {name: torch.load(folder / name, weights_only=True) for name in sorted(os.listdir(folder))}
    return writer.calls, files, returned


def _same_files(ours: dict, theirs: dict) -> None:
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        assert repr(ours[name]) == repr(theirs[name]), name


@pytest.mark.parametrize("interval, several, return_predictions", [
    ("batch", False, True), ("epoch", False, False), ("batch_and_epoch", True, True), ("epoch", True, False)])
def test_same_calls_and_files_as_lightning(tmp_path, interval, several, return_predictions):
    pytest.importorskip("lightning")
    ours = _predict("st", tmp_path, interval, several, return_predictions)
    theirs = _predict("pl", tmp_path, interval, several, return_predictions)
    assert ours[0] == theirs[0]
    _same_files(ours[1], theirs[1])
    assert repr(ours[2]) == repr(theirs[2])
    kinds = {call[0] for call in ours[0]}
    assert kinds == {"batch", "epoch"} if interval == "batch_and_epoch" else kinds == {interval}


def test_indices_with_worker_processes(tmp_path):
    """Each batch's indices are the samples its prediction was made from, though workers prefetch."""
    import statetrainer as st
    writer = _writer("st", "batch", str(tmp_path))
    model = twins.build("st", batch_norm=False)()
    trainer = st.Trainer(callbacks=[writer], limit_predict_batches=4, **twins.QUIET)
    trainer.predict(model, _loaders(several=False, workers=2))
    inputs = twins.dataset(20).tensors[0]
    for _, indices, _, _, values in writer.calls:
        with torch.no_grad():
            assert model(inputs[indices]).flatten().tolist() == pytest.approx(values)
    assert sorted(i for call in writer.calls for i in call[1]) != list(range(16))  # shuffled, not the first 16


def test_indices_are_none_when_the_loader_cannot_tell(tmp_path):
    writer = _writer("st", "batch_and_epoch", str(tmp_path))
    import statetrainer as st
    trainer = st.Trainer(callbacks=[writer], **twins.QUIET)
    class Batches:  # one loader that is a plain iterable (a list of tensors would be read as a loader structure)
        def __iter__(self):
            return iter([(torch.ones(2, 4), torch.ones(2, 1)), (torch.zeros(1, 4), torch.zeros(1, 1))])

    trainer.predict(twins.build("st")(), [Batches()], return_predictions=False)
    assert [call[1] for call in writer.calls] == [None, None, [[]]]
    assert len(writer.calls[-1][2]) == 2  # both predictions reached write_on_epoch_end


def test_bad_interval_is_refused():
    with pytest.raises(MisconfigurationError, match=r"^`BasePredictionWriter\(write_interval\)` got 'something'; "
                                                    r"accepted: 'batch', 'epoch' or 'batch_and_epoch'\.$"):
        BasePredictionWriter("something")


def test_missing_write_method_names_it(tmp_path):
    import statetrainer as st
    trainer = st.Trainer(callbacks=[BasePredictionWriter("epoch")], **twins.QUIET)
    with pytest.raises(NotImplementedError, match=r"^BasePredictionWriter writes on epoch end but does not define "
                                                  r"write_on_epoch_end\(trainer, pl_module, predictions, "):
        trainer.predict(twins.build("st")(), twins.loader(8))
