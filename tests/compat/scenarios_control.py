"""Scenarios about control flow: stopping, exceptions, checkpoints, resume, datamodules, val cadence."""
from __future__ import annotations

import os

from . import behaviours as bh
from .harness import Recorder, build_callback_class, build_module_class
from .scenarios import register
from .tracing import traced_subclass


def _ckpt_and_es(ctx):
    lib, rec = ctx.lib, ctx.recorder
    ckpt = traced_subclass(lib.callbacks.ModelCheckpoint, "ModelCheckpoint", rec)(
        dirpath=os.path.join(ctx.root_dir, "ckpt"), monitor="val_loss", save_top_k=1, save_last=True,
        filename="{epoch}-{step}")
    stop = traced_subclass(lib.callbacks.EarlyStopping, "EarlyStopping", rec)(monitor="val_loss", patience=1)
    tail = traced_subclass(lib.Callback, "Tail", rec)()
    return [ckpt, stop, tail]


class _Rising(bh.Behaviour):
    """val_loss grows every epoch (1, 2, 3, ...) so EarlyStopping(patience=1) stops after epoch 1."""

    n_train = 4

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        module.log("val_loss", float(module.current_epoch + 1))
        return self.loss(module, batch)


def _checkpoint_report(ctx, trainer):
    ckpt = trainer.checkpoint_callback
    return {
        "files": sorted(os.listdir(os.path.join(ctx.root_dir, "ckpt"))),
        "best_model_path": os.path.basename(ckpt.best_model_path),
        "best_model_score": ckpt.best_model_score,
        "last_model_path": os.path.basename(ckpt.last_model_path),
        "early_stopping_wait_count": trainer.early_stopping_callback.wait_count,
        "early_stopping_stopped_epoch": trainer.early_stopping_callback.stopped_epoch,
    }


register("fit_checkpoint_earlystop_order", "fit",
         {"max_epochs": 5, "num_sanity_val_steps": 0, "limit_val_batches": 1, "enable_checkpointing": True},
         behaviour=_Rising, extra_callbacks=_ckpt_and_es, report=_checkpoint_report,
         doc="callbacks=[recorder, ModelCheckpoint, EarlyStopping, Tail]: checkpoint runs last; ES stops at epoch 2")


class _Raise(bh.Behaviour):
    def training_step(self, module, default, batch, batch_idx):
        if batch_idx == 1:
            raise RuntimeError("boom at batch 1")
        return self.loss(module, batch)


def _tail_only(ctx):
    return [traced_subclass(ctx.lib.Callback, "Tail", ctx.recorder)()]


register("fit_exception_in_training_step", "fit",
         {"max_epochs": 1, "num_sanity_val_steps": 0, "limit_val_batches": 0},
         behaviour=_Raise, extra_callbacks=_tail_only,
         doc="training_step raises at batch 1: on_exception on callbacks, teardown, re-raise, status interrupted")


class _StopAtBatch1(bh.Behaviour):
    n_train = 6

    def cb_on_train_batch_end(self, callback, trainer, module, outputs, batch, batch_idx):
        if trainer.current_epoch == 0 and batch_idx == 1:
            trainer.should_stop = True


register("fit_should_stop_mid_epoch", "fit",
         {"max_epochs": 4, "num_sanity_val_steps": 0, "limit_val_batches": 1},
         behaviour=_StopAtBatch1, doc="should_stop=True at epoch 0 batch 1 (of 3): the epoch ends early")
register("fit_should_stop_before_min_epochs", "fit",
         {"max_epochs": 4, "min_epochs": 2, "num_sanity_val_steps": 0, "limit_val_batches": 1},
         behaviour=_StopAtBatch1, doc="should_stop at epoch 0 batch 1 with min_epochs=2: granted when epoch 1 ends")
