"""Optimization: configure_optimizers return forms, schedulers, manual optimization, clipping,
accumulation schedules, and the errors for models that cannot train."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from tests.core.helpers import QUIET, Tiny, lightning, loader, tiny_class


def _sgd(module, lr=0.1):
    return torch.optim.SGD(module.parameters(), lr=lr)


def _step_lr(opt):
    return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)


class Configured(Tiny):
    def __init__(self, make):
        super().__init__()
        self.make = make

    def configure_optimizers(self):
        return self.make(self)


def _form_single(m):
    opt = _sgd(m)
    return opt, opt, []


def _form_list(m):
    opt = _sgd(m)
    return [opt], opt, []


def _form_tuple(m):
    opt = _sgd(m)
    return (opt,), opt, []


def _form_lists_single_scheduler(m):
    opt = _sgd(m)
    sched = _step_lr(opt)
    return [[opt], sched], opt, [(sched, "epoch", 1, None)]


def _form_tuple_of_lists(m):
    opt = _sgd(m)
    sched = _step_lr(opt)
    return ([opt], [sched]), opt, [(sched, "epoch", 1, None)]


def _form_dict(m):
    opt = _sgd(m)
    return {"optimizer": opt}, opt, []


def _form_dict_scheduler(m):
    opt = _sgd(m)
    sched = _step_lr(opt)
    return {"optimizer": opt, "lr_scheduler": sched}, opt, [(sched, "epoch", 1, None)]


def _form_dict_scheduler_config(m):
    opt = _sgd(m)
    sched = _step_lr(opt)
    return ({"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 2}},
            opt, [(sched, "step", 2, None)])


def _form_dict_plateau(m):
    opt = _sgd(m)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    return {"optimizer": opt, "lr_scheduler": sched, "monitor": "val_loss"}, opt, [(sched, "epoch", 1, "val_loss")]


FORMS = [_form_single, _form_list, _form_tuple, _form_lists_single_scheduler, _form_tuple_of_lists, _form_dict, _form_dict_scheduler, _form_dict_scheduler_config,
         _form_dict_plateau]


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__[6:])
def test_configure_optimizers_return_forms(form):
    made = {}

    def make(module):
        value, opt, scheds = form(module)
        made.update(opt=opt, scheds=scheds)
        return value
    trainer = st.Trainer(max_epochs=2, **QUIET)
    trainer.fit(Configured(make), loader(), loader(2, 2))
    assert trainer.optimizers == [made["opt"]] and trainer.global_step == 8
    got = [(c.scheduler, c.interval, c.frequency, c.monitor) for c in trainer.lr_scheduler_configs]
    assert got == made["scheds"]


def test_list_of_dicts_in_manual_optimization():
    made = {}

    class Manual(Tiny):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            self.seen.append(batch_idx)

        def configure_optimizers(self):
            a, b = _sgd(self), torch.optim.Adam(self.parameters())
            sched = _step_lr(b)
            made.update(a=a, b=b, sched=sched)
            return [{"optimizer": a}, {"optimizer": b, "lr_scheduler": {"scheduler": sched, "interval": "step"}}]
    trainer = st.Trainer(max_epochs=1, **QUIET)
    module = Manual()
    trainer.fit(module, loader())
    assert trainer.optimizers == [made["a"], made["b"]]
    assert [(c.scheduler, c.interval, c.opt_idx) for c in trainer.lr_scheduler_configs] == [(made["sched"], "step", 1)]
    assert module.lr_schedulers() is made["sched"]


@pytest.mark.parametrize("value, text", [
    ("sgd", "configure_optimizers returned 'sgd'; accepted: an Optimizer; a list/tuple of Optimizers"),
    ({"optimizer": None}, "configure_optimizers returned None as an optimizer"),
    ({"optimizer": "x", "scheduler": 1}, "configure_optimizers returned a dict with keys ['optimizer', 'scheduler']; "
                                         "accepted: 'optimizer' and optional 'lr_scheduler', 'monitor'"),
])
def test_bad_configure_optimizers_values(value, text):
    with pytest.raises(MisconfigurationError) as info:
        st.Trainer(max_epochs=1, **QUIET).fit(Configured(lambda m: value), loader())
    assert str(info.value).startswith(text)


def test_bad_scheduler_settings():
    def interval(m):
        opt = _sgd(m)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": _step_lr(opt), "interval": "batch"}}

    def frequency(m):
        opt = _sgd(m)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": _step_lr(opt), "frequency": 0}}
    with pytest.raises(MisconfigurationError, match=r"^`lr_scheduler 'interval'` got 'batch'; accepted: 'epoch' or 'step'"):
        st.Trainer(max_epochs=1, **QUIET).fit(Configured(interval), loader())
    with pytest.raises(MisconfigurationError, match=r"^`lr_scheduler 'frequency'` got 0; accepted: a positive int"):
        st.Trainer(max_epochs=1, **QUIET).fit(Configured(frequency), loader())


def test_two_optimizers_need_manual_optimization():
    with pytest.raises(MisconfigurationError, match="configure_optimizers returned 2 optimizers with automatic "
                                                    "optimization; training with multiple optimizers is only "
                                                    "supported with manual optimization"):
        st.Trainer(max_epochs=1, **QUIET).fit(Configured(lambda m: [_sgd(m), _sgd(m)]), loader())


def test_model_without_training_step():
    class NoStep(st.StateModule):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 1)

        def forward(self, x):
            return self.layer(x)

        def configure_optimizers(self):
            return _sgd(self)
    with pytest.raises(MisconfigurationError, match=r"^`fit` needs `training_step` but NoStep does not define it; "
                                                    r"accepted: a StateModule that implements training_step"):
        st.Trainer(max_epochs=1, **QUIET).fit(NoStep(), loader())
    # validate/test/predict do not need it
    batches = torch.utils.data.DataLoader(torch.ones(2, 4), batch_size=2)
    assert st.Trainer(**QUIET).predict(NoStep(), batches)[0].shape == (2, 1)


def test_training_step_returning_bad_value():
    class Bad(Tiny):
        def training_step(self, batch, batch_idx):
            return {"los": torch.tensor(1.0)}
    with pytest.raises(MisconfigurationError, match=r"training_step returned a dict with keys \['los'\]; accepted in "
                                                    r"automatic optimization: a dict with a 'loss' key"):
        st.Trainer(max_epochs=1, **QUIET).fit(Bad(), loader())


# ------------------------------------------------------------------ schedulers
def scheduled_class(base, config):
    """Tiny with a StepLR configured by `config` (interval/frequency); records the lr of every training_step."""

    class Scheduled(tiny_class(base)):
        def __init__(self):
            super().__init__()
            self.lrs = []

        def training_step(self, batch, batch_idx):
            self.lrs.append(round(self.trainer.optimizers[0].param_groups[0]["lr"], 6))
            return super().training_step(batch, batch_idx)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=1.0)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": _step_lr(opt), **config}}
    return Scheduled


SCHEDULES = {
    "epoch": ({"interval": "epoch"}, [1.0] * 4 + [0.5] * 4 + [0.25] * 4),
    "epoch_every_2": ({"interval": "epoch", "frequency": 2}, [1.0] * 8 + [0.5] * 4),
    "step": ({"interval": "step"}, [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.007812, 0.003906, 0.001953,
                                    0.000977, 0.000488]),
    # the step frequency counts batches within the epoch, as Lightning (batch_idx + 1) % frequency
    "step_every_3": ({"interval": "step", "frequency": 3}, [1.0] * 3 + [0.5] * 4 + [0.25] * 4 + [0.125]),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_interval_and_frequency(name):
    config, lrs = SCHEDULES[name]
    module = scheduled_class(st.StateModule, config)()
    st.Trainer(max_epochs=3, **QUIET).fit(module, loader())
    assert module.lrs == lrs


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_matches_lightning(name):
    pl = lightning()
    config, _ = SCHEDULES[name]
    ours = scheduled_class(st.StateModule, config)()
    st.Trainer(max_epochs=3, **QUIET).fit(ours, loader())
    theirs = scheduled_class(pl.LightningModule, config)()
    pl.Trainer(max_epochs=3, accelerator="cpu", **QUIET).fit(theirs, loader())
    assert ours.lrs == theirs.lrs


def test_reduce_on_plateau_without_monitor_is_refused():
    def make(m):
        opt = _sgd(m)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt)}
    with pytest.raises(MisconfigurationError, match=r"^a ReduceLROnPlateau scheduler got no 'monitor'; accepted: return "
                                                    r"\{'optimizer': opt, 'lr_scheduler': \{'scheduler': sched, "
                                                    r"'monitor': 'metric_name'\}\}"):
        st.Trainer(max_epochs=1, **QUIET).fit(Configured(make), loader())


def test_reduce_on_plateau_monitoring_a_metric_never_logged():
    def make(m):
        opt = _sgd(m)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt),
                                                   "monitor": "nope"}}
    with pytest.raises(MisconfigurationError, match=r"^ReduceLROnPlateau monitors 'nope', which was never logged; "
                                                    r"accepted: one of the logged metrics \['val_loss'\]"):
        st.Trainer(max_epochs=1, **QUIET).fit(Configured(make), loader(), loader(2, 2))


def plateau_class(base):
    class Plateau(tiny_class(base)):
        def validation_step(self, batch, batch_idx):
            self.log("val_loss", torch.tensor(1.0))  # never improves

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=1.0)
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
            return {"optimizer": opt, "lr_scheduler": sched, "monitor": "val_loss"}

        def on_train_epoch_end(self):
            self.lrs = getattr(self, "lrs", []) + [self.trainer.optimizers[0].param_groups[0]["lr"]]
    return Plateau


def test_reduce_on_plateau_steps_on_the_monitored_metric():
    module = plateau_class(st.StateModule)()
    st.Trainer(max_epochs=4, **QUIET).fit(module, loader(), loader(2, 2))
    # read in on_train_epoch_end, before that epoch's plateau step; the first step only records the best
    assert module.lrs == [1.0, 1.0, 0.5, 0.25]
    pl = lightning()
    theirs = plateau_class(pl.LightningModule)()
    pl.Trainer(max_epochs=4, accelerator="cpu", **QUIET).fit(theirs, loader(), loader(2, 2))
    assert module.lrs == theirs.lrs


# ------------------------------------------------------------------ manual optimization
def manual_class(base):
    class TwoOptimizers(base):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.a, self.b = nn.Linear(4, 1), nn.Linear(4, 1)
            self.frozen, self.lrs = [], []

        def training_step(self, batch, batch_idx):
            x, y = batch
            opt_a, opt_b = self.optimizers()
            sched_a, sched_b = self.lr_schedulers()
            for opt, layer, other in ((opt_a, self.a, self.b), (opt_b, self.b, self.a)):
                self.toggle_optimizer(opt)
                self.frozen.append((other.weight.requires_grad, layer.weight.requires_grad))
                loss = nn.functional.mse_loss(layer(x), y)
                self.manual_backward(loss)
                opt.step()
                opt.zero_grad()
                self.untoggle_optimizer(opt)
            self.frozen.append((self.a.weight.requires_grad, self.b.weight.requires_grad))
            if self.trainer.is_last_batch:
                sched_a.step()
                sched_b.step()
            self.lrs.append((opt_a.param_groups[0]["lr"], opt_b.param_groups[0]["lr"]))

        def configure_optimizers(self):
            opt_a = torch.optim.SGD(self.a.parameters(), lr=0.1)
            opt_b = torch.optim.Adam(self.b.parameters(), lr=0.01)
            return [opt_a, opt_b], [torch.optim.lr_scheduler.StepLR(opt_a, 1, 0.5),
                                    torch.optim.lr_scheduler.StepLR(opt_b, 1, 0.1)]
    return TwoOptimizers


def test_manual_optimization_two_optimizers():
    torch.manual_seed(0)
    module = manual_class(st.StateModule)()
    trainer = st.Trainer(max_epochs=2, **QUIET)
    trainer.fit(module, loader())
    assert trainer.global_step == 16  # each optimizer.step() counts, as Lightning
    assert module.frozen == [(False, True), (False, True), (True, True)] * 8
    assert module.lrs[3] == (0.05, 0.001) and module.lrs[-1] == pytest.approx((0.025, 0.0001))
    opt_a, opt_b = module.optimizers()
    assert isinstance(opt_a, torch.optim.SGD) and isinstance(opt_b, torch.optim.Adam)  # as LightningOptimizer
    assert opt_a.optimizer is trainer.optimizers[0] and opt_a.param_groups is trainer.optimizers[0].param_groups


def test_manual_optimization_matches_lightning():
    pl = lightning()
    torch.manual_seed(0)
    ours = manual_class(st.StateModule)()
    trainer = st.Trainer(max_epochs=2, **QUIET)
    trainer.fit(ours, loader())
    torch.manual_seed(0)
    theirs = manual_class(pl.LightningModule)()
    their_trainer = pl.Trainer(max_epochs=2, accelerator="cpu", **QUIET)
    their_trainer.fit(theirs, loader())
    assert trainer.global_step == their_trainer.global_step
    assert ours.frozen == theirs.frozen and ours.lrs == theirs.lrs
    for mine, their in zip(ours.parameters(), theirs.parameters()):
        assert torch.allclose(mine, their)


def test_manual_backward_in_automatic_mode_is_refused():
    class Wrong(Tiny):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.manual_backward(loss)
            return loss
    with pytest.raises(MisconfigurationError, match="manual_backward was called with automatic_optimization=True"):
        st.Trainer(max_epochs=1, **QUIET).fit(Wrong(), loader())


def test_gradient_clip_val_with_manual_optimization_is_refused():
    with pytest.raises(MisconfigurationError, match=r"`gradient_clip_val` got 0.5 with manual optimization"):
        st.Trainer(max_epochs=1, gradient_clip_val=0.5, **QUIET).fit(manual_class(st.StateModule)(), loader())


# ------------------------------------------------------------------ clipping
class RecordingSGD(torch.optim.SGD):
    """Runs the closure (where clipping happens), records the gradients, then steps."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.grads = []

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        grads = [p.grad.detach().clone() for g in self.param_groups for p in g["params"] if p.grad is not None]
        self.grads.append(grads)
        super().step()
        return loss


