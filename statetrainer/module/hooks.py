"""Hook stubs of StateModule, in the order of Lightning's fit pseudocode.

Defaults do what Lightning's do; the dispatcher calls only the hooks a subclass overrides,
except the ones with real default work (batch transfer, zero_grad, backward, step, clipping,
eval/train mode), which always run.
"""
from __future__ import annotations

from typing import Any

import torch

from statetrainer.module.data_hooks import DataHooks

__all__ = ["HookStubs"]


class HookStubs(DataHooks):
    """The module's hooks (the data hooks come from DataHooks). StateModule inherits them; override the
    ones you need."""

    # -- configuration, in the order fit() calls them
    def configure_callbacks(self):
        return []

    def configure_model(self) -> None: ...
    def configure_sharded_model(self) -> None: ...

    def configure_optimizers(self):
        return None

    def on_fit_start(self) -> None: ...
    def on_train_start(self) -> None: ...
    def on_train_epoch_start(self) -> None: ...

    # -- per batch
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None: ...

    def on_before_zero_grad(self, optimizer) -> None: ...

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer) -> None:
        optimizer.zero_grad()

    def on_before_backward(self, loss: torch.Tensor) -> None: ...

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        loss.backward(*args, **kwargs)

    def on_after_backward(self) -> None: ...
    def on_before_optimizer_step(self, optimizer) -> None: ...

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        self.clip_gradients(optimizer, gradient_clip_val=gradient_clip_val,
                            gradient_clip_algorithm=gradient_clip_algorithm)

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer, optimizer_closure=None) -> None:
        optimizer.step(closure=optimizer_closure)

    def lr_scheduler_step(self, scheduler, metric) -> None:
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    def on_train_epoch_end(self) -> None: ...
    def on_train_end(self) -> None: ...
    def on_fit_end(self) -> None: ...

    # -- evaluation
    def on_validation_model_zero_grad(self) -> None:
        self.zero_grad()

    def on_validation_model_eval(self) -> None:
        self.eval()

    def on_validation_model_train(self) -> None:
        """Called after validation only when overridden; otherwise the loop puts back the train/eval mode
        each submodule had before validation. This body serves overrides that call super()."""
        self.train()

    def on_test_model_eval(self) -> None:
        self.eval()

    def on_test_model_train(self) -> None:
        """As on_validation_model_train, after a test run."""
        self.train()

    def on_predict_model_eval(self) -> None:
        self.eval()

    def on_validation_start(self) -> None: ...
    def on_validation_epoch_start(self) -> None: ...
    def on_validation_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_validation_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_validation_epoch_end(self) -> None: ...
    def on_validation_end(self) -> None: ...
    def on_test_start(self) -> None: ...
    def on_test_epoch_start(self) -> None: ...
    def on_test_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_test_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_test_epoch_end(self) -> None: ...
    def on_test_end(self) -> None: ...
    def on_predict_start(self) -> None: ...
    def on_predict_epoch_start(self) -> None: ...
    def on_predict_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_predict_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_predict_epoch_end(self) -> None: ...
    def on_predict_end(self) -> None: ...

    # -- steps: training_step has no default (required); predict_step calls forward
    def training_step(self, *args: Any, **kwargs: Any):
        from statetrainer.errors import MisconfigurationError
        raise MisconfigurationError(
            f"`training_step` is not implemented by {type(self).__name__}; accepted: a StateModule subclass "
            "that defines training_step(batch, batch_idx) to train with fit().")

    def validation_step(self, *args: Any, **kwargs: Any): ...
    def test_step(self, *args: Any, **kwargs: Any): ...

    def predict_step(self, batch: Any, batch_idx: int = 0, dataloader_idx: int = 0) -> Any:
        return self(batch)
