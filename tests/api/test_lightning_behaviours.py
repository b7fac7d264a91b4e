"""Behaviours Lightning's own tests pin down, run on both libraries with the same code and compared.

Each test builds its module from `_base(lib)` ("pl": LightningModule, "st": StateModule), so the
class bodies are identical under both: what differs is only what the libraries do with them.
"""
from __future__ import annotations

import copy
import os
import pickle
import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

QUIET = dict(logger=False, enable_progress_bar=False, enable_model_summary=False)
LIBS = ("pl", "st")


def _pkg(lib: str):
    if lib == "pl":
        import lightning.pytorch as pl
        return pl
    import statetrainer as st
    return st


def _base(lib: str):
    pkg = _pkg(lib)
    return pkg.LightningModule if lib == "pl" else pkg.StateModule


def _loader(n: int = 8, batch_size: int = 2, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=batch_size)


def _model(lib: str, **overrides):
    """A linear regression module; `overrides` replace or add methods (same functions for both libraries)."""
    def __init__(self):
        _base(lib).__init__(self)
        self.layer = nn.Linear(2, 1)

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, batch_idx):
        return nn.functional.mse_loss(self(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", nn.functional.mse_loss(self(batch[0]), batch[1]))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", nn.functional.mse_loss(self(batch[0]), batch[1]))

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    body = dict(__init__=__init__, forward=forward, training_step=training_step, validation_step=validation_step,
                test_step=test_step, predict_step=predict_step, configure_optimizers=configure_optimizers)
    body.update(overrides)
    torch.manual_seed(0)
    return type("Regression", (_base(lib),), body)()


def _fit(lib: str, model, *loaders, **flags):
    trainer = _pkg(lib).Trainer(**{**QUIET, **flags})
    trainer.fit(model, *loaders)
    return trainer


def _messages(record) -> list[str]:
    return [str(w.message) for w in record]


# ------------------------------------------------------------------ validate/test/predict() after fit
@pytest.mark.parametrize("fn", ["validate", "test", "predict"])
def test_evaluating_after_fit_without_a_model_loads_the_best_checkpoint(tmp_path, fn):
    seen = {}
    for lib in LIBS:
        pkg = _pkg(lib)
        best = pkg.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=1)
        model = _model(lib)
        trainer = _fit(lib, model, _loader(), _loader(4), max_epochs=3, callbacks=[best],
                       default_root_dir=tmp_path / lib)
        with pytest.warns(UserWarning) as record:
            out = getattr(trainer, fn)(dataloaders=_loader(4))
        warned = [m for m in _messages(record) if "best" in m]
        in_memory_path = trainer.ckpt_path
        getattr(trainer, fn)(model, dataloaders=_loader(4))
        seen[lib] = (len(warned), os.path.basename(in_memory_path), trainer.ckpt_path, out)
        assert in_memory_path == best.best_model_path
    assert seen["st"][:3] == seen["pl"][:3] == (1, os.path.basename(seen["st"][1]), None)
    assert repr(seen["st"][3]) == repr(seen["pl"][3])  # the best epoch's weights, not the last ones
    assert warned == [f"`{fn}()` got no model, so it loads the best checkpoint of the previous fit "
                      "(ckpt_path='best'); pass ckpt_path='best' or 'last', or the model, to choose."]


def test_evaluating_after_fit_without_checkpointing_is_refused(tmp_path):
    for lib in LIBS:
        trainer = _fit(lib, _model(lib), _loader(), max_epochs=1, enable_checkpointing=False,
                       default_root_dir=tmp_path)
        with pytest.raises(ValueError, match="ModelCheckpoint"), pytest.warns(UserWarning, match="best"):
            trainer.test(dataloaders=_loader(4))


# ------------------------------------------------------------------ the closure and modes
def test_the_closure_runs_with_grad_enabled_under_a_no_grad_optimizer():
    class NoGradSGD(torch.optim.SGD):  # Hugging Face's AdamW steps under torch.no_grad too
        @torch.no_grad()
        def step(self, closure=None):
            loss = closure() if closure is not None else None
            super().step()
            return loss

    results = {}
    for lib in LIBS:
        grad = []

        def training_step(self, batch, batch_idx, grad=grad):
            grad.append(torch.is_grad_enabled())
            return nn.functional.mse_loss(self(batch[0]), batch[1])
        model = _model(lib, training_step=training_step,
                       configure_optimizers=lambda self: NoGradSGD(self.parameters(), lr=0.1))
        _fit(lib, model, _loader(), max_epochs=1, enable_checkpointing=False)
        results[lib] = (grad, model.layer.weight.detach().clone())
    assert results["st"][0] == results["pl"][0] == [True] * 4
    assert torch.equal(results["st"][1], results["pl"][1])


