"""The differential scenarios: Trainer flags + which method to call + the module's behaviour.

Each scenario is registered under its name; ``tests/golden/<name>.json`` is its golden outcome.
Hook-order scenarios live here; metric-logging scenarios in scenarios_logging.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from . import behaviours as bh

SCENARIOS: dict = {}


def _nothing(ctx):
    return []


def _no_kwargs(ctx):
    return {}


@dataclass(frozen=True)
class Scenario:
    """``flags`` are plain Trainer kwargs; the ``make_*`` factories get the RunContext."""

    name: str
    method: str
    flags: dict
    behaviour: type = bh.Behaviour
    method_kwargs: dict = field(default_factory=dict)
    extra_callbacks: Callable = _nothing  # ctx -> list of extra callbacks (after the recorder)
    make_flags: Callable = _no_kwargs  # ctx -> flags that need library objects (loggers, ...)
    make_call_kwargs: Callable = _no_kwargs  # ctx -> extra fit/validate/... kwargs (datamodule, ckpt_path)
    records_logger: bool = False  # the outcome then includes the recording logger's calls
    report: Callable | None = None  # (ctx, trainer) -> extra JSON data compared like metrics
    doc: str = ""

    def trainer_kwargs(self, ctx) -> dict:
        return {**self.flags, **self.make_flags(ctx)}

    def call_kwargs(self, ctx) -> dict:
        return {**self.method_kwargs, **self.make_call_kwargs(ctx)}


def register(name, method, flags, **kwargs) -> Scenario:
    scenario = Scenario(name=name, method=method, flags=flags, **kwargs)
    SCENARIOS[name] = scenario
    return scenario


EVAL_KW = {"verbose": False}

# ---------------------------------------------------------------- core loops
register(
    "fit_sanity_inepoch_val", "fit",
    {"num_sanity_val_steps": 2, "max_epochs": 2, "limit_train_batches": 4, "val_check_interval": 0.5},
    doc="sanity check, 2 epochs of 4 batches, validation after batch 1 and 3 of each epoch",
)
register("validate_two_loaders", "validate", {}, behaviour=type("B", (bh.LogValLoss,), {"n_val_loaders": 2}),
         method_kwargs=EVAL_KW, doc="validate() with 2 dataloaders logging val_loss")
register("test_one_loader", "test", {}, behaviour=bh.LogValLoss, method_kwargs=EVAL_KW,
         doc="test() with one dataloader; test_step returns a dict")
register("predict_two_loaders", "predict", {},
         behaviour=type("B", (bh.Behaviour,), {"n_predict_loaders": 2, "n_predict": 3}),
         method_kwargs={"return_predictions": True}, doc="predict() with 2 dataloaders (3 rows: 2+1)")


class _Accumulate(bh.Behaviour):
    n_train = 10


register("fit_accumulate_3_of_5", "fit",
         {"max_epochs": 1, "accumulate_grad_batches": 3, "num_sanity_val_steps": 0, "limit_val_batches": 0},
         behaviour=_Accumulate, doc="5 batches, accumulate 3: steps after batch 2 and after the last batch 4")


class _TwoVal(bh.Behaviour):
    n_train = 4
    n_val_loaders = 2


register("fit_two_val_loaders", "fit", {"max_epochs": 1, "num_sanity_val_steps": 1},
         behaviour=_TwoVal, doc="sanity check of 1 batch per loader, then end-of-epoch validation on 2 loaders")


class _Manual(bh.Behaviour):
    n_train = 4

    def init(self, module):
        module.automatic_optimization = False

    def make_optimizers(self, module):
        return [torch.optim.SGD([module.layer.weight], lr=0.1), torch.optim.SGD([module.layer.bias], lr=0.1)]

    def make_schedulers(self, module, optimizers):
        return [], optimizers

    def training_step(self, module, default, batch, batch_idx):
        for opt in module.optimizers():
            module.toggle_optimizer(opt)
            loss = self.loss(module, batch)
            module.manual_backward(loss)
            opt.step()
            opt.zero_grad()
            module.untoggle_optimizer(opt)
        return loss


register("fit_manual_two_optimizers", "fit", {"max_epochs": 1, "num_sanity_val_steps": 0, "limit_val_batches": 0},
         behaviour=_Manual, doc="automatic_optimization=False, 2 optimizers, toggle + manual_backward + step + zero_grad")


class _LBFGS(bh.Behaviour):
    n_train = 4

    def make_optimizers(self, module):
        return [torch.optim.LBFGS(module.parameters(), lr=0.5, max_iter=2)]


register("fit_lbfgs", "fit", {"max_epochs": 1, "num_sanity_val_steps": 0, "limit_val_batches": 0},
         behaviour=_LBFGS, doc="LBFGS(max_iter=2) calls the closure (training_step, zero_grad, backward) several times")


class _EpochScheduler(bh.Behaviour):
    def make_schedulers(self, module, optimizers):
        sched = torch.optim.lr_scheduler.StepLR(optimizers[0], step_size=1, gamma=0.5)
        return [sched], ([optimizers[0]], [sched])


register("fit_max_steps_epoch_scheduler", "fit",
         {"max_steps": 3, "limit_train_batches": 2, "limit_val_batches": 1, "num_sanity_val_steps": 0},
         behaviour=_EpochScheduler, doc="max_steps=3 with 2 batches/epoch ends mid epoch 1; StepLR per epoch")


class _StepScheduler(bh.Behaviour):
    def make_schedulers(self, module, optimizers):
        sched = torch.optim.lr_scheduler.StepLR(optimizers[0], step_size=1, gamma=0.5)
        config = {"scheduler": sched, "interval": "step", "frequency": 2}
        return [sched], {"optimizer": optimizers[0], "lr_scheduler": config}


register("fit_step_scheduler_freq2", "fit",
         {"max_epochs": 2, "limit_train_batches": 3, "limit_val_batches": 0, "num_sanity_val_steps": 0},
         behaviour=_StepScheduler, doc="interval=step, frequency=2: lr_scheduler_step after every 2nd optimizer step")


class _Plateau(bh.LogValLoss):
    n_train = 4

    def make_schedulers(self, module, optimizers):
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizers[0], factor=0.5, patience=0)
        config = {"scheduler": sched, "monitor": "val_loss"}
        return [sched], {"optimizer": optimizers[0], "lr_scheduler": config}


register("fit_plateau_scheduler", "fit", {"max_epochs": 3, "num_sanity_val_steps": 0},
         behaviour=_Plateau, doc="ReduceLROnPlateau monitoring val_loss gets the metric at epoch end")


class _StopAtBatch2(bh.Behaviour):
    def on_train_batch_start(self, module, default, batch, batch_idx):
        return -1 if batch_idx == 2 else None


register("fit_batch_start_returns_minus_one", "fit",
         {"max_epochs": 2, "num_sanity_val_steps": 0, "limit_val_batches": 1},
         behaviour=_StopAtBatch2, doc="on_train_batch_start returns -1 at batch 2 of every epoch")


register("fit_gradient_clip_norm", "fit",
         {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 0, "num_sanity_val_steps": 0,
          "gradient_clip_val": 0.05},
         doc="gradient_clip_val=0.05 (norm): configure_gradient_clipping -> clip_gradients each step")
register("fit_gradient_clip_value", "fit",
         {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 0, "num_sanity_val_steps": 0,
          "gradient_clip_val": 0.01, "gradient_clip_algorithm": "value"},
         doc="gradient_clip_algorithm='value'")


class _NoneAtBatch1(bh.Behaviour):
    def training_step(self, module, default, batch, batch_idx):
        return None if batch_idx == 1 else self.loss(module, batch)


register("fit_training_step_returns_none", "fit",
         {"max_epochs": 1, "limit_train_batches": 3, "limit_val_batches": 0, "num_sanity_val_steps": 0},
         behaviour=_NoneAtBatch1, doc="training_step returns None at batch 1: no backward/step for it")
