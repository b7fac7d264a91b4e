"""The recording Callback: every Callback hook records one trace line, then delegates.

If the scenario's Behaviour defines ``cb_<hook>``, it is called as
``behaviour.cb_<hook>(callback, trainer, module, *args)`` after recording.
"""
from __future__ import annotations

from .harness import describe_outputs, fmt_stage, format_call, optimizer_index


def make_callback_class(base: type) -> type:  # noqa: C901 - one flat list of hooks
    class RecordingCallback(base):
        def __init__(self, recorder, behaviour):
            super().__init__()
            self.recorder = recorder
            self.behaviour = behaviour

        def _hook(self, hook, ids, trainer, module, *args):
            self.recorder.add(format_call("Callback", hook, ids))
            custom = getattr(self.behaviour, "cb_" + hook, None)
            if custom is not None:
                return custom(self, trainer, module, *args)
            return None

        # ----- setup / teardown / run-level ---------------------------------------
        def setup(self, trainer, pl_module, stage):
            return self._hook("setup", {"stage": fmt_stage(stage)}, trainer, pl_module, stage)

        def teardown(self, trainer, pl_module, stage):
            return self._hook("teardown", {"stage": fmt_stage(stage)}, trainer, pl_module, stage)

        def on_fit_start(self, trainer, pl_module):
            return self._hook("on_fit_start", {}, trainer, pl_module)

        def on_fit_end(self, trainer, pl_module):
            return self._hook("on_fit_end", {}, trainer, pl_module)

        def on_sanity_check_start(self, trainer, pl_module):
            return self._hook("on_sanity_check_start", {}, trainer, pl_module)

        def on_sanity_check_end(self, trainer, pl_module):
            return self._hook("on_sanity_check_end", {}, trainer, pl_module)

        def on_train_start(self, trainer, pl_module):
            return self._hook("on_train_start", {}, trainer, pl_module)

        def on_train_end(self, trainer, pl_module):
            return self._hook("on_train_end", {}, trainer, pl_module)

        def on_validation_start(self, trainer, pl_module):
            return self._hook("on_validation_start", {}, trainer, pl_module)

        def on_validation_end(self, trainer, pl_module):
            return self._hook("on_validation_end", {}, trainer, pl_module)

        def on_test_start(self, trainer, pl_module):
            return self._hook("on_test_start", {}, trainer, pl_module)

        def on_test_end(self, trainer, pl_module):
            return self._hook("on_test_end", {}, trainer, pl_module)

        def on_predict_start(self, trainer, pl_module):
            return self._hook("on_predict_start", {}, trainer, pl_module)

        def on_predict_end(self, trainer, pl_module):
            return self._hook("on_predict_end", {}, trainer, pl_module)

        def on_exception(self, trainer, pl_module, exception):
            ids = {"exception": type(exception).__name__}
            return self._hook("on_exception", ids, trainer, pl_module, exception)

        # ----- epochs -----------------------------------------------------------
        def on_train_epoch_start(self, trainer, pl_module):
            return self._hook("on_train_epoch_start", {}, trainer, pl_module)

        def on_train_epoch_end(self, trainer, pl_module):
            return self._hook("on_train_epoch_end", {}, trainer, pl_module)

        def on_validation_epoch_start(self, trainer, pl_module):
            return self._hook("on_validation_epoch_start", {}, trainer, pl_module)

        def on_validation_epoch_end(self, trainer, pl_module):
            return self._hook("on_validation_epoch_end", {}, trainer, pl_module)

        def on_test_epoch_start(self, trainer, pl_module):
            return self._hook("on_test_epoch_start", {}, trainer, pl_module)

        def on_test_epoch_end(self, trainer, pl_module):
            return self._hook("on_test_epoch_end", {}, trainer, pl_module)

        def on_predict_epoch_start(self, trainer, pl_module):
            return self._hook("on_predict_epoch_start", {}, trainer, pl_module)

        def on_predict_epoch_end(self, trainer, pl_module):
            return self._hook("on_predict_epoch_end", {}, trainer, pl_module)

        # ----- batches ----------------------------------------------------------
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            return self._hook("on_train_batch_start", {"batch_idx": batch_idx}, trainer, pl_module, batch, batch_idx)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            ids = {"batch_idx": batch_idx, "outputs": describe_outputs(outputs)}
            return self._hook("on_train_batch_end", ids, trainer, pl_module, outputs, batch, batch_idx)

        def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            return self._hook("on_validation_batch_start", ids, trainer, pl_module, batch, batch_idx, dataloader_idx)

        def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx, "outputs": describe_outputs(outputs)}
            args = (outputs, batch, batch_idx, dataloader_idx)
            return self._hook("on_validation_batch_end", ids, trainer, pl_module, *args)

        def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            return self._hook("on_test_batch_start", ids, trainer, pl_module, batch, batch_idx, dataloader_idx)

        def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx, "outputs": describe_outputs(outputs)}
            args = (outputs, batch, batch_idx, dataloader_idx)
            return self._hook("on_test_batch_end", ids, trainer, pl_module, *args)

        def on_predict_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            return self._hook("on_predict_batch_start", ids, trainer, pl_module, batch, batch_idx, dataloader_idx)

        def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
            ids = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx, "outputs": describe_outputs(outputs)}
            args = (outputs, batch, batch_idx, dataloader_idx)
            return self._hook("on_predict_batch_end", ids, trainer, pl_module, *args)

        # ----- optimisation -----------------------------------------------------
        def on_before_backward(self, trainer, pl_module, loss):
            return self._hook("on_before_backward", {}, trainer, pl_module, loss)

        def on_after_backward(self, trainer, pl_module):
            return self._hook("on_after_backward", {}, trainer, pl_module)

        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            ids = {"opt": optimizer_index(pl_module, optimizer)}
            return self._hook("on_before_optimizer_step", ids, trainer, pl_module, optimizer)

        def on_before_zero_grad(self, trainer, pl_module, optimizer):
            ids = {"opt": optimizer_index(pl_module, optimizer)}
            return self._hook("on_before_zero_grad", ids, trainer, pl_module, optimizer)

        # ----- checkpoints / state ------------------------------------------------
        def state_dict(self):
            self.recorder.add(format_call("Callback", "state_dict", {}))
            return {"recorded": True}

        def load_state_dict(self, state_dict):
            self.recorder.add(format_call("Callback", "load_state_dict", {}))

        def on_save_checkpoint(self, trainer, pl_module, checkpoint):
            return self._hook("on_save_checkpoint", {}, trainer, pl_module, checkpoint)

        def on_load_checkpoint(self, trainer, pl_module, checkpoint):
            return self._hook("on_load_checkpoint", {}, trainer, pl_module, checkpoint)

    return RecordingCallback
