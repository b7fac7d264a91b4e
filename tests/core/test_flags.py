"""Trainer flags: bad values refused by name, argparse, fast_dev_run, determinism, anomaly
detection, precision and inference mode."""
from __future__ import annotations

import argparse

import pytest
import torch

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.trainer.flags import FLAG_HELP
from tests.core.helpers import QUIET, Tiny, counter_class, lightning, loader, tiny_class

BAD = {  # flag: a value it must refuse
    "accelerator": "tpu", "strategy": "fsdp", "devices": "many", "num_nodes": 0, "precision": "8",
    "logger": "yes", "callbacks": [object()], "fast_dev_run": -1, "max_epochs": -2, "min_epochs": -1,
    "max_steps": -5, "min_steps": 1.5, "max_time": "1h", "limit_train_batches": 1.5, "limit_val_batches": -1,
    "limit_test_batches": "all", "limit_predict_batches": True, "overfit_batches": 2.5, "val_check_interval": 0.0,
    "check_val_every_n_epoch": 0, "num_sanity_val_steps": -2, "log_every_n_steps": -1,
    "enable_checkpointing": "no", "enable_progress_bar": 1, "enable_model_summary": "yes",
    "accumulate_grad_batches": 0, "gradient_clip_val": -1.0, "gradient_clip_algorithm": "l2",
    "track_grad_norm": 0, "deterministic": "always", "benchmark": "fast", "inference_mode": None,
    "use_distributed_sampler": "yes", "replace_sampler_ddp": 3, "profiler": "fancy", "detect_anomaly": 1,
    "barebones": "yes", "plugins": [object()], "sync_batchnorm": "yes", "reload_dataloaders_every_n_epochs": -1,
    "default_root_dir": 3, "auto_lr_find": 3, "auto_scale_batch_size": "bigger",
}
MORE_BAD = [  # further values worth refusing, (flag, value)
    ("max_epochs", 1.5), ("max_steps", None), ("accumulate_grad_batches", {1: 0}), ("accumulate_grad_batches", {-1: 2}),
    ("val_check_interval", 1.5), ("val_check_interval", 0), ("limit_train_batches", -0.5), ("fast_dev_run", 1.5),
    ("num_nodes", "2"), ("gradient_clip_val", "1"), ("max_time", {"hour": 1}), ("precision", 8),
    ("track_grad_norm", "l2"), ("devices", 0),
]
NOT_YET: dict[str, str] = {}


def test_the_bad_value_table_covers_every_flag():
    assert set(BAD) == set(FLAG_HELP)


def _build(flag, value):
    flags = {"logger": False, "enable_progress_bar": False, **{flag: value}}
    return st.Trainer(**flags)


@pytest.mark.parametrize("flag, value", [pytest.param(f, v, marks=pytest.mark.xfail(reason=NOT_YET[f], strict=True))
                                         if f in NOT_YET else (f, v) for f, v in BAD.items()] + MORE_BAD)
def test_bad_flag_value_is_refused_with_flag_value_and_accepted(flag, value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MisconfigurationError) as info:
        _build(flag, value)
    message = str(info.value)
    assert message.startswith(f"`{flag}` got {value!r}"), message
    assert "accepted" in message and message.endswith("."), message


def test_unknown_flag_is_refused_by_name():
    with pytest.raises(MisconfigurationError, match=r"Trainer got unknown flag\(s\) \['max_epoch'\]; accepted: "):
        st.Trainer(max_epoch=3)


@pytest.mark.parametrize("flags, text", [
    (dict(barebones=True, enable_checkpointing=True), "`barebones=True` turns `enable_checkpointing` off but it got True"),
    (dict(barebones=True, logger=True), "`barebones=True` turns `logger` off but it got True"),
    (dict(enable_checkpointing=False, callbacks=[st.callbacks.ModelCheckpoint()]),
     "`enable_checkpointing` got False but a ModelCheckpoint is in `callbacks`"),
])
def test_contradicting_flags_are_refused(flags, text):
    with pytest.raises(MisconfigurationError, match=text.replace("(", r"\(").replace(")", r"\)")):
        st.Trainer(**flags)


def test_val_check_interval_larger_than_epoch_is_refused_before_first_batch():
    module = Tiny()
    with pytest.raises(MisconfigurationError, match=r"`val_check_interval` got 10, more than the 4 training batches"):
        st.Trainer(max_epochs=1, val_check_interval=10, **QUIET).fit(module, loader(), loader(2, 2))
    assert module.seen == []


