"""Scenarios about self.log: per-hook defaults, suffixes, reductions, batch sizes, dataloader suffixes.

All of them use a recording Logger (so ``logged_metrics`` is filled and every logger call is kept)
with log_every_n_steps=1 unless the scenario is about that flag.
"""
from __future__ import annotations

from . import behaviours as bh
from .scenarios import register


def _logger(ctx):
    return {"logger": ctx.recording_logger()}


def _value(module, batch_idx) -> float:
    return float(batch_idx + 1 + 10 * module.current_epoch)


def log_scenario(name, method, flags, behaviour, **kwargs):
    flags = {"log_every_n_steps": 1, "num_sanity_val_steps": 0, **flags}
    return register(name, method, flags, behaviour=behaviour, make_flags=_logger, records_logger=True, **kwargs)


class _TrainModes(bh.Behaviour):
    n_train = 6

    def training_step(self, module, default, batch, batch_idx):
        v = _value(module, batch_idx)
        module.log("step_only", v, on_step=True, on_epoch=False)
        module.log("epoch_only", v, on_step=False, on_epoch=True)
        module.log("both", v, on_step=True, on_epoch=True)
        module.log("prog", v, prog_bar=True)
        module.log("prog_both", v, prog_bar=True, on_step=True, on_epoch=True)
        module.log("hidden", v, logger=False, on_epoch=True)
        module.log("summed", v, on_step=False, on_epoch=True, reduce_fx="sum")
        module.log("maxed", v, on_step=False, on_epoch=True, reduce_fx="max")
        loss = self.loss(module, batch)
        module.log("train_loss", loss)
        return loss


log_scenario("log_train_modes", "fit", {"max_epochs": 2, "limit_val_batches": 0}, _TrainModes,
             doc="on_step/on_epoch/both (_step/_epoch), prog_bar, logger=False, reduce_fx sum/max in training_step")


class _BatchSizes(bh.Behaviour):
    n_train = 5
    n_val = 5

    def training_step(self, module, default, batch, batch_idx):
        v = float(batch_idx + 1)
        module.log("explicit", v, on_step=False, on_epoch=True, batch_size=len(batch[0]))
        module.log("inferred", v, on_step=False, on_epoch=True)
        module.log("explicit_one", v, on_step=False, on_epoch=True, batch_size=1)
        return self.loss(module, batch)

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        module.log("val_inferred", float(batch_idx + 1))
        module.log("val_summed", float(batch_idx + 1), reduce_fx="sum")
        return self.loss(module, batch)


log_scenario("log_batch_size_weighting", "fit", {"max_epochs": 1}, _BatchSizes,
             doc="batches of 2,2,1: epoch means are weighted by (explicit or inferred) batch size")


class _LogDict(bh.Behaviour):
    n_train = 4

    def training_step(self, module, default, batch, batch_idx):
        v = _value(module, batch_idx)
        module.log_dict({"a": v, "b": 2 * v}, prog_bar=True, on_step=True, on_epoch=True)
        return self.loss(module, batch)

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        module.log_dict({"va": float(batch_idx), "vb": 1.0})
        return self.loss(module, batch)


log_scenario("log_dict_train_and_val", "fit", {"max_epochs": 2}, _LogDict, doc="log_dict in training and validation")


class _TwoValLogging(bh.Behaviour):
    n_train = 4
    n_val_loaders = 2

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        loss = self.loss(module, batch)
        module.log("val_loss", loss, prog_bar=True)
        return loss

    def on_validation_epoch_end(self, module, default):
        module.log("val_epoch_end", 7.0)


log_scenario("log_fit_two_val_loaders", "fit", {"max_epochs": 1}, _TwoValLogging,
             doc="'/dataloader_idx_N' suffix on every validation_step key; logging in on_validation_epoch_end")


class _SameKeyTwoLoaders(bh.Behaviour):
    n_val_loaders = 2

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        module.log("val_plain", float(dataloader_idx), add_dataloader_idx=False)


log_scenario("log_same_key_two_loaders_error", "validate", {}, _SameKeyTwoLoaders, method_kwargs={"verbose": False},
             doc="the same key from 2 loaders with add_dataloader_idx=False is refused (even with equal values)")


class _CallbackLogging(bh.Behaviour):
    n_train = 4

    def cb_on_train_batch_end(self, callback, trainer, module, outputs, batch, batch_idx):
        module.log("cb_batch", float(batch_idx))

    def cb_on_train_epoch_end(self, callback, trainer, module):
        module.log("cb_epoch", float(trainer.current_epoch + 1))

    def cb_on_validation_batch_end(self, callback, trainer, module, outputs, batch, batch_idx, dataloader_idx):
        module.log("cb_val_batch", float(batch_idx + 1))

    def cb_on_validation_epoch_end(self, callback, trainer, module):
        module.log("cb_val_epoch", 3.0, prog_bar=True)


log_scenario("log_from_callbacks", "fit", {"max_epochs": 2}, _CallbackLogging,
             doc="pl_module.log from Callback hooks with each hook's defaults")

# hooks of the module where self.log is allowed, each logging with the hook's default options
_DEFAULT_HOOKS = (
    "on_train_start", "on_train_epoch_start", "on_train_batch_start", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad", "on_train_batch_end", "on_train_epoch_end",
    "on_validation_start", "on_validation_epoch_start", "on_validation_batch_start", "on_validation_batch_end",
    "on_validation_epoch_end",
)


def _defaults_behaviour():
    def make(hook, index):
        def method(self, module, default, *args):
            module.log(f"h_{hook}", float(100 * index + module.global_step))
            return default(*args)

        return method

    return type("DefaultsPerHook", (bh.Behaviour,), {h: make(h, i) for i, h in enumerate(_DEFAULT_HOOKS)})


log_scenario("log_defaults_per_hook", "fit", {"max_epochs": 2, "limit_train_batches": 2, "limit_val_batches": 1},
             _defaults_behaviour(), doc="self.log with default arguments from every loggable fit hook")


class _TestTwoLoaders(bh.Behaviour):
    n_test_loaders = 2

    def test_step(self, module, default, batch, batch_idx, dataloader_idx):
        loss = self.loss(module, batch)
        module.log("test_loss", loss)
        module.log("test_step_metric", float(batch_idx), on_step=True, on_epoch=True)
        return loss

    def on_test_epoch_end(self, module, default):
        module.log("test_epoch_end", 5.0)


log_scenario("log_test_two_loaders", "test", {}, _TestTwoLoaders, method_kwargs={"verbose": False},
             doc="test() return value: one dict per loader; epoch-end metrics appear in every dict")


class _ValidateLogging(bh.Behaviour):
    n_val = 5

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        module.log("val_loss", self.loss(module, batch), prog_bar=True)
        module.log("val_step_and_epoch", float(batch_idx), on_step=True, on_epoch=True)


log_scenario("log_validate_results", "validate", {}, _ValidateLogging, method_kwargs={"verbose": False},
             doc="validate() return dict; on_step=True in validation gives '_step' keys; validation_step returns None")


class _EveryN(bh.Behaviour):
    n_train = 14

    def training_step(self, module, default, batch, batch_idx):
        module.log("every", float(batch_idx), on_step=True, on_epoch=True)
        return self.loss(module, batch)


log_scenario("log_every_n_steps_3", "fit", {"max_epochs": 1, "log_every_n_steps": 3, "limit_val_batches": 0},
             _EveryN, doc="7 steps with log_every_n_steps=3: which steps reach the logger")
