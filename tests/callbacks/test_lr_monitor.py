"""LearningRateMonitor with a stand-in trainer: names, intervals, steps, momentum and errors."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from statetrainer.callbacks.lr_monitor import LearningRateMonitor
from statetrainer.errors import MisconfigurationError


class Recorder:
    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step=None):
        self.calls.append((step, dict(metrics)))


def _params(n=1):
    return [torch.nn.Parameter(torch.zeros(1)) for _ in range(n)]


def _config(scheduler, name=None, interval="epoch"):
    return SimpleNamespace(scheduler=scheduler, name=name, interval=interval)


def _trainer(optimizers, configs=(), log_every_n_steps=2):
    return SimpleNamespace(optimizers=list(optimizers), lr_scheduler_configs=list(configs), loggers=[Recorder()],
                           callback_metrics={}, log_every_n_steps=log_every_n_steps, should_stop=False,
                           global_step=0, _metrics=SimpleNamespace(batches_that_stepped=0))


def test_names_follow_lightning():
    adam1 = torch.optim.Adam(_params(), lr=0.1)
    adam2 = torch.optim.Adam(_params(), lr=0.2)
    sgd = torch.optim.SGD([{"params": _params()}, {"params": _params(), "name": "head", "lr": 0.5}], lr=0.3)
    named_group = torch.optim.SGD([{"params": _params(), "name": "body"}], lr=0.4)
    scheduled = torch.optim.AdamW(_params(), lr=0.6)
    config = _config(torch.optim.lr_scheduler.StepLR(scheduled, 1), name="my_lr")
    trainer = _trainer([adam1, adam2, sgd, named_group, scheduled], [config])
    monitor = LearningRateMonitor()
    monitor.on_train_start(trainer, None)
    assert list(monitor.lrs) == ["my_lr", "lr-Adam", "lr-Adam-1", "lr-SGD/pg1", "lr-SGD/head", "lr-SGD-1/body"]
    monitor.on_train_epoch_start(trainer, None)
    assert trainer.loggers[0].calls == [(0, {"my_lr": 0.6, "lr-Adam": 0.1, "lr-Adam-1": 0.2, "lr-SGD/pg1": 0.3,
                                             "lr-SGD/head": 0.5, "lr-SGD-1/body": 0.4})]
    assert trainer.callback_metrics["lr-SGD/head"] == torch.tensor(0.5)


def test_step_interval_follows_log_every_n_steps_and_the_schedulers_interval():
    stepped = torch.optim.SGD(_params(), lr=1.0)
    per_epoch = torch.optim.Adam(_params(), lr=0.5)
    configs = [_config(torch.optim.lr_scheduler.StepLR(stepped, 1, gamma=0.5), interval="step"),
               _config(torch.optim.lr_scheduler.StepLR(per_epoch, 1, gamma=0.5), interval="epoch")]
    trainer = _trainer([stepped, per_epoch], configs, log_every_n_steps=2)
    monitor = LearningRateMonitor()
    monitor.on_train_start(trainer, None)
    monitor.on_train_epoch_start(trainer, None)
    for batch_idx in range(4):
        trainer._metrics.batches_that_stepped = batch_idx
        monitor.on_train_batch_start(trainer, None, None, batch_idx)
        stepped.step()
        configs[0].scheduler.step()
    # epoch start logs the epoch-interval scheduler; steps 1 and 3 ((n + 1) % 2 == 0) the step one
    assert trainer.loggers[0].calls == [(0, {"lr-Adam": 0.5}), (1, {"lr-SGD": 0.5}), (3, {"lr-SGD": 0.125})]
    assert monitor.lrs == {"lr-SGD": [0.5, 0.125], "lr-Adam": [0.5]}


def test_fixed_intervals_log_every_optimizer_and_should_stop_forces_a_step_log():
    optimizer = torch.optim.SGD(_params(), lr=0.25, momentum=0.9, weight_decay=0.01)
    trainer = _trainer([optimizer], log_every_n_steps=50)
    step_monitor = LearningRateMonitor(logging_interval="step", log_momentum=True, log_weight_decay=True)
    step_monitor.on_train_start(trainer, None)
    step_monitor.on_train_epoch_start(trainer, None)
    step_monitor.on_train_batch_start(trainer, None, None, 0)
    trainer.should_stop = True
    trainer._metrics.batches_that_stepped = 5
    step_monitor.on_train_batch_start(trainer, None, None, 5)
    assert trainer.loggers[0].calls == [
        (5, {"lr-SGD": 0.25, "lr-SGD-momentum": 0.9, "lr-SGD-weight_decay": 0.01})]
    assert step_monitor.last_momentum_values == {"lr-SGD-momentum": 0.9}
    trainer.loggers[0].calls.clear()
    epoch_monitor = LearningRateMonitor(logging_interval="epoch")
    epoch_monitor.on_train_start(trainer, None)
    epoch_monitor.on_train_batch_start(trainer, None, None, 5)
    epoch_monitor.on_train_epoch_start(trainer, None)
    assert trainer.loggers[0].calls == [(5, {"lr-SGD": 0.25})]
    trainer.log_every_n_steps = 0
    step_monitor.on_train_batch_start(trainer, None, None, 6)
    assert len(trainer.loggers[0].calls) == 1


def test_momentum_of_adam_is_beta1_and_missing_momentum_warns():
    adam = torch.optim.Adam(_params(), lr=0.1, betas=(0.8, 0.99))
    rprop = torch.optim.Rprop(_params(), lr=0.2)
    trainer = _trainer([adam, rprop])
    monitor = LearningRateMonitor(log_momentum=True)
    with pytest.warns(RuntimeWarning, match="some optimizers have no momentum; 0 is logged for them"):
        monitor.on_train_start(trainer, None)
    monitor.on_train_epoch_start(trainer, None)
    assert trainer.loggers[0].calls == [(0, {"lr-Adam": 0.1, "lr-Adam-momentum": 0.8, "lr-Rprop": 0.2,
                                             "lr-Rprop-momentum": 0})]


def test_errors():
    with pytest.raises(MisconfigurationError, match=r"`logging_interval` got 'batch'; accepted: \"step\", \"epoch\" "
                                                    r"or None\."):
        LearningRateMonitor(logging_interval="batch")
    trainer = _trainer([torch.optim.SGD(_params(), lr=1.0)])
    trainer.loggers = []
    with pytest.raises(MisconfigurationError, match="LearningRateMonitor got a Trainer without loggers"):
        LearningRateMonitor().on_train_start(trainer, None)
    twice = torch.optim.SGD([{"params": _params(), "name": "a"}, {"params": _params(), "name": "a"}], lr=1.0)
    with pytest.raises(MisconfigurationError, match=r"optimizer 'lr-SGD' has parameter groups named \['a'\] more "
                                                    r"than once"):
        LearningRateMonitor().on_train_start(_trainer([twice]), None)