# ------------------------------------------------------------------ argparse
def test_add_argparse_args_and_from_argparse_args():
    parser = st.Trainer.add_argparse_args(argparse.ArgumentParser())
    args = parser.parse_args(["--max_epochs", "2", "--limit_train_batches", "0.5", "--accelerator", "cpu",
                              "--logger", "false", "--enable_progress_bar", "false", "--gradient_clip_val", "0.5",
                              "--devices", "1", "--max_time", "00:00:01:00", "--enable_model_summary", "false"])
    assert (args.max_epochs, args.limit_train_batches, args.logger, args.gradient_clip_val) == (2, 0.5, False, 0.5)
    trainer = st.Trainer.from_argparse_args(args, enable_checkpointing=False)
    assert (trainer.max_epochs, trainer.limit_train_batches, trainer.loggers, trainer.gradient_clip_val) == (
        2, 0.5, [], 0.5)
    assert not any(type(cb).__name__ == "ModelCheckpoint" for cb in trainer.callbacks)
    trainer.fit(Tiny(), loader())
    assert (trainer.global_step, trainer.current_epoch) == (4, 2)


def test_argparse_defaults_build_a_default_trainer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = st.Trainer.add_argparse_args(argparse.ArgumentParser()).parse_args([])
    trainer = st.Trainer.from_argparse_args(args)
    assert (trainer.max_epochs, trainer.max_steps, trainer.precision) == (None, -1, "32-true")  # None until fit settles it, as Lightning
    options = {action.dest for action in st.Trainer.add_argparse_args(argparse.ArgumentParser())._actions}
    assert set(FLAG_HELP) - {"callbacks", "plugins"} <= options


def test_from_argparse_args_ignores_other_keys_and_refuses_bad_values():
    args = argparse.Namespace(max_epochs=1, learning_rate=0.1, logger=False, enable_progress_bar=False)
    assert st.Trainer.from_argparse_args(args).max_epochs == 1
    with pytest.raises(MisconfigurationError, match="`max_epochs` got 'x'"):
        st.Trainer.from_argparse_args(argparse.Namespace(max_epochs="x"))


# ------------------------------------------------------------------ fast_dev_run
def _fast_dev(fdr, lib, tmp_path):
    if lib == "pl":
        pl = lightning()
        module_base, callback_base, trainer_cls, callbacks = pl.LightningModule, pl.Callback, pl.Trainer, pl.callbacks
    else:
        module_base, callback_base, trainer_cls, callbacks = st.StateModule, st.Callback, st.Trainer, st.callbacks
    counter = counter_class(callback_base)()
    early = callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=100.0)  # would stop at once
    root = tmp_path / lib
    trainer = trainer_cls(fast_dev_run=fdr, callbacks=[counter, early], default_root_dir=str(root),
                          enable_progress_bar=False, enable_model_summary=False)
    module = tiny_class(module_base)()
    trainer.fit(module, loader(16, 2), loader(8, 2))
    results = trainer.validate(module, loader(8, 2), verbose=False)
    return trainer, counter, module, root, results


@pytest.mark.parametrize("fdr, n", [(True, 1), (2, 2)])
def test_fast_dev_run_side_effects(fdr, n, tmp_path):
    trainer, counter, module, root, results = _fast_dev(fdr, "st", tmp_path)
    assert (trainer.global_step, trainer.current_epoch) == (n, 1)
    assert module.seen == [(0, i) for i in range(n)]
    assert (trainer.max_epochs, trainer.max_steps, trainer.num_sanity_val_steps) == (1, n, 0)
    assert (trainer.limit_train_batches, trainer.limit_val_batches, trainer.limit_test_batches,
            trainer.limit_predict_batches) == (n, n, n, n)
    assert (trainer.val_check_interval, trainer.check_val_every_n_epoch) == (1.0, 1)
    assert counter.counts["on_sanity_check_start"] == 0 and counter.counts["on_validation_start"] == 2
    assert trainer.num_val_batches == [n] and [type(lg).__name__ for lg in trainer.loggers] == ["DummyLogger"]
    assert not root.exists()  # no logs, no checkpoints
    assert trainer.state.stop_reason == f"max_steps={n} reached at global_step={n} (epoch 0)."
    assert trainer.early_stopping_callback.wait_count == 0  # early stopping is disabled
    assert len(results) == 1


@pytest.mark.parametrize("fdr", [True, 2])
def test_fast_dev_run_matches_lightning(fdr, tmp_path):
    ours, our_counter, our_module, our_root, _ = _fast_dev(fdr, "st", tmp_path)
    theirs, their_counter, their_module, their_root, _ = _fast_dev(fdr, "pl", tmp_path)
    assert (ours.global_step, ours.current_epoch, ours.num_val_batches) == (
        theirs.global_step, theirs.current_epoch, theirs.num_val_batches)
    assert our_counter.counts == their_counter.counts and our_module.seen == their_module.seen
    assert our_root.exists() == their_root.exists()


def test_fast_dev_run_disables_logger_callbacks():
    trainer = st.Trainer(fast_dev_run=True, callbacks=[st.callbacks.LearningRateMonitor()], enable_progress_bar=False)
    trainer.fit(Tiny(), loader())
    assert trainer.global_step == 1


def test_fast_dev_run_refused_with_barebones():
    with pytest.raises(MisconfigurationError, match=r"^`fast_dev_run` got 2 with barebones=True; accepted: False"):
        st.Trainer(barebones=True, fast_dev_run=2)


