"""Hyper-parameters that are not plain data: training never stops, the file stays safe, loading asks for them."""
from __future__ import annotations

import datetime
import enum
import pathlib
import warnings

import pytest
import torch
from torch import nn

import statetrainer as st
from statetrainer.checkpoint import io
from statetrainer.checkpoint.placeholder import Placeholder
from statetrainer.errors import CheckpointError

from .helpers import QUIET, dataset, fit, loaders, same_weights


class Encoder(nn.Module):
    def __init__(self, width: int = 8):
        super().__init__()
        self.layer = nn.Linear(4, width)


class Mode(enum.Enum):
    FAST = "fast"


def collate(batch):
    return torch.utils.data.default_collate(batch)


class Small(st.StateModule):
    """Trains like helpers.Net, but records no hyper-parameters itself."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.layer = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 1))

    def training_step(self, batch, batch_idx):
        return nn.functional.mse_loss(self.layer(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", nn.functional.mse_loss(self.layer(batch[0]), batch[1]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class Rich(Small):
    """Every kind of hyper-parameter that Lightning users pass and Lightning pickles."""

    def __init__(self, loss: nn.Module = nn.MSELoss(), encoder_class: type = Encoder, root=pathlib.Path("/data"),
                 activation=nn.ReLU, mode: Mode = Mode.FAST, started=datetime.datetime(2025, 5, 1, 8, 0),
                 width: int = 8):
        super().__init__(width)
        self.save_hyperparameters()
        self.encoder = encoder_class(width)


def _quietly(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the class may have warned in an earlier test already
        return make()


def _checkpoint(tmp_path, model) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, trainer = fit(tmp_path, model=model, max_epochs=1)
    return trainer.checkpoint_callback.best_model_path


def test_fit_with_such_hyper_parameters_checkpoints_and_warns_once_per_class(tmp_path):
    class Fresh(Rich):  # a class of its own: the warning comes once per class
        pass

    with pytest.warns(UserWarning) as record:
        model = Fresh()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second instance of the same class: no second warning
        Fresh(width=8)
    assert [str(w.message) for w in record] == [
        "Fresh.save_hyperparameters: 'activation' (a class (torch.nn.modules.activation.ReLU)), 'encoder_class' "
        f"(a class ({__name__}.Encoder)), 'loss' (an nn.Module (torch.nn.modules.loss.MSELoss)), 'mode' (an Enum "
        f"member ({__name__}.Mode.FAST)) cannot be stored as data: a checkpoint records them as a description only, "
        "so load_from_checkpoint will ask for them as arguments; to leave them out use save_hyperparameters("
        "ignore=['activation', 'encoder_class', 'loss', 'mode']). The weights of nn.Module hyper-parameters "
        "['loss'] are saved in the state_dict already."]
    path = _checkpoint(tmp_path, model)
    hparams = torch.load(path, weights_only=True)["hyper_parameters"]  # the file alone, read the strictest way
    assert hparams["width"] == 8 and hparams["encoder_class"]["type"] == f"{__name__}.Encoder"
    loaded = io.load(path)["hyper_parameters"]
    assert loaded["root"] == pathlib.Path("/data") and loaded["started"] == datetime.datetime(2025, 5, 1, 8, 0)
    assert all(type(loaded[key]) is Placeholder for key in ("loss", "encoder_class", "activation", "mode"))


def test_load_from_checkpoint_names_each_argument_it_cannot_rebuild(tmp_path):
    path = _checkpoint(tmp_path, _quietly(Rich))
    with pytest.raises(CheckpointError) as info:
        Rich.load_from_checkpoint(path, loss=nn.MSELoss())
    assert str(info.value) == (
        f"Rich.load_from_checkpoint cannot rebuild 3 argument(s) saved in {path!r} without importing code the file "
        f"names: 'encoder_class' was a class ({__name__}.Encoder); 'activation' was a class "
        f"(torch.nn.modules.activation.ReLU); 'mode' was an Enum member ({__name__}.Mode.FAST). Pass them: "
        "Rich.load_from_checkpoint(path, encoder_class=..., activation=..., mode=...).")


def test_load_from_checkpoint_rebuilds_the_module_when_they_are_passed(tmp_path):
    model = _quietly(lambda: Rich(loss=nn.L1Loss(), root=pathlib.Path("/elsewhere")))
    path = _checkpoint(tmp_path, model)
    loaded = Rich.load_from_checkpoint(path, loss=nn.L1Loss(), encoder_class=Encoder, activation=nn.ReLU,
                                       mode=Mode.FAST)
    assert same_weights(loaded, model)
    assert loaded.hparams.root == pathlib.Path("/elsewhere") and type(loaded.hparams.loss) is nn.L1Loss
    assert loaded.hparams.started == datetime.datetime(2025, 5, 1, 8, 0)


def test_a_placeholder_nested_in_a_config_dict_names_the_argument_to_pass(tmp_path):
    class FromConfig(Small):
        def __init__(self, config: dict):
            super().__init__(config["hidden"])
            self.save_hyperparameters(config)

    with pytest.warns(UserWarning, match=r"FromConfig.save_hyperparameters: 'act' \(a class "
                                         r"\(torch.nn.modules.activation.GELU\)\) cannot be stored"):
        model = FromConfig({"hidden": 6, "act": nn.GELU})
    path = _checkpoint(tmp_path, model)
    with pytest.raises(CheckpointError, match=r"'config'\['act'\] was a class \(torch.nn.modules.activation.GELU\)\. "
                                              r"Pass them: .*FromConfig.load_from_checkpoint\(path, config=\.\.\.\)"):
        FromConfig.load_from_checkpoint(path)
    assert same_weights(FromConfig.load_from_checkpoint(path, act=nn.GELU), model)  # or config={...}


def test_a_datamodule_with_such_hyper_parameters(tmp_path):
    class Data(st.DataModule):
        def __init__(self, root=pathlib.Path("/data"), collate=collate, batch_size=4):
            super().__init__()
            self.save_hyperparameters()

        def train_dataloader(self):
            return torch.utils.data.DataLoader(dataset(), batch_size=self.hparams.batch_size)

    with pytest.warns(UserWarning,
                      match=rf"Data.save_hyperparameters: 'collate' \(a function \({__name__}.collate\)\)"):
        data = Data(batch_size=5)
    trainer = st.Trainer(default_root_dir=str(tmp_path), max_epochs=1, **QUIET)
    trainer.fit(Small(), datamodule=data)
    path = trainer.checkpoint_callback.best_model_path
    with pytest.raises(CheckpointError, match=rf"^.*Data.load_from_checkpoint cannot rebuild 1 argument\(s\) "
                                              rf".*'collate' was a function \({__name__}.collate\)\. Pass them: "):
        Data.load_from_checkpoint(path)
    rebuilt = Data.load_from_checkpoint(path, collate=collate)
    assert rebuilt.hparams.batch_size == 5 and rebuilt.hparams.root == pathlib.Path("/data")


def test_a_lambda_hyper_parameter_never_stops_training(tmp_path):
    class WithLambda(Small):
        def __init__(self, schedule=lambda epoch: 0.5 ** epoch):
            super().__init__()
            self.save_hyperparameters()

    with pytest.warns(UserWarning, match=r"'schedule' \(a function \(.*<lambda>\)\)"):
        model = WithLambda()
    path = _checkpoint(tmp_path, model)
    rebuilt = WithLambda.load_from_checkpoint(path, schedule=lambda epoch: 1.0)
    assert same_weights(rebuilt, model)


def test_ignored_arguments_raise_no_warning_and_need_no_override(tmp_path):
    class Ignoring(Small):
        def __init__(self, loss=nn.MSELoss(), encoder_class=Encoder, width=8):
            super().__init__(width)
            self.save_hyperparameters(ignore=["loss", "encoder_class"])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Ignoring()
        path = _checkpoint(tmp_path, model)
    assert same_weights(Ignoring.load_from_checkpoint(path), model)


def test_a_module_built_inside_another_collects_the_enclosing_init_args_as_lightning_does():
    class Child(st.StateModule):
        def __init__(self, dropout, init_method):
            super().__init__()
            self.save_hyperparameters(ignore=["dropout"])

    class Parent(st.StateModule):
        def __init__(self, batch_size, optimizer):
            super().__init__()
            self.child = Child(dropout=0.1, init_method="xavier")

    class Wrapper:  # not a hyper-parameter holder: its arguments are not collected
        def __init__(self, run_id="abc"):
            self.parent = Parent(batch_size=64, optimizer="adam")

    assert dict(Wrapper().parent.child.hparams) == {"init_method": "xavier", "batch_size": 64, "optimizer": "adam"}


def test_fit_resumes_from_a_checkpoint_with_placeholders_like_from_any_other(tmp_path):
    """fit(ckpt_path=...) does not rebuild the module, so the placeholders in the file are no obstacle."""
    path = _checkpoint(tmp_path / "a", _quietly(Rich))
    resumed, trainer = fit(tmp_path / "b", model=_quietly(Rich), ckpt_path=path, max_epochs=2)
    assert trainer.current_epoch == 2 and trainer.global_step == 2 * len(loaders()[0])
    assert isinstance(resumed.hparams.loss, nn.MSELoss)  # the module's own hyper-parameters are untouched
