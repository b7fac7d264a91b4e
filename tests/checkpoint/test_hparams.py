"""save_hyperparameters / hparams / load_from_checkpoint, on StateModule and standalone objects."""
from __future__ import annotations

import inspect
import warnings
from argparse import Namespace
from pathlib import Path

import pytest
import torch
from torch import nn

from statetrainer.checkpoint import io
from statetrainer.errors import CheckpointError, MisconfigurationError
from statetrainer.module import hparams as hp
from statetrainer.module.module import StateModule


class AllArgs(StateModule):
    def __init__(self, width: int = 4, lr: float = 0.1, name: str = "net", *rest, act: str = "relu", **extra):
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(width, 2)


class Named(StateModule):
    def __init__(self, width=3, lr=0.5, noise=0.0):
        super().__init__()
        self.save_hyperparameters("width", "noise")
        self.layer = nn.Linear(width, 1)


class Ignoring(StateModule):
    def __init__(self, backbone: nn.Module, width=2, lr=0.1):
        super().__init__()
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone = backbone
        self.head = nn.Linear(width, 1)


class FromDict(StateModule):
    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters(config)
        self.layer = nn.Linear(config["width"], 1)


class Base(StateModule):
    def __init__(self, width=2, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(width, 1)


class Derived(Base):
    def __init__(self, depth=3, width=5):
        super().__init__(width=width, lr=0.25)


def _save(module: nn.Module, path: Path, **extra) -> Path:
    stored = hp.hparams_for_checkpoint(module)
    checkpoint = {"state_dict": module.state_dict(), **extra}
    if stored:
        checkpoint["hyper_parameters"], checkpoint["hparams_name"] = stored
    io.save(checkpoint, path)
    return path


def test_all_init_args_including_keyword_only_and_extra_kwargs():
    model = AllArgs(8, name="big", act="gelu", dropout=0.2)
    assert dict(model.hparams) == {"width": 8, "lr": 0.1, "name": "big", "act": "gelu", "dropout": 0.2}
    assert model.hparams.width == 8 and model._hparams_name == "kwargs"


def test_named_args_only():
    assert dict(Named(7, lr=1.0).hparams) == {"width": 7, "noise": 0.0}


def test_ignore_by_name_and_string():
    model = Ignoring(nn.Linear(2, 2), width=3)
    assert dict(model.hparams) == {"width": 3, "lr": 0.1}


def test_single_dict_argument_keeps_its_name():
    model = FromDict({"width": 6, "lr": 0.01})
    assert dict(model.hparams) == {"width": 6, "lr": 0.01} and model._hparams_name == "config"


def test_namespace_argument():
    class WithNamespace(StateModule):
        def __init__(self, args):
            super().__init__()
            self.save_hyperparameters(args)

    assert dict(WithNamespace(Namespace(a=1, b="x")).hparams) == {"a": 1, "b": "x"}


def test_subclass_arguments_win_over_base_arguments():
    model = Derived(depth=4)
    assert dict(model.hparams) == {"width": 5, "lr": 0.25, "depth": 4}


def test_hparams_initial_is_a_frozen_copy():
    model = Named(2)
    model.hparams.width = 99
    assert model.hparams.width == 99 and model.hparams_initial.width == 2


def test_hparams_before_saving_is_empty_and_attribute_errors_name_the_keys():
    model = StateModule()
    assert dict(model.hparams) == {}
    with pytest.raises(AttributeError, match=r"no hyper-parameter named 'lr'; saved: \[\]"):
        model.hparams.lr


def test_unknown_name_is_refused():
    class Typo(StateModule):
        def __init__(self, width=1):
            super().__init__()
            self.save_hyperparameters("widht")

    with pytest.raises(MisconfigurationError, match=r"`save_hyperparameters\(\*args\)` got 'widht'; accepted: names"):
        Typo()


def test_module_hparam_warns_to_ignore_it():
    class Holder(StateModule):
        def __init__(self, net):
            super().__init__()
            self.save_hyperparameters()

    with pytest.warns(UserWarning) as record:
        Holder(nn.Linear(1, 1))
    assert [str(w.message) for w in record] == [
        "Holder.save_hyperparameters: 'net' (an nn.Module (torch.nn.modules.linear.Linear)) cannot be stored as "
        "data: a checkpoint records them as a description only, so load_from_checkpoint will ask for them as "
        "arguments; to leave them out use save_hyperparameters(ignore=['net']). The weights of nn.Module "
        "hyper-parameters ['net'] are saved in the state_dict already."]


def test_frame_argument_and_plain_object():
    class Plain:
        def __init__(self, a, b=2):
            hp.save_hyperparameters(self, frame=inspect.currentframe())

    assert dict(hp.get_hparams(Plain(1))) == {"a": 1, "b": 2}


def test_empty_container_saves_nothing():
    class Empty(StateModule):
        def __init__(self, a=1):
            super().__init__()
            self.save_hyperparameters({})

    assert dict(Empty().hparams) == {}


# ---------------------------------------------------------------- checkpoint form and load_from_checkpoint


def test_load_from_checkpoint_rebuilds_with_saved_hparams_and_weights(tmp_path):
    model = AllArgs(3, lr=0.5, act="tanh", dropout=0.1)
    path = _save(model, tmp_path / "m.ckpt")
    loaded = AllArgs.load_from_checkpoint(path)
    assert dict(loaded.hparams) == dict(model.hparams)
    assert torch.equal(loaded.layer.weight, model.layer.weight)


def test_overrides_replace_saved_and_supply_ignored_args(tmp_path):
    model = Ignoring(nn.Linear(2, 2), width=3, lr=0.2)
    path = _save(model, tmp_path / "m.ckpt")
    backbone = nn.Linear(2, 2)
    loaded = Ignoring.load_from_checkpoint(path, backbone=backbone, lr=0.9)
    assert loaded.backbone is backbone and dict(loaded.hparams) == {"width": 3, "lr": 0.9}
    assert torch.equal(loaded.head.weight, model.head.weight)


def test_single_dict_hparams_go_back_under_their_argument_name(tmp_path):
    path = _save(FromDict({"width": 4, "lr": 0.3}), tmp_path / "d.ckpt")
    assert dict(FromDict.load_from_checkpoint(path).hparams) == {"width": 4, "lr": 0.3}


def test_strict_loading_lists_missing_and_unexpected_keys(tmp_path):
    model = Named(3)
    state = dict(model.state_dict())
    state["extra.weight"] = state.pop("layer.bias")
    io.save({"state_dict": state, "hyper_parameters": {"width": 3}}, tmp_path / "s.ckpt")
    with pytest.raises(CheckpointError) as info:
        Named.load_from_checkpoint(tmp_path / "s.ckpt")
    assert str(info.value).endswith("do not match Named (strict=True): missing keys ['layer.bias']; "
                                    "unexpected keys ['extra.weight'].")
    with pytest.warns(UserWarning, match=r"missing keys \['layer.bias'\]; unexpected keys \['extra.weight'\]"):
        loaded = Named.load_from_checkpoint(tmp_path / "s.ckpt", strict=False)
    assert torch.equal(loaded.layer.weight, model.layer.weight)


def test_shape_mismatch_is_a_checkpoint_error(tmp_path):
    path = _save(Named(3), tmp_path / "w.ckpt")
    with pytest.raises(CheckpointError, match=r"loading the weights from .* into Named failed: .*size mismatch"):
        Named.load_from_checkpoint(path, width=5)


def test_hparams_file_replaces_the_checkpoint_hparams(tmp_path):
    path = _save(Named(3, noise=0.0), tmp_path / "h.ckpt")
    (tmp_path / "hparams.yaml").write_text("width: 3\nnoise: 0.5\n")
    loaded = Named.load_from_checkpoint(path, hparams_file=tmp_path / "hparams.yaml")
    assert dict(loaded.hparams) == {"width": 3, "noise": 0.5}
    with pytest.raises(MisconfigurationError, match=r"`hparams_file` got .*; accepted: a .yaml or .yml file"):
        Named.load_from_checkpoint(path, hparams_file=tmp_path / "h.csv")


def test_nothing_named_in_the_checkpoint_is_imported_or_called(tmp_path):
    model = AllArgs(2)
    checkpoint = {"state_dict": model.state_dict(), "hparams_name": "kwargs",
                  "hyper_parameters": {"width": 2, "_instantiator": "os.system", "_class_path": "os.system"},
                  "hparams_type": "omegaconf.DictConfig"}
    io.save(checkpoint, tmp_path / "x.ckpt")
    loaded = AllArgs.load_from_checkpoint(tmp_path / "x.ckpt")
    # the entries are plain strings passed like any other hyper-parameter (AllArgs takes **extra)
    assert loaded.hparams["_instantiator"] == "os.system" and type(loaded) is AllArgs


def test_non_plain_hparam_is_refused_when_error_is_asked_for(tmp_path):
    class WithPath(StateModule):
        def __init__(self, root=Path("/data")):
            super().__init__()
            self.save_hyperparameters(non_plain="error")

    with pytest.warns(UserWarning, match=r"'root' \(a pathlib.PosixPath\) cannot be stored as data: writing a "
                                         r"checkpoint will fail \(non_plain='error'\)"):
        model = WithPath()
    with pytest.raises(CheckpointError) as info:
        hp.hparams_for_checkpoint(model)
    assert str(info.value) == (
        "hyper-parameter 'root' of test_non_plain_hparam_is_refused_when_error_is_asked_for.<locals>.WithPath"
        " holds a pathlib.PosixPath, which a weights-only checkpoint cannot store; accepted: tensors, numbers, "
        "strings, bytes, None, torch dtypes/devices, and dict/list/tuple/set/Counter of these. Fix: "
        "save_hyperparameters(ignore=['root']), store it as plain data, or leave non_plain at its default 'record'.")


def test_non_plain_repr_opt_in_stores_reprs_of_the_non_plain_parts(tmp_path):
    class WithPath(nn.Module):
        def __init__(self, root=Path("/data"), sizes=(1, 2), nested=None):
            super().__init__()
            hp.save_hyperparameters(self, frame=inspect.currentframe(), non_plain="repr")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the opt-in means no warning
        model = WithPath(nested={"p": Path("/x"), "n": 1})
    stored, name = hp.hparams_for_checkpoint(model)
    assert stored == {"root": "PosixPath('/data')", "sizes": (1, 2), "nested": {"p": "PosixPath('/x')", "n": 1}}
    assert name == "kwargs"


def test_non_plain_flag_is_checked():
    with pytest.raises(MisconfigurationError, match=r"`non_plain` got 'pickle'; accepted: 'record' \(the safe "
                                                    r"recorded form\), 'repr' or 'error'"):
        hp.save_hyperparameters(StateModule(), non_plain="pickle")


def test_attribute_dicts_are_stored_as_plain_dicts(tmp_path):
    model = FromDict({"width": 2, "inner": hp.AttributeDict(a=1)})
    stored, _ = hp.hparams_for_checkpoint(model)
    assert type(stored) is dict and type(stored["inner"]) is dict and stored["inner"] == {"a": 1}


def test_unsafe_checkpoint_needs_the_opt_in(tmp_path):
    model = Named(2)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": {"width": 2, "noise": Path("/x")}},
               tmp_path / "u.ckpt")
    with pytest.raises(CheckpointError, match=r"needs arbitrary unpickling \(it names 'pathlib.PosixPath'\)"):
        Named.load_from_checkpoint(tmp_path / "u.ckpt")
    loaded = Named.load_from_checkpoint(tmp_path / "u.ckpt", weights_only=False)
    assert loaded.hparams.noise == Path("/x")