# ------------------------------------------------------------------ torch switches
@pytest.fixture
def restore_determinism():
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    bench = torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.benchmark = bench


@pytest.mark.parametrize("value, enabled, warn_only", [(True, True, False), ("warn", True, True), (False, False, False)])
def test_deterministic(value, enabled, warn_only, restore_determinism):
    st.Trainer(deterministic=value, **QUIET)
    assert torch.are_deterministic_algorithms_enabled() is enabled
    assert torch.is_deterministic_algorithms_warn_only_enabled() is warn_only
    if value is True:
        assert torch.backends.cudnn.benchmark is False


def test_deterministic_runs_repeat_exactly(restore_determinism):
    weights = []
    for _ in range(2):
        st.seed_everything(3)
        module = Tiny()
        st.Trainer(max_epochs=2, deterministic=True, **QUIET).fit(module, loader(8, 2, shuffle=True))
        weights.append(module.layer.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


class ModeProbe(Tiny):
    """Records anomaly detection in training_step and the grad modes in the evaluation steps."""

    def training_step(self, batch, batch_idx):
        self.anomaly = torch.is_anomaly_enabled()
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.modes = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        return super().validation_step(batch, batch_idx)

    def predict_step(self, batch, batch_idx):
        self.modes = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        return super().predict_step(batch, batch_idx)


@pytest.mark.parametrize("flag", [True, False])
def test_detect_anomaly_is_honoured_and_restored(flag):
    module = ModeProbe()
    st.Trainer(max_epochs=1, detect_anomaly=flag, **QUIET).fit(module, loader(2, 2))
    assert module.anomaly is flag and torch.is_anomaly_enabled() is False


def test_detect_anomaly_names_the_backward_that_made_nan():
    class NanBackward(Tiny):
        def training_step(self, batch, batch_idx):
            return torch.sqrt(self(batch[0]).sum() * 0 - 1.0)  # sqrt(-1): nan, its gradient too
    with pytest.raises(RuntimeError, match="SqrtBackward0"):
        st.Trainer(max_epochs=1, detect_anomaly=True, **QUIET).fit(NanBackward(), loader(2, 2))


@pytest.mark.parametrize("inference_mode, validate_modes", [(True, (False, True)), (False, (False, False))])
def test_inference_mode_flag(inference_mode, validate_modes):
    module = ModeProbe()
    trainer = st.Trainer(max_epochs=1, inference_mode=inference_mode, **QUIET)
    trainer.fit(module, loader(2, 2), loader(2, 2))
    assert module.modes == (False, False)  # validation inside fit: no_grad, as Lightning
    trainer.validate(module, loader(2, 2), verbose=False)
    assert module.modes == validate_modes
    trainer.predict(module, loader(2, 2))
    assert module.modes == validate_modes
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


# ------------------------------------------------------------------ precision on the CPU
class DtypeProbe(Tiny):
    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        self.dtypes = (self.layer.weight.dtype, x.dtype, out.dtype)
        return torch.nn.functional.mse_loss(out.float(), y.float())

    def predict_step(self, batch, batch_idx):
        return self(batch[0])


@pytest.mark.parametrize("precision, dtypes", [
    ("bf16-mixed", (torch.float32, torch.float32, torch.bfloat16)), ("bf16", (torch.float32, torch.float32, torch.bfloat16)),
    ("64-true", (torch.float64, torch.float64, torch.float64)), (64, (torch.float64, torch.float64, torch.float64)),
    ("32-true", (torch.float32, torch.float32, torch.float32)), ("bf16-true", (torch.bfloat16,) * 3)])
def test_precision_on_cpu(precision, dtypes):
    module = DtypeProbe()
    trainer = st.Trainer(max_epochs=1, precision=precision, **QUIET)
    trainer.fit(module, loader(2, 2))
    assert module.dtypes == dtypes
    prediction = trainer.predict(module, loader(2, 2))[0]
    assert prediction.dtype == dtypes[2]


def test_fast_dev_run_skips_the_tuner():
    class WithLr(Tiny):
        def __init__(self):
            super().__init__(lr=0.1)
    module = WithLr()
    trainer = st.Trainer(fast_dev_run=True, auto_lr_find=True, enable_progress_bar=False)
    with pytest.warns(UserWarning, match="Skipping the learning rate finder since `fast_dev_run` is enabled"):
        assert trainer.tune(module, loader(32, 2)) == {"lr_find": None}
    assert module.lr == 0.1 and trainer.global_step == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_float16_mixed_on_cuda_scales_and_autocasts():
    module = DtypeProbe()
    trainer = st.Trainer(max_epochs=1, accelerator="cuda", devices=1, precision="16-mixed", **QUIET)
    trainer.fit(module, loader(4, 2))
    assert module.dtypes == (torch.float32, torch.float32, torch.float16)
    assert trainer.global_step == 2 and torch.isfinite(module.layer.weight).all()
