"""What configure_optimizers' output is checked for before a fit starts (schedulers on foreign optimizers,
unknown scheduler keys, schedulers outside torch's API, several optimizers in automatic optimization), the
manual-optimization rules for schedulers and training_step's return value, and a patched optimizer step
receiving the closure. Each behaviour is run under Lightning too where it is installed."""
from __future__ import annotations

import dataclasses
from unittest import mock

import pytest
import torch

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from tests.core.helpers import QUIET, lightning, loader, tiny_class


def configured(base, make, automatic=True, **methods):
    """Tiny on `base` whose configure_optimizers returns make(self); `methods` override hooks."""

    class Configured(tiny_class(base)):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = automatic

        def configure_optimizers(self):
            return make(self)
    for name, fn in methods.items():
        setattr(Configured, name, fn)
    return Configured()


def _fit(base, module, **flags):
    if base is st.StateModule:
        trainer = st.Trainer(max_epochs=1, **QUIET, **flags)
    else:
        trainer = lightning().Trainer(max_epochs=1, accelerator="cpu", **QUIET, **flags)
    trainer.fit(module, loader())
    return trainer


def _bases():
    return [st.StateModule, lightning().LightningModule]


def _manual_step(self, batch, batch_idx):
    opt = self.optimizers()
    loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
    self.manual_backward(loss)
    opt.step()
    opt.zero_grad()


# ------------------------------------------------------------------ schedulers, automatic optimization
def _foreign_scheduler(m):
    returned, other = torch.optim.SGD(m.parameters(), lr=0.1), torch.optim.SGD(m.parameters(), lr=0.1)
    return [returned], [torch.optim.lr_scheduler.StepLR(other, step_size=1)]


def test_scheduler_on_an_optimizer_not_returned_is_refused():
    with pytest.raises(MisconfigurationError, match=r"^lr scheduler StepLR is attached with an optimizer that "
                                                    r"wasn't returned by configure_optimizers"):
        _fit(st.StateModule, configured(st.StateModule, _foreign_scheduler))
    with pytest.raises(Exception, match="wasn't returned"):
        _fit(lightning().LightningModule, configured(lightning().LightningModule, _foreign_scheduler))


def _extra_keys(m):
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "foo": 1, "bar": 2}}


def test_unknown_scheduler_keys_warn_and_are_dropped():
    lrs = []
    for base in _bases():
        module = configured(base, _extra_keys)
        with pytest.warns(RuntimeWarning, match=r"unsupported keys in the lr scheduler dict: \{.*'foo'.*\}") as seen:
            trainer = _fit(base, module)
        assert any("'bar'" in str(w.message) for w in seen)
        lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
        assert trainer.lr_scheduler_configs[0].interval == "step"  # the known keys still apply
    assert lrs[0] == lrs[1] == 0.5 ** 4


def _plateau(m):
    opt = torch.optim.Adam(m.parameters())
    return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt), "monitor": "seen"}


def _logging_step(self, batch, batch_idx):
    self.log("seen", float(batch_idx))
    return torch.nn.functional.mse_loss(self(batch[0]), batch[1])


def _lightning_fields(config) -> dict:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def test_scheduler_config_fields_and_equality_match_lightning():
    pl = lightning()
    ours = _fit(st.StateModule, configured(st.StateModule, _plateau, training_step=_logging_step))
    ours = ours.lr_scheduler_configs[0]
    theirs = _fit(pl.LightningModule, configured(pl.LightningModule, _plateau, training_step=_logging_step))
    theirs = theirs.lr_scheduler_configs[0]
    mine = {name: getattr(ours, name) for name in _lightning_fields(theirs) if name != "scheduler"}
    assert mine == {k: v for k, v in _lightning_fields(theirs).items() if k != "scheduler"}
    assert mine["reduce_on_plateau"] is True and mine["monitor"] == "seen"
    # statetrainer's extra opt_idx is set but does not take part in equality
    assert ours.opt_idx == 0
    assert ours == type(ours)(scheduler=ours.scheduler, monitor="seen", reduce_on_plateau=True)


class _NotTorchScheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def _custom_scheduler(m):
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    return [opt], [_NotTorchScheduler(opt)]


