"""StochasticWeightAveraging: average the weights of the last epochs and train on with the SWA schedule.

From the SWA start epoch (``swa_epoch_start``: an epoch number counted from 1, or a fraction of
``max_epochs``) the callback (1) replaces the module's learning-rate scheduler by torch's ``SWALR``,
which anneals each param group's rate to its ``swa_lrs`` value over ``annealing_epochs`` epochs, and
(2) at the start of every epoch folds the current weights into a running average (``avg_fn``,
equal weights by default), kept on ``device``. When training reaches ``max_epochs`` the averaged
weights replace the module's, and if the module has batch-norm layers their statistics are
recomputed for the averaged weights with one pass over the training data. The callback's state
(the average, the counters, the SWALR state) goes into checkpoints, so a resumed run continues the
average and the schedule exactly. docs/callbacks.md lists where this differs from Lightning.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional, Union

import torch
from torch import nn
from torch.optim.swa_utils import SWALR

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["StochasticWeightAveraging"]

AvgFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class StochasticWeightAveraging(Callback):
    """Stochastic Weight Averaging (Izmailov et al., 2018) during the last epochs of fit.

    Args:
        swa_lrs: the SWA learning rate, one for all param groups or a list with one per group.
        swa_epoch_start: int >= 1, the epoch (counted from 1) where SWA starts; or a float in
            [0, 1], that fraction of max_epochs.
        annealing_epochs: epochs over which SWALR moves each rate to its SWA value.
        annealing_strategy: "cos" or "linear".
        avg_fn: ``avg_fn(averaged, current, num_averaged) -> new averaged`` (default: equal weights).
        device: where the averaged weights live; None: the module's device.
    """

    def __init__(self, swa_lrs: Union[float, list[float]], swa_epoch_start: Union[int, float] = 0.8,
                 annealing_epochs: int = 10, annealing_strategy: str = "cos", avg_fn: Optional[AvgFn] = None,
                 device: Optional[Union[str, torch.device]] = "cpu") -> None:
        _check_arguments(swa_lrs, swa_epoch_start, annealing_epochs, annealing_strategy, avg_fn, device)
        self._swa_lrs = swa_lrs
        self._swa_epoch_start = swa_epoch_start
        self._annealing_epochs = annealing_epochs
        self._annealing_strategy = annealing_strategy
        self._avg_fn = avg_fn or self.avg_fn
        self._device = device
        self.n_averaged: Optional[torch.Tensor] = None
        self._average: Optional[dict[str, torch.Tensor]] = None  # parameter name -> averaged value
        self._initialized = False
        self._swa_scheduler: Optional[SWALR] = None
        self._scheduler_state: Optional[dict] = None    # from a checkpoint, until the SWALR exists
        self._init_n_averaged = 0
        self._latest_update_epoch = -1
        self._max_epochs = -1
        self._model_contains_batch_norm = False
        self.momenta: dict[nn.Module, Optional[float]] = {}

    @property
    def swa_start(self) -> int:
        """The first SWA epoch, counted from 0."""
        return max(int(self._swa_epoch_start) - 1, 0)

    @property
    def swa_end(self) -> Union[int, float]:
        """The last SWA epoch, counted from 0 (infinite with max_epochs=-1)."""
        return float("inf") if self._max_epochs == -1 else self._max_epochs - 1

    @staticmethod
    def pl_module_contains_batch_norm(pl_module: nn.Module) -> bool:
        return any(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in pl_module.modules())

    @staticmethod
    def avg_fn(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        """The equal-weight running mean."""
        return averaged + (current - averaged) / (num_averaged + 1)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"n_averaged": 0 if self.n_averaged is None else int(self.n_averaged.item()),
                "latest_update_epoch": self._latest_update_epoch,
                "scheduler_state": None if self._swa_scheduler is None else self._swa_scheduler.state_dict(),
                "average_model_state": None if self._average is None else dict(self._average)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._init_n_averaged = state_dict["n_averaged"]
        self._latest_update_epoch = state_dict["latest_update_epoch"]
        self._scheduler_state = state_dict["scheduler_state"]
        self._average = state_dict["average_model_state"]  # Lightning's also holds buffers: only parameters are read

    # ---------------------------------------------------------------- hooks
    def on_fit_start(self, trainer, pl_module) -> None:
        if len(trainer.optimizers) != 1:
            raise MisconfigurationError(f"StochasticWeightAveraging works with one optimizer; configure_optimizers "
                                        f"returned {len(trainer.optimizers)}.")
        if len(trainer.lr_scheduler_configs) > 1:
            raise MisconfigurationError(f"StochasticWeightAveraging replaces at most one lr scheduler; "
                                        f"configure_optimizers returned {len(trainer.lr_scheduler_configs)}.")
        self._max_epochs = _resolved_max_epochs(trainer)
        if isinstance(self._swa_epoch_start, float):
            if self._max_epochs == -1:
                raise flag_error("StochasticWeightAveraging(swa_epoch_start)", self._swa_epoch_start,
                                 "an int epoch when max_epochs=-1 (a fraction of an endless run means nothing)")
            self._swa_epoch_start = int(self._max_epochs * self._swa_epoch_start)
        self._model_contains_batch_norm = self.pl_module_contains_batch_norm(pl_module)
        if self._scheduler_state is not None:  # resuming inside the SWA phase: the checkpoint holds SWALR's state
            self._start_schedule(trainer)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch
        if not self.swa_start <= epoch <= self.swa_end:
            return
        if not self._initialized:
            self._start_schedule(trainer)
        if self.n_averaged is None:
            self.n_averaged = torch.tensor(self._init_n_averaged, dtype=torch.long, device=pl_module.device)
        if epoch > self._latest_update_epoch:
            self._update_average(pl_module)
            self._latest_update_epoch = epoch

    def on_train_end(self, trainer, pl_module) -> None:
        if self._average is None:
            return
        finished = trainer.current_epoch - 1 == self.swa_end
        if self._max_epochs == -1 or finished:
            self.transfer_weights(self._average, pl_module)
        if finished and self._model_contains_batch_norm:
            self.reset_batch_norm_and_save_state(pl_module)
            _recompute_batch_norm(trainer, pl_module)
            self.reset_momenta()

    # ---------------------------------------------------------------- the SWA schedule
    def _start_schedule(self, trainer) -> None:
        """Build SWALR on the optimizer and put it in place of the module's scheduler."""
        self._initialized = True
        optimizer = trainer.optimizers[0]
        if not isinstance(self._swa_lrs, (list, tuple)):
            self._swa_lrs = [float(self._swa_lrs)] * len(optimizer.param_groups)
        for lr, group in zip(self._swa_lrs, optimizer.param_groups):
            group["initial_lr"] = lr
        self._swa_scheduler = SWALR(optimizer, swa_lr=list(self._swa_lrs), anneal_epochs=self._annealing_epochs,
                                    anneal_strategy=self._annealing_strategy,
                                    last_epoch=self._max_epochs if self._annealing_strategy == "cos" else -1)
        if self._scheduler_state is not None:
            self._swa_scheduler.load_state_dict(self._scheduler_state)
        _swap_scheduler(trainer, self._swa_scheduler)

    def _update_average(self, pl_module: nn.Module) -> None:
        device = self._device or pl_module.device
        if self._average is None:
            self._average = {name: p.detach().to(device).clone() for name, p in pl_module.named_parameters()}
        count = self.n_averaged
        for name, param in pl_module.named_parameters():
            stored = self._average[name].to(device)
            current = param.detach().to(device)
            self._average[name] = current.clone() if count == 0 else self._avg_fn(stored, current, count.to(device))
        self.n_averaged += 1

    @staticmethod
    def transfer_weights(average: dict[str, torch.Tensor], pl_module: nn.Module) -> None:
        """Copy the averaged values into the module's parameters."""
        for name, param in pl_module.named_parameters():
            if name in average:
                param.detach().copy_(average[name].to(param.device))

    def reset_batch_norm_and_save_state(self, pl_module: nn.Module) -> None:
        """Start every batch-norm layer's statistics afresh as a cumulative average (momentum None)."""
        self.momenta = {}
        for module in pl_module.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                module.running_mean = torch.zeros_like(module.running_mean)
                module.running_var = torch.ones_like(module.running_var)
                module.num_batches_tracked *= 0
                self.momenta[module] = module.momentum
                module.momentum = None

    def reset_momenta(self) -> None:
        for module, momentum in self.momenta.items():
            module.momentum = momentum