register("fit_should_stop_before_min_steps", "fit",
         {"max_epochs": 4, "min_steps": 5, "num_sanity_val_steps": 0, "limit_val_batches": 0},
         behaviour=_StopAtBatch1, doc="should_stop at step 2 with min_steps=5")


register("fit_check_val_every_2_epochs", "fit",
         {"max_epochs": 3, "check_val_every_n_epoch": 2, "limit_train_batches": 2, "limit_val_batches": 1,
          "num_sanity_val_steps": 0},
         doc="validation only after epoch index 1")
register("fit_val_check_interval_int_across_epochs", "fit",
         {"max_epochs": 3, "check_val_every_n_epoch": None, "val_check_interval": 3, "limit_train_batches": 2,
          "limit_val_batches": 1, "num_sanity_val_steps": 0},
         doc="val_check_interval=3 counted across epochs of 2 batches: validation at global batches 3 and 6")
register("fit_fast_dev_run_2", "fit", {"fast_dev_run": 2}, doc="fast_dev_run=2: 2 train and 2 val batches, no sanity")
register("fit_limit_val_zero", "fit", {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 0},
         doc="limit_val_batches=0 with sanity steps requested: no validation hooks at all")


def _datamodule(ctx):
    return {"datamodule": ctx.recording_datamodule()}


register("fit_datamodule", "fit", {"max_epochs": 1, "num_sanity_val_steps": 1, "limit_train_batches": 1},
         make_call_kwargs=_datamodule, doc="fit(model, datamodule=dm): datamodule hooks vs module hooks")
class _RaiseInValidation(bh.Behaviour):
    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        raise ValueError("bad validation batch")


register("fit_datamodule_exception_in_validation", "fit",
         {"max_epochs": 1, "num_sanity_val_steps": 1, "limit_train_batches": 1},
         behaviour=_RaiseInValidation, make_call_kwargs=_datamodule, extra_callbacks=_tail_only,
         doc="validation_step raises during the sanity check: datamodule.on_exception too, no teardown hooks")
register("test_datamodule", "test", {}, method_kwargs={"verbose": False}, make_call_kwargs=_datamodule,
         doc="test(model, datamodule=dm)")


def _checkpoint_from_first_run(ctx):
    """Train 1 epoch (not recorded) with the same library and save a checkpoint to resume from."""
    first = build_module_class(ctx.lib)(Recorder(), ctx.behaviour)
    callback = build_callback_class(ctx.lib)(Recorder(), ctx.behaviour)
    trainer = ctx.lib.Trainer(
        callbacks=[callback],
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, max_epochs=1, limit_train_batches=2, limit_val_batches=0,
        default_root_dir=ctx.root_dir)
    trainer.fit(first)
    path = os.path.join(ctx.root_dir, "first.ckpt")
    trainer.save_checkpoint(path)
    return {"ckpt_path": path}


register("fit_resume_from_checkpoint", "fit",
         {"max_epochs": 2, "limit_train_batches": 2, "limit_val_batches": 1, "num_sanity_val_steps": 1},
         make_call_kwargs=_checkpoint_from_first_run, extra_callbacks=_tail_only,
         doc="resume at the end of epoch 0: load hooks, then epoch 1 only (is the sanity check run?)")


class _ModuleCallbacks(bh.Behaviour):
    n_train = 2
    from_module: list = []

    def configure_callbacks(self, module, default):
        return self.from_module


def _stash_module_callbacks(ctx):
    """No extra trainer callbacks; the module's configure_callbacks returns a traced 'Tail'."""
    ctx.behaviour.from_module = [traced_subclass(ctx.lib.Callback, "Tail", ctx.recorder)()]
    return []


register("fit_configure_callbacks", "fit", {"max_epochs": 1, "num_sanity_val_steps": 0, "limit_val_batches": 1},
         behaviour=_ModuleCallbacks, extra_callbacks=_stash_module_callbacks,
         doc="callbacks returned by configure_callbacks run after the Trainer's callbacks")
