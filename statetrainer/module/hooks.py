"""Hook stubs of StateModule, in the order of Lightning's fit pseudocode.

Defaults do what Lightning's do; the dispatcher calls only the hooks a subclass overrides,
except the ones with real default work (batch transfer, zero_grad, backward, step, clipping,
eval/train mode), which always run.
"""
from __future__ import annotations

from typing import Any

import torch

from statetrainer.loop.transfer import move_to_device

__all__ = ["HookStubs"]


class HookStubs:
    """The module's hooks. StateModule inherits them; override the ones you need."""

    # -- configuration, in the order fit() calls them
    def configure_callbacks(self):
        return []

    def prepare_data(self) -> None: ...
    def setup(self, stage: str) -> None: ...
    def configure_model(self) -> None: ...
    def configure_sharded_model(self) -> None: ...

    def configure_optimizers(self):
        return None

    def on_fit_start(self) -> None: ...
    def on_train_start(self) -> None: ...
    def on_train_epoch_start(self) -> None: ...

    # -- per batch
    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return move_to_device(batch, device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

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
        self.train()

    def on_test_model_eval(self) -> None:
        self.eval()

    def on_test_model_train(self) -> None:
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

    # -- checkpoints, failures, teardown
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...
    def on_exception(self, exception: BaseException) -> None: ...
    def teardown(self, stage: str) -> None: ...

    # -- data hooks (not signals: they return loaders)
    def train_dataloader(self):
        raise NotImplementedError
    def val_dataloader(self):
        raise NotImplementedError
    def test_dataloader(self):
        raise NotImplementedError
    def predict_dataloader(self):
        raise NotImplementedError

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
