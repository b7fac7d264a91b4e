"""StateModule: a torch.nn.Module with Lightning's LightningModule surface."""
from __future__ import annotations

import warnings
from typing import Any, Mapping

import torch
from torch import nn

from statetrainer.module.hooks import HookStubs
from statetrainer.module.hyperparameters import HyperparametersBase

__all__ = ["StateModule"]


class StateModule(HookStubs, HyperparametersBase, nn.Module):
    """Subclass it like a LightningModule: training_step, configure_optimizers and the hooks you need."""

    # the checkpoint keys of the hyper-parameters (Lightning's names and values)
    CHECKPOINT_HYPER_PARAMS_KEY = "hyper_parameters"
    CHECKPOINT_HYPER_PARAMS_NAME = "hparams_name"
    CHECKPOINT_HYPER_PARAMS_TYPE = "hparams_type"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trainer = None
        self._current_fx_name: str | None = None
        self._automatic_optimization = True
        self._example_input_array = None
        self._hparams: Any = None
        self._hparams_initial: Any = None
        self.prepare_data_per_node = True
        self.allow_zero_length_dataloader_with_multiple_devices = False

    def __getstate__(self) -> dict:
        """Pickling or copying a module leaves its trainer behind (as Lightning's): the copy is detached."""
        state = dict(self.__dict__)
        state["_trainer"] = None
        return state

    # ---------------------------------------------------------------- trainer-derived properties
    @property
    def trainer(self):
        if self._trainer is None:
            raise RuntimeError(f"{type(self).__qualname__} is not attached to a `Trainer`.")
        return self._trainer

    @trainer.setter
    def trainer(self, trainer) -> None:
        """Attach (or detach, with None) this module and the StateModules nested in it, as Lightning does."""
        for child in self.children():
            if isinstance(child, StateModule):
                child.trainer = trainer
        self._trainer = trainer

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        for tensor in self.parameters():
            return tensor.dtype
        return torch.get_default_dtype()

    def _from_trainer(self, name: str, default: Any) -> Any:
        return default if self._trainer is None else getattr(self._trainer, name)

    current_epoch = property(lambda self: self._from_trainer("current_epoch", 0))
    global_step = property(lambda self: self._from_trainer("global_step", 0))
    global_rank = property(lambda self: self._from_trainer("global_rank", 0))
    local_rank = property(lambda self: self._from_trainer("local_rank", 0))
    logger = property(lambda self: self._from_trainer("logger", None))
    loggers = property(lambda self: self._from_trainer("loggers", []))
    precision = property(lambda self: self._from_trainer("precision", "32-true"))

    @property
    def automatic_optimization(self) -> bool:
        return self._automatic_optimization

    @automatic_optimization.setter
    def automatic_optimization(self, value: bool) -> None:
        self._automatic_optimization = bool(value)

    @property
    def example_input_array(self):
        return self._example_input_array

    @example_input_array.setter
    def example_input_array(self, value) -> None:
        self._example_input_array = value

    # ---------------------------------------------------------------- logging
    def log(self, name: str, value: Any, prog_bar: bool = False, logger: bool | None = None,
            on_step: bool | None = None, on_epoch: bool | None = None, reduce_fx: Any = "mean",
            enable_graph: bool = False, sync_dist: bool = False, sync_dist_group: Any = None,
            add_dataloader_idx: bool = True, batch_size: int | None = None, metric_attribute: str | None = None,
            rank_zero_only: bool = False) -> None:
        """Record a metric; see docs/logging.md for the per-hook defaults (Lightning's)."""
        trainer = self.__dict__.get("_trainer")
        book = trainer._metrics if trainer is not None else self._metric_book("log")
        if book is not None:
            book.log(self._current_fx_name, name, value, prog_bar, logger, on_step, on_epoch, reduce_fx, enable_graph,
                     sync_dist, sync_dist_group, add_dataloader_idx, batch_size, metric_attribute, rank_zero_only)

    def log_dict(self, dictionary: Mapping[str, Any], prog_bar: bool = False, logger: bool | None = None,
                 on_step: bool | None = None, on_epoch: bool | None = None, reduce_fx: Any = "mean",
                 enable_graph: bool = False, sync_dist: bool = False, sync_dist_group: Any = None,
                 add_dataloader_idx: bool = True, batch_size: int | None = None,
                 rank_zero_only: bool = False) -> None:
        """`log` for every item of a mapping."""
        book = self._metric_book("log_dict")
        if book is not None:
            book.log_dict(self._current_fx_name, dictionary, prog_bar=prog_bar, logger=logger, on_step=on_step,
                          on_epoch=on_epoch, reduce_fx=reduce_fx, enable_graph=enable_graph,
                          sync_dist=sync_dist, sync_dist_group=sync_dist_group,
                          add_dataloader_idx=add_dataloader_idx, batch_size=batch_size,
                          rank_zero_only=rank_zero_only)

    def _metric_book(self, method: str):
        if self._trainer is None:
            warnings.warn(f"You are trying to `self.{method}()` but the module is not attached to a Trainer; "
                          "the value is ignored.", stacklevel=3)
            return None
        return self._trainer._metrics

    # ---------------------------------------------------------------- optimization
    def optimizers(self, use_pl_optimizer: bool = True):
        """The optimizer(s) from configure_optimizers: one object, or a list when there are several."""
        opts = self.trainer._step_optimizers if use_pl_optimizer else self.trainer.optimizers
        return opts[0] if len(opts) == 1 else list(opts)

    def lr_schedulers(self):
        """The scheduler(s): None, one object, or a list when there are several."""
        configs = self.trainer.lr_scheduler_configs
        if not configs:
            return None
        scheds = [config.scheduler for config in configs]
        return scheds[0] if len(scheds) == 1 else scheds

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """backward for manual optimization: runs the backward hooks and precision scaling."""
        self.trainer._manual_backward(loss, *args, **kwargs)

    def toggle_optimizer(self, optimizer) -> None:
        """Freeze the parameters that belong only to the other optimizers."""
        from statetrainer.module.toggle import toggle
        toggle(self, optimizer)

    def untoggle_optimizer(self, optimizer) -> None:
        from statetrainer.module.toggle import untoggle
        untoggle(self, optimizer)

    def clip_gradients(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Clip the gradients of `optimizer`'s parameters by norm (default) or by value."""
        from statetrainer.module.clipping import clip_gradients
        clip_gradients(self, optimizer, gradient_clip_val, gradient_clip_algorithm)

    # ---------------------------------------------------------------- utilities
    def freeze(self) -> "StateModule":
        """No gradients for any parameter, eval mode; returns the module (as Lightning's)."""
        for param in self.parameters():
            param.requires_grad = False
        return self.eval()

    def unfreeze(self) -> "StateModule":
        """Gradients for every parameter, train mode; returns the module."""
        for param in self.parameters():
            param.requires_grad = True
        return self.train()

    def print(self, *args: Any, **kwargs: Any) -> None:
        """print() on global rank 0 only, above the progress bar while one is on screen."""
        if self._trainer is None or self._trainer.is_global_zero:
            from statetrainer.console import CONSOLE
            CONSOLE.print(*args, **kwargs)

    def all_gather(self, data: Any, group: Any = None, sync_grads: bool = False) -> Any:
        """Gather tensors from every process (stacked on a new dim 0); unchanged in one process."""
        if self._trainer is None:
            return data
        return self._trainer.strategy.all_gather(data, group=group, sync_grads=sync_grads)

    def to_torchscript(self, file_path=None, method: str = "script", example_inputs=None, **kwargs: Any):
        from statetrainer.module.export import to_torchscript
        return to_torchscript(self, file_path, method, example_inputs, **kwargs)

    def to_onnx(self, file_path, input_sample=None, **kwargs: Any) -> None:
        from statetrainer.module.export import to_onnx
        to_onnx(self, file_path, input_sample, **kwargs)



# torch.jit.script compiles every property of a module it scripts unless listed here: ours read the
# trainer or Python objects and have no TorchScript form
StateModule.__jit_unused_properties__ = sorted(
    name for cls in StateModule.__mro__ if cls is not nn.Module and not issubclass(nn.Module, cls)
    for name, value in vars(cls).items() if isinstance(value, property))