def test_each_submodule_gets_its_mode_back_after_evaluation():
    modes = {}
    for lib in LIBS:
        seen = []

        def __init__(self):
            _base(lib).__init__(self)
            self.layer = nn.Linear(2, 1)
            self.frozen = nn.Linear(2, 2).eval()  # a frozen part stays in eval mode throughout

        def forward(self, x):
            seen.append((self.training, self.layer.training, self.frozen.training))
            return self.layer(self.frozen(x))

        model = _model(lib, __init__=__init__, forward=forward)
        trainer = _fit(lib, model, _loader(4), _loader(2), max_epochs=1, enable_checkpointing=False)
        for fn in ("validate", "test", "predict"):
            getattr(trainer, fn)(model, _loader(2), verbose=False) if fn != "predict" else trainer.predict(
                model, _loader(2))
            seen.append(("after " + fn, model.training, model.frozen.training))
        modes[lib] = seen
    assert modes["st"] == modes["pl"]
    assert modes["st"][-1] == ("after predict", True, False)


# ------------------------------------------------------------------ exceptions
@pytest.mark.parametrize("error", [RuntimeError, ValueError])
def test_interrupted_reads_true_after_any_exception(error):
    def training_step(self, batch, batch_idx):
        raise error("broken step")
    for lib in LIBS:
        trainer = _pkg(lib).Trainer(max_epochs=1, enable_checkpointing=False, **QUIET)
        with pytest.raises(error, match="broken step"):
            trainer.fit(_model(lib, training_step=training_step), _loader())
        assert trainer.interrupted and trainer.state.status == "interrupted"
    assert trainer.state.current == "failed"  # statetrainer still tells a failure from Ctrl-C


def test_ctrl_c_is_told_apart_from_a_failure():
    import statetrainer as st

    def training_step(self, batch, batch_idx):
        raise KeyboardInterrupt
    trainer = st.Trainer(max_epochs=1, enable_checkpointing=False, **QUIET)
    trainer.fit(_model("st", training_step=training_step), _loader())  # returns: see docs/porting.md
    assert trainer.interrupted and trainer.state.current == "interrupted"


# ------------------------------------------------------------------ schedulers and -1
@pytest.mark.parametrize("interval,frequency,accumulate", [("epoch", 1, 1), ("step", 1, 1), ("step", 2, 1),
                                                           ("step", 1, 2), ("epoch", 1, 4)])
def test_schedulers_step_at_an_epoch_ended_by_minus_one(interval, frequency, accumulate):
    steps = {}
    for lib in LIBS:
        log = []

        def on_train_batch_start(self, batch, batch_idx):
            return -1 if batch_idx == 5 else None

        def lr_scheduler_step(self, scheduler, metric, log=log):
            log.append((self.current_epoch, self.trainer.global_step))
            scheduler.step()

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": interval,
                                                       "frequency": frequency}}
        model = _model(lib, on_train_batch_start=on_train_batch_start, lr_scheduler_step=lr_scheduler_step,
                       configure_optimizers=configure_optimizers)
        trainer = _fit(lib, model, _loader(20), max_epochs=2, enable_checkpointing=False,
                       accumulate_grad_batches=accumulate)
        steps[lib] = (log, trainer.global_step, trainer.optimizers[0].param_groups[0]["lr"])
    assert steps["st"] == steps["pl"]


# ------------------------------------------------------------------ limits, defaults and a second fit
def test_max_epochs_reads_none_until_fit_settles_it():
    for lib in LIBS:
        trainer = _pkg(lib).Trainer(enable_checkpointing=False, limit_train_batches=1, **QUIET)
        assert trainer.max_epochs is None

        def training_step(self, batch, batch_idx):
            self.trainer.should_stop = True
            return nn.functional.mse_loss(self(batch[0]), batch[1])
        with pytest.warns(UserWarning, match="`max_epochs` was not set"):
            trainer.fit(_model(lib, training_step=training_step), _loader())
        assert (trainer.max_epochs, trainer.current_epoch) == (1000, 1)
        assert _pkg(lib).Trainer(max_steps=3, **QUIET).max_epochs is None


@pytest.mark.parametrize("flag", [True, False, 0, 1, 3])
def test_fast_dev_run_reads_as_lightning_reads_it(flag):
    read = [_pkg(lib).Trainer(fast_dev_run=flag, **QUIET).fast_dev_run for lib in LIBS]
    assert read[0] == read[1] and type(read[0]) is type(read[1])


def test_a_fit_with_nothing_left_to_train_warns(tmp_path):
    import statetrainer as st
    trainer = st.Trainer(max_epochs=1, default_root_dir=tmp_path, **QUIET)
    model = _model("st")
    trainer.fit(model, _loader())
    with pytest.warns(UserWarning, match=r"^fit had nothing to train: max_epochs=1 was already reached when it "
                                         r"started \(current_epoch=1, global_step=4\); raise max_epochs"):
        trainer.fit(model, _loader())
    assert trainer.global_step == 4