def clipped_class(base):
    class Clipped(tiny_class(base)):
        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.mse_loss(self(x) * 100, y)  # large gradients

        def configure_optimizers(self):
            self.opt = RecordingSGD(self.parameters(), lr=1e-4)
            return self.opt
    return Clipped


def _total_norm(grads):
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()


@pytest.mark.parametrize("algorithm", ["norm", "value", None])
def test_gradient_clipping(algorithm):
    module = clipped_class(st.StateModule)()
    flags = {"gradient_clip_val": 0.5} | ({"gradient_clip_algorithm": algorithm} if algorithm else {})
    st.Trainer(max_epochs=1, **flags, **QUIET).fit(module, loader())
    assert len(module.opt.grads) == 4
    for grads in module.opt.grads:
        if algorithm == "value":
            assert max(g.abs().max().item() for g in grads) == pytest.approx(0.5)
        else:
            assert _total_norm(grads) == pytest.approx(0.5, rel=1e-4)


def test_no_clipping_leaves_large_gradients():
    module = clipped_class(st.StateModule)()
    st.Trainer(max_epochs=1, **QUIET).fit(module, loader())
    assert min(_total_norm(g) for g in module.opt.grads) > 5


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_matches_lightning(algorithm):
    pl = lightning()
    torch.manual_seed(0)
    ours = clipped_class(st.StateModule)()
    st.Trainer(max_epochs=1, gradient_clip_val=0.5, gradient_clip_algorithm=algorithm, **QUIET).fit(ours, loader())
    torch.manual_seed(0)
    theirs = clipped_class(pl.LightningModule)()
    pl.Trainer(max_epochs=1, gradient_clip_val=0.5, gradient_clip_algorithm=algorithm, accelerator="cpu",
               **QUIET).fit(theirs, loader())
    for mine, their in zip(ours.opt.grads, theirs.opt.grads):
        assert all(torch.allclose(a, b) for a, b in zip(mine, their))