def test_scheduler_outside_torch_api():
    for base in _bases():
        # automatic optimization steps it: refused unless lr_scheduler_step is overridden
        with pytest.raises(Exception, match="doesn't follow PyTorch's LRScheduler API"):
            _fit(base, configured(base, _custom_scheduler))
        stepped = []
        _fit(base, configured(base, _custom_scheduler, lr_scheduler_step=lambda self, s, metric: stepped.append(s)))
        assert len(stepped) == 1
        _fit(base, configured(base, _custom_scheduler, automatic=False, training_step=_manual_step))


def test_scheduler_without_state_dict_is_a_type_error():
    class NoState:
        def __init__(self, optimizer):
            self.optimizer = optimizer

    def make(m):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        return [opt], [NoState(opt)]
    with pytest.raises(TypeError, match=r"^lr scheduler NoState has no state_dict/load_state_dict methods"):
        _fit(st.StateModule, configured(st.StateModule, make, automatic=False, training_step=_manual_step))


# ------------------------------------------------------------------ several optimizers
def test_several_optimizers_in_automatic_optimization_are_a_runtime_error():
    def two(m):
        return torch.optim.SGD(m.parameters(), lr=0.1), torch.optim.Adam(m.parameters())

    def with_idx(self, batch, batch_idx, optimizer_idx):
        return torch.nn.functional.mse_loss(self(batch[0]), batch[1])
    for base in _bases():
        with pytest.raises(RuntimeError, match="multiple optimizers is only supported with manual optimization"):
            _fit(base, configured(base, two))
        with pytest.raises(RuntimeError, match="Remove the `optimizer_idx` argument from `training_step`"):
            _fit(base, configured(base, lambda m: torch.optim.SGD(m.parameters(), lr=0.1), training_step=with_idx))
    with pytest.raises(MisconfigurationError):   # still one of ours
        _fit(st.StateModule, configured(st.StateModule, two))


# ------------------------------------------------------------------ manual optimization
def _manual_plateau(as_dict):
    def make(m):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
        return [opt], [{"scheduler": sched, "monitor": "train_loss", "interval": "step"} if as_dict else sched]
    return make


def test_manual_optimization_plateau_scheduler_needs_no_monitor():
    for base in _bases():
        trainer = _fit(base, configured(base, _manual_plateau(False), automatic=False, training_step=_manual_step))
        config = trainer.lr_scheduler_configs[0]
        assert (config.reduce_on_plateau, config.monitor) == (False, None)   # the user steps it


def test_manual_optimization_warns_about_loop_only_scheduler_keys():
    found = []
    for base in _bases():
        module = configured(base, _manual_plateau(True), automatic=False, training_step=_manual_step)
        with pytest.warns(RuntimeWarning, match=r"\['monitor'\], but the keys will be ignored"):
            config = _fit(base, module).lr_scheduler_configs[0]
        found.append((config.interval, config.monitor, config.reduce_on_plateau, config.strict))
    assert found[0] == found[1] == ("step", None, False, True)


def test_manual_training_step_return_values():
    def returns(value):
        def step(self, batch, batch_idx):
            _manual_step(self, batch, batch_idx)
            return value
        return step
    sgd = lambda m: torch.optim.SGD(m.parameters(), lr=0.1)   # noqa: E731
    for value in (None, torch.tensor(1.0), {"anything": 1}):
        _fit(st.StateModule, configured(st.StateModule, sgd, automatic=False, training_step=returns(value)))
    for base in _bases():
        with pytest.raises(Exception, match="return a Tensor or have no return"):
            _fit(base, configured(base, sgd, automatic=False, training_step=returns(5)))
    with pytest.raises(MisconfigurationError, match=r"^training_step returned int; in manual optimization"):
        _fit(st.StateModule, configured(st.StateModule, sgd, automatic=False, training_step=returns(5)))


# ------------------------------------------------------------------ a patched optimizer step
def _step_with_kwarg(self, batch, batch_idx):
    opt = self.optimizers()

    def closure():
        loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
        self.manual_backward(loss)
    opt.step(closure=closure, tag="x")


def test_patched_optimizer_step_receives_the_closure():
    """Manual optimization: a replaced torch step (a mock here) is called with the closure and the extra
    arguments given to `opt.step`, as Lightning calls it; each call still counts as a step."""
    sgd = lambda m: torch.optim.SGD(m.parameters(), lr=0.1)   # noqa: E731
    for base in _bases():
        with mock.patch("torch.optim.SGD.step") as step:
            trainer = _fit(base, configured(base, sgd, automatic=False, training_step=_step_with_kwarg))
        assert step.call_args_list == [mock.call(closure=mock.ANY, tag="x")] * 4
        assert trainer.global_step == 4
