"""Every torch optimizer and LR scheduler state goes through a checkpoint, and a resumed fit ends bit for bit equal."""
from __future__ import annotations

import collections

import pytest
import torch
from torch.optim import lr_scheduler as sched
from torch.optim.swa_utils import SWALR

import statetrainer as st
from statetrainer.checkpoint import io
from statetrainer.checkpoint.plain import is_plain

from .helpers import Net, fit, same_weights


class Warmup:
    """A LambdaLR factor kept as an object: its __dict__ is what LambdaLR saves."""

    def __init__(self, steps: int):
        self.steps = steps

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.steps)


def _sgd(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)


# name -> (optimizer factory, scheduler factory or None, interval); each chosen so that a resume which lost the
# state (a fresh optimizer or scheduler from the checkpoint on) would end with different weights
OPTIMIZERS = {
    "sgd_momentum": (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), None, "epoch"),
    "adam_amsgrad": (lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True), None, "epoch"),
    "adamw": (lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), None, "epoch"),
    "rmsprop": (lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True), None, "epoch"),
    "lbfgs": (lambda p: torch.optim.LBFGS(p, lr=0.1, max_iter=3, history_size=4), None, "epoch"),
    "adagrad": (lambda p: torch.optim.Adagrad(p, lr=0.05), None, "epoch"),
    "adadelta": (lambda p: torch.optim.Adadelta(p), None, "epoch"),
    "adamax": (lambda p: torch.optim.Adamax(p, lr=0.01), None, "epoch"),
    "nadam": (lambda p: torch.optim.NAdam(p, lr=0.01), None, "epoch"),
    "radam": (lambda p: torch.optim.RAdam(p, lr=0.01), None, "epoch"),
    "asgd": (lambda p: torch.optim.ASGD(p, lr=0.01), None, "epoch"),
    "rprop": (lambda p: torch.optim.Rprop(p, lr=0.01), None, "epoch"),
}
SCHEDULERS = {
    "multistep": (_sgd, lambda o: sched.MultiStepLR(o, [2], gamma=0.5), "epoch"),
    "onecycle": (_sgd, lambda o: sched.OneCycleLR(o, max_lr=0.1, total_steps=30), "step"),
    "cyclic": (_sgd, lambda o: sched.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="exp_range"), "step"),
    "sequential": (_sgd, lambda o: sched.SequentialLR(
        o, [sched.LinearLR(o, 0.5, total_iters=5), sched.MultiStepLR(o, [12, 20])], milestones=[5]), "step"),
    "chained": (_sgd, lambda o: sched.ChainedScheduler([sched.ConstantLR(o, 0.5, 7), sched.MultiStepLR(o, [9])]),
                "step"),
    "lambda_object": (_sgd, lambda o: sched.LambdaLR(o, Warmup(6)), "step"),
    "lambda_function": (_sgd, lambda o: sched.LambdaLR(o, lambda epoch: 0.9 ** epoch), "step"),
    "multiplicative": (_sgd, lambda o: sched.MultiplicativeLR(o, lambda epoch: 0.9 if epoch < 18 else 1.0), "step"),
    "plateau": (_sgd, lambda o: sched.ReduceLROnPlateau(o, patience=0, factor=0.5, threshold=0.5), "epoch"),
    "warm_restarts": (_sgd, lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2), "step"),
    "polynomial": (_sgd, lambda o: sched.PolynomialLR(o, total_iters=20, power=2.0), "step"),
    "swalr": (_sgd, lambda o: SWALR(o, swa_lr=0.01, anneal_epochs=20), "step"),
    "step": (_sgd, lambda o: sched.StepLR(o, 4, gamma=0.7), "step"),
    "exponential": (_sgd, lambda o: sched.ExponentialLR(o, 0.95), "step"),
    "cosine": (_sgd, lambda o: sched.CosineAnnealingLR(o, 10), "step"),
}
SETUPS = {**OPTIMIZERS, **SCHEDULERS}


class Configured(Net):
    """Net with the optimizer and scheduler of one setup."""

    def __init__(self, setup: str = "multistep"):
        super().__init__()

    def configure_optimizers(self):
        make_optimizer, make_scheduler, interval = SETUPS[self.hparams.setup]
        optimizer = make_optimizer(self.parameters())
        if make_scheduler is None:
            return optimizer
        config = {"scheduler": make_scheduler(optimizer), "interval": interval, "monitor": "val_loss"}
        return {"optimizer": optimizer, "lr_scheduler": config}


def _run(root, setup: str, ckpt_path=None):
    every = st.callbacks.ModelCheckpoint(dirpath=root / "ck", every_n_train_steps=13, save_top_k=-1,
                                         filename="{step}")
    return fit(root, model=Configured(setup), ckpt_path=ckpt_path, callbacks=[every], max_epochs=3)


# the optimizers and schedulers issue 9 names run always; the rest of torch.optim only in the slow suite
EXTRA = {"adagrad", "adadelta", "adamax", "nadam", "radam", "asgd", "rprop", "step", "exponential", "cosine",
         "lambda_function"}


@pytest.mark.filterwarnings("ignore:The dirpath has changed")
@pytest.mark.parametrize("setup", [pytest.param(name, marks=pytest.mark.slow) if name in EXTRA else name
                                   for name in SETUPS])
def test_resume_mid_epoch_ends_with_the_uninterrupted_weights(tmp_path, setup):
    reference, trainer = _run(tmp_path / "full", setup)
    path = tmp_path / "full" / "ck" / "step=13.ckpt"
    checkpoint = io.load(path)
    scheduler_states = checkpoint["lr_schedulers"]
    assert len(checkpoint["optimizer_states"]) == 1 and len(scheduler_states) == (setup in SCHEDULERS)
    resumed, again = _run(tmp_path / "resumed", setup, ckpt_path=str(path))
    assert again.global_step == trainer.global_step == 30
    assert same_weights(resumed, reference)
    assert again.optimizers[0].state_dict()["param_groups"][0]["lr"] == \
        trainer.optimizers[0].state_dict()["param_groups"][0]["lr"]


def test_multistep_milestones_keep_their_counter_type(tmp_path):
    _run(tmp_path, "multistep")
    raw = torch.load(tmp_path / "ck" / "step=13.ckpt", weights_only=True)  # torch reads a Counter back by itself
    assert type(raw["lr_schedulers"][0]["milestones"]) is collections.Counter and is_plain(raw)
