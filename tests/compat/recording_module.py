"""The recording module: every hook records one trace line, then delegates.

Delegation: if the scenario's Behaviour defines a method named like the hook, it is
called as ``behaviour.<hook>(module, default, *args)`` where ``default`` is the base
class implementation; otherwise the base implementation runs. Signatures are spelled
out exactly as Lightning documents them, because both libraries may inspect them.
"""
from __future__ import annotations

import torch

from .harness import (
    STATE_HOOKS, describe_outputs, fmt_stage, format_call, grad_state, optimizer_index,
    scheduler_index,
)


def make_module_class(base: type) -> type:  # noqa: C901 - one flat list of hooks
    class RecordingModule(base):
        def __init__(self, recorder, behaviour):
            super().__init__()
            self.recorder = recorder
            self.behaviour = behaviour
            self.layer = torch.nn.Linear(4, 2)
            self.created_optimizers = []
            self.created_schedulers = []
            behaviour.init(self)

        def forward(self, x):
            return self.layer(x)

        def _hook(self, hook, ids, default, *args):
            line = format_call("Module", hook, ids)
            if hook in STATE_HOOKS:
                line += grad_state(self)
            self.recorder.add(line)
            custom = getattr(self.behaviour, hook, None)
            if custom is not None:
                return custom(self, default, *args)
            return default(*args)

        def _opt(self, optimizer):
            return optimizer_index(self, optimizer)

        # ----- setup / teardown -------------------------------------------------
        def configure_callbacks(self):
            return self._hook("configure_callbacks", {}, super().configure_callbacks)

        def prepare_data(self):
            return self._hook("prepare_data", {}, super().prepare_data)

        def setup(self, stage):
            return self._hook("setup", {"stage": fmt_stage(stage)}, super().setup, stage)

        def configure_model(self):
            return self._hook("configure_model", {}, super().configure_model)

        def configure_optimizers(self):
            return self._hook("configure_optimizers", {}, super().configure_optimizers)

        def teardown(self, stage):
            return self._hook("teardown", {"stage": fmt_stage(stage)}, super().teardown, stage)

        # ----- dataloaders ------------------------------------------------------
        def train_dataloader(self):
            return self._hook("train_dataloader", {}, super().train_dataloader)

        def val_dataloader(self):
            return self._hook("val_dataloader", {}, super().val_dataloader)

        def test_dataloader(self):
            return self._hook("test_dataloader", {}, super().test_dataloader)

        def predict_dataloader(self):
            return self._hook("predict_dataloader", {}, super().predict_dataloader)

        # ----- run-level start / end ----------------------------------------------
        def on_fit_start(self):
            return self._hook("on_fit_start", {}, super().on_fit_start)

        def on_fit_end(self):
            return self._hook("on_fit_end", {}, super().on_fit_end)

        def on_train_start(self):
            return self._hook("on_train_start", {}, super().on_train_start)

        def on_train_end(self):
            return self._hook("on_train_end", {}, super().on_train_end)

        def on_validation_start(self):
            return self._hook("on_validation_start", {}, super().on_validation_start)

        def on_validation_end(self):
            return self._hook("on_validation_end", {}, super().on_validation_end)

        def on_test_start(self):
            return self._hook("on_test_start", {}, super().on_test_start)

        def on_test_end(self):
            return self._hook("on_test_end", {}, super().on_test_end)

        def on_predict_start(self):
            return self._hook("on_predict_start", {}, super().on_predict_start)

        def on_predict_end(self):
            return self._hook("on_predict_end", {}, super().on_predict_end)

        # ----- epochs -----------------------------------------------------------
        def on_train_epoch_start(self):
            return self._hook("on_train_epoch_start", {}, super().on_train_epoch_start)

        def on_train_epoch_end(self):
            return self._hook("on_train_epoch_end", {}, super().on_train_epoch_end)

        def on_validation_epoch_start(self):
            return self._hook("on_validation_epoch_start", {}, super().on_validation_epoch_start)

        def on_validation_epoch_end(self):
            return self._hook("on_validation_epoch_end", {}, super().on_validation_epoch_end)

        def on_test_epoch_start(self):
            return self._hook("on_test_epoch_start", {}, super().on_test_epoch_start)

        def on_test_epoch_end(self):
            return self._hook("on_test_epoch_end", {}, super().on_test_epoch_end)

        def on_predict_epoch_start(self):
            return self._hook("on_predict_epoch_start", {}, super().on_predict_epoch_start)

        def on_predict_epoch_end(self):
            return self._hook("on_predict_epoch_end", {}, super().on_predict_epoch_end)

        # ----- eval/train mode switches -----------------------------------------
        def on_validation_model_zero_grad(self):
            return self._hook("on_validation_model_zero_grad", {}, super().on_validation_model_zero_grad)

        def on_validation_model_eval(self):
            return self._hook("on_validation_model_eval", {}, super().on_validation_model_eval)

        def on_validation_model_train(self):
            return self._hook("on_validation_model_train", {}, super().on_validation_model_train)

        def on_test_model_eval(self):
            return self._hook("on_test_model_eval", {}, super().on_test_model_eval)

        def on_test_model_train(self):
            return self._hook("on_test_model_train", {}, super().on_test_model_train)

        def on_predict_model_eval(self):
            return self._hook("on_predict_model_eval", {}, super().on_predict_model_eval)

        # ----- batch transfer ---------------------------------------------------
        def on_before_batch_transfer(self, batch, dataloader_idx):
            ids = {"dataloader_idx": dataloader_idx}
            return self._hook("on_before_batch_transfer", ids, super().on_before_batch_transfer, batch, dataloader_idx)

        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            ids = {"dataloader_idx": dataloader_idx}
            default = super().transfer_batch_to_device
            return self._hook("transfer_batch_to_device", ids, default, batch, device, dataloader_idx)

        def on_after_batch_transfer(self, batch, dataloader_idx):
            ids = {"dataloader_idx": dataloader_idx}
            return self._hook("on_after_batch_transfer", ids, super().on_after_batch_transfer, batch, dataloader_idx)

        # ----- training batch -----------------------------------------------------
        def on_train_batch_start(self, batch, batch_idx):
            ids = {"batch_idx": batch_idx}
            return self._hook("on_train_batch_start", ids, super().on_train_batch_start, batch, batch_idx)

        def training_step(self, batch, batch_idx):
            return self._hook("training_step", {"batch_idx": batch_idx}, None, batch, batch_idx)

        def on_train_batch_end(self, outputs, batch, batch_idx):
            ids = {"batch_idx": batch_idx, "outputs": describe_outputs(outputs)}
            return self._hook("on_train_batch_end", ids, super().on_train_batch_end, outputs, batch, batch_idx)

        def on_before_zero_grad(self, optimizer):
            ids = {"opt": self._opt(optimizer)}
            return self._hook("on_before_zero_grad", ids, super().on_before_zero_grad, optimizer)

        def optimizer_zero_grad(self, epoch, batch_idx, optimizer):
            ids = {"epoch": epoch, "batch_idx": batch_idx, "opt": self._opt(optimizer)}
            default = super().optimizer_zero_grad
            return self._hook("optimizer_zero_grad", ids, default, epoch, batch_idx, optimizer)

        def on_before_backward(self, loss):
            return self._hook("on_before_backward", {}, super().on_before_backward, loss)

        def backward(self, loss, *args, **kwargs):
            def default(loss_):
                return super(RecordingModule, self).backward(loss_, *args, **kwargs)

            return self._hook("backward", {}, default, loss)

        def on_after_backward(self):
            return self._hook("on_after_backward", {}, super().on_after_backward)

        def on_before_optimizer_step(self, optimizer):
            ids = {"opt": self._opt(optimizer)}
            return self._hook("on_before_optimizer_step", ids, super().on_before_optimizer_step, optimizer)

        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            ids = {"opt": self._opt(optimizer), "val": gradient_clip_val, "algo": fmt_stage(gradient_clip_algorithm)}
            default = super().configure_gradient_clipping
            args = (optimizer, gradient_clip_val, gradient_clip_algorithm)
            return self._hook("configure_gradient_clipping", ids, default, *args)

        def clip_gradients(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            ids = {"opt": self._opt(optimizer), "val": gradient_clip_val, "algo": fmt_stage(gradient_clip_algorithm)}
            default = super().clip_gradients
            return self._hook("clip_gradients", ids, default, optimizer, gradient_clip_val, gradient_clip_algorithm)

        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
            ids = {"epoch": epoch, "batch_idx": batch_idx, "opt": self._opt(optimizer)}
            default = super().optimizer_step
            return self._hook("optimizer_step", ids, default, epoch, batch_idx, optimizer, optimizer_closure)

        def lr_scheduler_step(self, scheduler, metric):
            ids = {"sched": scheduler_index(self, scheduler), "metric": metric is not None}
            return self._hook("lr_scheduler_step", ids, super().lr_scheduler_step, scheduler, metric)

        # ----- manual optimisation helpers (user-called, recorded for context) ---
        def manual_backward(self, loss, *args, **kwargs):
            def default(loss_):
                return super(RecordingModule, self).manual_backward(loss_, *args, **kwargs)

            return self._hook("manual_backward", {}, default, loss)

        def toggle_optimizer(self, optimizer):
            ids = {"opt": self._opt(optimizer)}
            return self._hook("toggle_optimizer", ids, super().toggle_optimizer, optimizer)

        def untoggle_optimizer(self, optimizer):
            ids = {"opt": self._opt(optimizer)}
            return self._hook("untoggle_optimizer", ids, super().untoggle_optimizer, optimizer)

        # ----- evaluation batches -----------------------------------------------
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            return self._hook("validation_step", ids, None, batch, batch_idx, dataloader_idx)

        def test_step(self, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            return self._hook("test_step", ids, None, batch, batch_idx, dataloader_idx)

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            return self._hook("predict_step", ids, None, batch, batch_idx, dataloader_idx)

        def on_validation_batch_start(self, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            default = super().on_validation_batch_start
            return self._hook("on_validation_batch_start", ids, default, batch, batch_idx, dataloader_idx)

        def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx, "outputs": describe_outputs(outputs)}
            default = super().on_validation_batch_end
            return self._hook("on_validation_batch_end", ids, default, outputs, batch, batch_idx, dataloader_idx)

        def on_test_batch_start(self, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            default = super().on_test_batch_start
            return self._hook("on_test_batch_start", ids, default, batch, batch_idx, dataloader_idx)

        def on_test_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx, "outputs": describe_outputs(outputs)}
            default = super().on_test_batch_end
            return self._hook("on_test_batch_end", ids, default, outputs, batch, batch_idx, dataloader_idx)

        def on_predict_batch_start(self, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            default = super().on_predict_batch_start
            return self._hook("on_predict_batch_start", ids, default, batch, batch_idx, dataloader_idx)

        def on_predict_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx, "outputs": describe_outputs(outputs)}
            default = super().on_predict_batch_end
            return self._hook("on_predict_batch_end", ids, default, outputs, batch, batch_idx, dataloader_idx)

        # ----- checkpoints ------------------------------------------------------
        def on_save_checkpoint(self, checkpoint):
            return self._hook("on_save_checkpoint", {}, super().on_save_checkpoint, checkpoint)

        def on_load_checkpoint(self, checkpoint):
            return self._hook("on_load_checkpoint", {}, super().on_load_checkpoint, checkpoint)

    return RecordingModule