@pytest.mark.parametrize("saved_epoch,max_epochs,outcome", [(1, 1, "done"), (1, 2, "done"), (2, 1, "refused"),
                                                            (2, 3, "trains")])
def test_resuming_a_checkpoint_past_max_epochs(tmp_path, saved_epoch, max_epochs, outcome):
    outcomes = {}
    for lib in LIBS:
        pkg = _pkg(lib)
        every = pkg.callbacks.ModelCheckpoint(dirpath=tmp_path / lib, save_top_k=-1, every_n_train_steps=1)
        _fit(lib, _model(lib), _loader(4), max_epochs=3, callbacks=[every])
        path = str(tmp_path / lib / f"epoch={saved_epoch}-step={2 * saved_epoch + 2}.ckpt")
        trainer = pkg.Trainer(max_epochs=max_epochs, enable_checkpointing=False, **QUIET)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trainer.fit(_model(lib), _loader(4), ckpt_path=path)
            outcomes[lib] = (trainer.current_epoch, trainer.global_step)
        except Exception as err:  # Lightning's MisconfigurationException, our MisconfigurationError
            outcomes[lib] = "refused"
            message = str(err)
    assert outcomes["st"] == outcomes["pl"]
    if outcome == "refused":
        assert outcomes["st"] == "refused" and message == (
            f"`max_epochs` got 1 but the checkpoint {path!r} was taken in epoch 2; accepted: max_epochs > 2 (or -1) "
            "to resume it.")
    else:  # resumed: it ends at once (the epoch limit was reached) or trains up to max_epochs
        assert outcomes["st"] == ((max_epochs, 2 * max_epochs) if outcome == "trains" else
                                  (max(max_epochs, saved_epoch), 2 * saved_epoch + 2))


# ------------------------------------------------------------------ pickling and copies
def test_the_trainer_pickles_and_its_callbacks_deep_copy(tmp_path):
    import cloudpickle
    for lib in LIBS:
        pkg = _pkg(lib)
        trainer = pkg.Trainer(max_epochs=1, default_root_dir=tmp_path / lib,
                              callbacks=[pkg.callbacks.ModelCheckpoint(monitor="val_loss", save_last=True)],
                              enable_progress_bar=False)
        pickle.dumps(trainer)
        model = _model(lib)
        trainer.fit(model, _loader(), _loader(4))
        copies = copy.deepcopy(trainer.callbacks)
        assert [type(cb).__name__ for cb in copies] == [type(cb).__name__ for cb in trainer.callbacks]
        cloudpickle.dumps(trainer)
        restored = cloudpickle.loads(cloudpickle.dumps(model))  # by value: the class is built in the test
        assert restored._trainer is None and torch.equal(restored.layer.weight, model.layer.weight)
    again = cloudpickle.loads(cloudpickle.dumps(trainer))
    assert (again.global_step, again.current_epoch, again.state.status) == (4, 1, "finished")


# ------------------------------------------------------------------ warnings and errors
def test_training_step_returning_none_warns_once():
    from lightning.pytorch.loops.optimization.automatic import Closure

    from statetrainer.loop.training import NO_LOSS
    counts = {}
    for lib in LIBS:
        (Closure.warning_cache if lib == "pl" else NO_LOSS).clear()
        model = _model(lib, training_step=lambda self, batch, batch_idx: None)
        weight = model.layer.weight.detach().clone()
        with pytest.warns(UserWarning) as record:
            trainer = _fit(lib, model, _loader(), max_epochs=2, enable_checkpointing=False)
        counts[lib] = (len([m for m in _messages(record) if "training_step` returned `None`" in m
                            or m.startswith("training_step returned None")]), trainer.global_step)
        assert torch.equal(model.layer.weight, weight)
    assert counts["st"] == counts["pl"] == (1, 8)


def test_configure_optimizers_returning_none_trains_without_an_optimizer():
    for manual in (False, True):
        results = {}
        for lib in LIBS:
            calls = []

            def training_step(self, batch, batch_idx, calls=calls):
                calls.append(batch_idx)
                loss = nn.functional.mse_loss(self(batch[0]), batch[1])
                if not self.automatic_optimization:
                    opt = self.optimizers()
                    calls.append(len(opt.param_groups))
                    opt.step()
                    return None
                return loss

            def __init__(self):
                _base(lib).__init__(self)
                self.layer = nn.Linear(2, 1)
                self.automatic_optimization = not manual
            model = _model(lib, __init__=__init__, training_step=training_step,
                           configure_optimizers=lambda self: None)
            weight = model.layer.weight.detach().clone()
            with pytest.warns(UserWarning, match="configure_optimizers` returned `None`|configure_optimizers "
                                                 "returned None, so this fit runs without an optimizer"):
                trainer = _fit(lib, model, _loader(), max_epochs=1, enable_checkpointing=False)
            results[lib] = (calls, trainer.global_step, len(trainer.optimizers),
                            torch.equal(weight, model.layer.weight))
        assert results["st"] == results["pl"]