def _check_arguments(swa_lrs, swa_epoch_start, annealing_epochs, annealing_strategy, avg_fn, device) -> None:
    name = "StochasticWeightAveraging"
    if isinstance(swa_epoch_start, bool) or not isinstance(swa_epoch_start, (int, float)) or (
            isinstance(swa_epoch_start, int) and swa_epoch_start < 1) or (
            isinstance(swa_epoch_start, float) and not 0 <= swa_epoch_start <= 1):
        raise flag_error(f"{name}(swa_epoch_start)", swa_epoch_start, "an int >= 1 or a float in [0, 1]")
    lrs = swa_lrs if isinstance(swa_lrs, (list, tuple)) else [swa_lrs]
    if not lrs or not all(isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0 for lr in lrs):
        raise flag_error(f"{name}(swa_lrs)", swa_lrs, "a positive float, or a list of positive floats (one per "
                                                      "param group)")
    if isinstance(annealing_epochs, bool) or not isinstance(annealing_epochs, int) or annealing_epochs < 0:
        raise flag_error(f"{name}(annealing_epochs)", annealing_epochs, "an int >= 0")
    if annealing_strategy not in ("cos", "linear"):
        raise flag_error(f"{name}(annealing_strategy)", annealing_strategy, "'cos' or 'linear'")
    if avg_fn is not None and not callable(avg_fn):
        raise flag_error(f"{name}(avg_fn)", avg_fn, "a function (averaged, current, num_averaged) -> tensor, or None")
    if device is not None and not isinstance(device, (torch.device, str)):
        raise flag_error(f"{name}(device)", device, "a torch.device, a device string or None")