def test_checkpoint_key_names_are_lightnings():
    from statetrainer.data.datamodule import DataModule
    from statetrainer.module.hparams_loading import HPARAMS_KEYS
    for cls, kind in ((StateModule, "module"), (DataModule, "datamodule")):
        assert (cls.CHECKPOINT_HYPER_PARAMS_KEY, cls.CHECKPOINT_HYPER_PARAMS_NAME) == HPARAMS_KEYS[kind]
    assert DataModule.CHECKPOINT_HYPER_PARAMS_KEY == "datamodule_hyper_parameters"
    assert StateModule.CHECKPOINT_HYPER_PARAMS_TYPE == "hparams_type"


def test_empty_state_dict_warns_and_keeps_the_initial_weights(tmp_path):
    io.save({"state_dict": {}, "hyper_parameters": {"width": 3}}, tmp_path / "e.ckpt")
    with pytest.warns(UserWarning, match=r"holds no weights \(its state_dict is empty\): Named keeps the weights"):
        loaded = Named.load_from_checkpoint(tmp_path / "e.ckpt")
    assert loaded.layer.in_features == 3


@pytest.mark.parametrize("strict, strict_loading, passed", [
    (None, None, True), (None, False, False), (True, True, True), (False, None, False), (True, None, True)])
def test_load_state_dict_gets_the_strictness_once(tmp_path, monkeypatch, strict, strict_loading, passed):
    path = _save(Named(3), tmp_path / "s.ckpt")
    calls = []
    real = nn.Module.load_state_dict
    monkeypatch.setattr(nn.Module, "load_state_dict", lambda self, state, strict=True, **kw: (
        calls.append(strict), real(self, state, strict=strict))[1])
    monkeypatch.setattr(Named, "strict_loading", strict_loading, raising=False)
    Named.load_from_checkpoint(path, strict=strict)
    assert calls == [passed]