# ------------------------------------------------------------------ accumulation schedule
def test_accumulate_grad_batches_dict():
    module = Tiny()
    steps = []

    class Steps(st.Callback):
        def on_train_epoch_end(self, trainer, module):
            steps.append(trainer.global_step)
    st.Trainer(max_epochs=4, accumulate_grad_batches={1: 2, 3: 4}, callbacks=[Steps()], **QUIET).fit(
        module, loader(10, 2))  # 5 batches per epoch
    assert steps == [5, 8, 11, 13]  # k=1: 5 steps; k=2: 2+1 (the last, indivisible group steps); k=4: 1+1


def test_accumulate_grad_batches_dict_matches_lightning_scheduler():
    pl = lightning()
    ours = st.Trainer(max_epochs=4, accumulate_grad_batches={1: 2, 3: 4}, **QUIET)
    ours.fit(Tiny(), loader(10, 2))
    theirs = pl.Trainer(max_epochs=4, accelerator="cpu", **QUIET,
                        callbacks=[pl.callbacks.GradientAccumulationScheduler(scheduling={1: 2, 3: 4})])
    module = tiny_class(pl.LightningModule)()
    theirs.fit(module, loader(10, 2))
    assert ours.global_step == theirs.global_step


def test_configure_optimizers_set_to_none_is_refused_before_training():
    class Disabled(Configured):
        pass
    model = Disabled(_sgd)
    model.configure_optimizers = None
    with pytest.raises(MisconfigurationError, match=r"^`fit` needs `configure_optimizers` but Disabled sets it to "
                                                    r"None; accepted: a configure_optimizers method"):
        st.Trainer(max_epochs=1, **QUIET).fit(model, loader())
    # evaluation does not need it
    st.Trainer(**QUIET).validate(model, loader())