def _resolved_max_epochs(trainer) -> int:
    max_epochs = trainer.max_epochs
    if max_epochs is None:  # Lightning's rule for an unset max_epochs
        return 1000 if trainer.max_steps == -1 else -1
    return max_epochs


def _swap_scheduler(trainer, scheduler: SWALR) -> None:
    """SWALR, stepped every epoch, replaces the module's scheduler (or is added when there is none)."""
    from statetrainer.module.optim_config import SchedulerConfig
    configs = list(trainer.lr_scheduler_configs)
    swa = SchedulerConfig(scheduler=scheduler, interval="epoch", frequency=1)
    if configs:
        old = configs[0]
        if old.interval != "epoch" or old.frequency != 1:
            import warnings
            warnings.warn(f"StochasticWeightAveraging steps its SWALR once per epoch, in place of "
                          f"{type(old.scheduler).__name__} (interval={old.interval!r}, frequency={old.frequency}).",
                          UserWarning, stacklevel=2)
        configs[0] = swa
    else:
        configs.append(swa)
    trainer.lr_scheduler_configs = configs


def _recompute_batch_norm(trainer, pl_module: nn.Module) -> None:
    """One pass over the training batches in train mode, no gradient, to refill the batch-norm statistics.

    The batches go through training_step (its self.log calls are silenced), or through forward on the
    batch's first element under manual optimization (whose training_step would step the optimizers).
    """
    loader, limit = trainer.train_dataloader, trainer.num_training_batches
    if loader is None:
        return
    device = next(pl_module.parameters()).device
    was_training = pl_module.training
    pl_module.train()
    with torch.no_grad(), _silenced_logging(pl_module):
        for batch_idx, batch in enumerate(loader):
            if batch_idx >= limit:
                break
            batch = _to_device(pl_module, batch, device)
            if getattr(pl_module, "automatic_optimization", True):
                pl_module.training_step(batch, batch_idx)
            else:
                pl_module(batch[0] if isinstance(batch, (list, tuple)) else batch)
    pl_module.train(was_training)


def _to_device(pl_module: nn.Module, batch: Any, device: torch.device) -> Any:
    hooks = [getattr(pl_module, name, None) for name in ("on_before_batch_transfer", "transfer_batch_to_device",
                                                          "on_after_batch_transfer")]
    if any(hook is None for hook in hooks):
        return batch
    batch = hooks[0](batch, 0)
    batch = hooks[1](batch, device, 0)
    return hooks[2](batch, 0)


@contextlib.contextmanager
def _silenced_logging(pl_module: nn.Module):
    """self.log / self.log_dict do nothing inside (the statistics pass must not record metrics)."""
    def quiet(*args: Any, **kwargs: Any) -> None:
        return None
    pl_module.__dict__["log"] = pl_module.__dict__["log_dict"] = quiet
    try:
        yield
    finally:
        del pl_module.__dict__["log"], pl_module.__dict__["log_dict"]