def test_strict_in_conflict_with_strict_loading_is_refused(tmp_path, monkeypatch):
    path = _save(Named(3), tmp_path / "s.ckpt")
    monkeypatch.setattr(Named, "strict_loading", False, raising=False)
    with pytest.raises(MisconfigurationError, match=r"^`strict` got True; accepted: None or False, the value of "
                                                    r"Named.strict_loading"):
        Named.load_from_checkpoint(path, strict=True)


def test_a_missing_hparams_file_warns_and_builds_from_the_overrides(tmp_path):
    """Lightning goes on without the file's values; we go on too but say so (a typo would pass unseen)."""
    path = _save(Named(3, noise=0.2), tmp_path / "h.ckpt")
    missing = tmp_path / "logs" / "hparams.yaml"
    with pytest.warns(UserWarning, match=r"hparams_file '.*hparams.yaml' does not exist; the class is built "
                                         r"without the saved hyper-parameters") as record:
        loaded = Named.load_from_checkpoint(path, hparams_file=missing, width=3)
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert loaded.hparams["noise"] == 0.0  # the checkpoint's 0.2 is not used, as in Lightning


def test_strict_false_loads_a_checkpoint_with_an_extra_layer(tmp_path):
    """A model saved with a layer the class lacks loads with strict=False (the extra weights are reported)."""
    model = Named(3)
    model.extra = nn.Linear(2, 2)
    path = tmp_path / "x.ckpt"
    io.save({"state_dict": model.state_dict(), "hyper_parameters": {"width": 3}}, path)
    with pytest.raises(CheckpointError, match=r"unexpected keys \['extra.weight', 'extra.bias'\]"):
        Named.load_from_checkpoint(path)
    with pytest.warns(UserWarning, match=r"unexpected keys \['extra.weight', 'extra.bias'\]"):
        loaded = Named.load_from_checkpoint(path, strict=False)
    assert torch.equal(loaded.layer.weight, model.layer.weight)