def test_load_from_checkpoint_on_an_instance_is_refused(tmp_path):
    for lib in LIBS:
        trainer = _fit(lib, _model(lib), _loader(), max_epochs=1, default_root_dir=tmp_path / lib)
        model = _model(lib)
        with pytest.raises(TypeError) as info:
            model.load_from_checkpoint(trainer.checkpoint_callback.best_model_path)
    assert str(info.value) == ("`Regression.load_from_checkpoint` was called on an instance, which it would leave "
                               "unchanged; accepted: call it on the class, `model = "
                               "Regression.load_from_checkpoint(path)`.")
    assert type(model).load_from_checkpoint(trainer.checkpoint_callback.best_model_path).layer.weight.shape == (1, 2)


def test_errors_a_user_needs():
    import statetrainer as st
    for lib in LIBS:
        with pytest.raises(TypeError):
            _pkg(lib).Trainer(gradient_clip_val=(1, 2), **QUIET)
        with pytest.raises(TypeError):
            _pkg(lib).Trainer(**QUIET).fit(nn.Linear(2, 2))
    with pytest.raises(st.errors.MisconfigurationError, match=r"^`gradient_clip_val` got \(1, 2\); accepted: an int"):
        st.Trainer(gradient_clip_val=(1, 2))
    with pytest.raises(st.errors.MisconfigurationError, match=r"^`model` got a Linear; accepted: a "
                                                              r"statetrainer.StateModule instance"):
        st.Trainer(**QUIET).fit(nn.Linear(2, 2))
    # Lightning lets the maximum win silently; a minimum above it cannot hold (docs/porting.md)
    with pytest.raises(st.errors.MisconfigurationError, match=r"^`min_epochs` got 5, above max_epochs=2; accepted"):
        st.Trainer(min_epochs=5, max_epochs=2)
    with pytest.raises(st.errors.MisconfigurationError, match=r"^`min_steps` got 9, above max_steps=3; accepted"):
        st.Trainer(min_steps=9, max_steps=3)
    st.Trainer(min_epochs=5, max_epochs=-1, min_steps=9, **QUIET)  # no limit: nothing to contradict
    for value in ("0.1", None, float("nan")):
        with pytest.raises(st.errors.MisconfigurationError,
                           match=r"^`EarlyStopping\(min_delta\)` got .*; accepted: a number"):
            st.callbacks.EarlyStopping("val_loss", min_delta=value)


def test_precision_16_on_the_cpu_runs_bf16_mixed_with_a_warning():
    dtypes = {}
    for lib in LIBS:
        seen = []

        def training_step(self, batch, batch_idx, seen=seen):
            out = self(batch[0])
            seen.append(out.dtype)
            return nn.functional.mse_loss(out.float(), batch[1])
        with pytest.warns(UserWarning, match="bf16-mixed"):
            trainer = _pkg(lib).Trainer(precision=16, max_epochs=1, enable_checkpointing=False, **QUIET)
        trainer.fit(_model(lib, training_step=training_step), _loader())
        dtypes[lib] = (trainer.precision, seen)
    assert dtypes["st"] == dtypes["pl"] == ("bf16-mixed", [torch.bfloat16] * 4)


def test_manual_optimizer_step_returns_the_optimizers_output():
    class Reporting(torch.optim.SGD):
        def step(self, closure=None):
            super().step(closure)
            return "stepped"

    for lib in LIBS:
        outputs = []

        def __init__(self):
            _base(lib).__init__(self)
            self.layer = nn.Linear(2, 1)
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx, outputs=outputs):
            opt = self.optimizers()
            opt.zero_grad()
            self.manual_backward(nn.functional.mse_loss(self(batch[0]), batch[1]))
            outputs.append(opt.step())
        model = _model(lib, __init__=__init__, training_step=training_step,
                       configure_optimizers=lambda self: Reporting(self.parameters(), lr=0.1))
        _fit(lib, model, _loader(), max_epochs=1, enable_checkpointing=False)
        assert outputs == ["stepped"] * 4


def test_freeze_unfreeze_and_a_home_root_dir():
    for lib in LIBS:
        model = _model(lib)
        assert model.freeze() is model and not model.training
        assert not any(p.requires_grad for p in model.parameters())
        assert model.unfreeze() is model and model.training
        trainer = _pkg(lib).Trainer(default_root_dir="~/runs/../x", **QUIET)
        assert trainer.default_root_dir == os.path.join(os.path.expanduser("~"), "x")
