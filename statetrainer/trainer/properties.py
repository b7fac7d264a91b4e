"""The Trainer's read-only properties (Lightning's names), kept apart from its behaviour."""
from __future__ import annotations

import math
from typing import Optional

__all__ = ["TrainerProperties"]


def _flag(name: str):
    return property(lambda self: getattr(self._config, name), doc=f"The `{name}` flag as resolved.")


class TrainerProperties:
    """Base class of Trainer: every property reads state owned elsewhere (progress, book, session)."""

    # -- flags
    max_epochs = property(lambda self: self._config.max_epochs if self._config.max_epochs_settled else None,
                          doc="The epoch limit; None while an unset max_epochs awaits fit (Lightning's reading).")
    max_steps = _flag("max_steps")
    min_epochs = _flag("min_epochs")
    min_steps = _flag("min_steps")
    log_every_n_steps = _flag("log_every_n_steps")
    precision = _flag("precision")
    fast_dev_run = property(lambda self: _fast_dev_run(self._config.raw["fast_dev_run"]),
                            doc="The flag as given, except that 1 reads True (Lightning's reading).")
    val_check_interval = _flag("val_check_interval")
    check_val_every_n_epoch = _flag("check_val_every_n_epoch")
    num_sanity_val_steps = _flag("num_sanity_val_steps")
    overfit_batches = _flag("overfit_batches")
    reload_dataloaders_every_n_epochs = _flag("reload_dataloaders_every_n_epochs")
    num_nodes = _flag("num_nodes")
    barebones = _flag("barebones")
    limit_train_batches = property(lambda self: self._config.limits["train"])
    limit_val_batches = property(lambda self: self._config.limits["val"])
    limit_test_batches = property(lambda self: self._config.limits["test"])
    limit_predict_batches = property(lambda self: self._config.limits["predict"])

    @property
    def accumulate_grad_batches(self) -> int:
        return self._accumulation.factor(self._position.epoch)

    @accumulate_grad_batches.setter
    def accumulate_grad_batches(self, value) -> None:
        """The documented request to change accumulation: an int k applies from the current epoch on
        (GradientAccumulationScheduler sets it in on_train_epoch_start), a dict {epoch: k} replaces the
        whole schedule."""
        from statetrainer.trainer.flags import _accumulation
        schedule = _accumulation(value)
        self._accumulation.request(schedule if isinstance(value, dict) else schedule[0], self._position.epoch)

    @property
    def accumulation_schedule(self) -> dict:
        """The accumulation schedule in force: {first epoch: k}."""
        return dict(self._accumulation.schedule)

    ckpt_path = property(lambda self: self._ckpt_path, doc="The checkpoint the last run restored, or None.")

    @property
    def default_root_dir(self) -> str:
        return self._default_root_dir

    # -- progress
    current_epoch = property(lambda self: self._position.epoch)
    global_step = property(lambda self: self._position.global_step)
    is_last_batch = property(lambda self: self._position.is_last_batch)
    interrupted = property(lambda self: self.state.status == "interrupted",
                           doc="The last call ended by Ctrl-C, SIGTERM or an exception (Lightning's reading); "
                               "`state.current` tells them apart: 'interrupted' or 'failed'.")

    @property
    def should_stop(self) -> bool:
        return self._stop.should_stop

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        self._stop.request(value)

    # -- metrics
    callback_metrics = property(lambda self: self._metrics.callback_metrics)
    logged_metrics = property(lambda self: self._metrics.logged_metrics)
    progress_bar_metrics = property(lambda self: self._metrics.progress_bar_metrics)

    # -- stage
    def _stage(self) -> Optional[str]:
        return self.state.stage

    sanity_checking = property(lambda self: self._stage() == "sanity_check")
    training = property(lambda self: self._stage() == "train")
    validating = property(lambda self: self._stage() == "validate")
    testing = property(lambda self: self._stage() == "test")
    predicting = property(lambda self: self._stage() == "predict")

    # -- ranks and devices
    global_rank = property(lambda self: self.strategy.global_rank)
    local_rank = property(lambda self: self.strategy.local_rank)
    node_rank = property(lambda self: self.strategy.node_rank)
    world_size = property(lambda self: self.strategy.world_size)
    is_global_zero = property(lambda self: self.strategy.global_rank == 0)
    num_devices = property(lambda self: len(self.device_ids), doc="Devices (processes) per node.")

    @property
    def device_ids(self) -> list:
        """Each local device's index (its position in the list for devices without one, e.g. CPU processes)."""
        devices = getattr(self.strategy, "parallel_devices", None) or [self.strategy.root_device]
        return [device.index or position for position, device in enumerate(devices)]

    # -- model, data, optimizers
    lightning_module = property(lambda self: self._module)
    model = property(lambda self: self._module)
    datamodule = property(lambda self: self._datamodule)
    optimizers = property(lambda self: list(self._session.optim.optimizers) if self._session else [])
    _step_optimizers = property(lambda self: list(self._session.optim.step_optimizers) if self._session else [])

    @property
    def lr_scheduler_configs(self) -> list:
        return list(self._session.optim.scheduler_configs) if self._session else []

    @lr_scheduler_configs.setter
    def lr_scheduler_configs(self, configs) -> None:
        """Replace the running fit's schedulers (what the LR finder does); only while a call runs."""
        self._require_session("setting lr_scheduler_configs").optim.scheduler_configs = list(configs)

    # the loaders the last call loaded, in the structure they were given (a loader, a list or dict of
    # them); kept after the call returns, cleared when the next call starts (as Lightning)
    train_dataloader = property(lambda self: self._dataloaders.get("train"))
    val_dataloaders = property(lambda self: self._dataloaders.get("val"))
    test_dataloaders = property(lambda self: self._dataloaders.get("test"))
    predict_dataloaders = property(lambda self: self._dataloaders.get("predict"))

    @property
    def predict_batch_indices(self) -> Optional[list]:
        """While predicting: the dataset indices of the current batch (None when the loader cannot tell)."""
        return self._session.feed.batch_indices() if self.predicting and self._session is not None else None

    @property
    def num_training_batches(self) -> float:
        return self._position.shape.epoch_length

    @property
    def num_val_batches(self) -> list:
        s = self._session
        if s is None:
            return []
        limits = s.feed.val_limits if s.fn == "fit" else s.feed.eval_limits
        return list(limits or [])

    @property
    def num_test_batches(self) -> list:
        return _eval_counts(self, "test")

    @property
    def num_predict_batches(self) -> list:
        return _eval_counts(self, "predict")

    @property
    def num_sanity_val_batches(self) -> list:
        return [min(n, self._config.num_sanity_val_steps) for n in self.num_val_batches]

    @property
    def val_check_batch(self) -> Optional[float]:
        """Training batches between validations; None when validation follows the clock (a time-based
        val_check_interval), as Lightning."""
        shape = self._position.shape
        return None if shape.val_check_seconds is not None else shape.val_check_batch

    @property
    def enable_validation(self) -> bool:
        return self._position.shape.validation_enabled

    @property
    def estimated_stepping_batches(self) -> float:
        """Optimizer steps fit will take at most (loads the train data if it is not loaded yet)."""
        self._require_session("estimated_stepping_batches").feed.train()
        total = self.num_training_batches
        if math.isinf(total):
            return self.max_steps if self.max_steps != -1 else math.inf
        max_epochs = self._config.max_epochs
        steps = math.ceil(total / self.accumulate_grad_batches) * max(max_epochs, 1)
        if max_epochs == -1:
            steps = math.inf
        return min(steps, self.max_steps) if self.max_steps != -1 else steps

    # -- loggers
    @property
    def loggers(self) -> list:
        return self._loggers

    @loggers.setter
    def loggers(self, value) -> None:
        self._loggers = list(value or [])

    @property
    def logger(self):
        return self._loggers[0] if self._loggers else None

    @logger.setter
    def logger(self, value) -> None:
        self._loggers = [] if value is None else [value]

    @property
    def log_dir(self) -> Optional[str]:
        from statetrainer.loggers import lifecycle
        return lifecycle.log_dir(self._loggers, self._default_root_dir)

    # -- callbacks
    def _callbacks_named(self, name: str) -> list:
        return [cb for cb in self.callbacks if name in {c.__name__ for c in type(cb).__mro__}]

    checkpoint_callbacks = property(lambda self: self._callbacks_named("ModelCheckpoint"))
    early_stopping_callbacks = property(lambda self: self._callbacks_named("EarlyStopping"))
    checkpoint_callback = property(lambda self: next(iter(self.checkpoint_callbacks), None))
    early_stopping_callback = property(lambda self: next(iter(self.early_stopping_callbacks), None))
    progress_bar_callback = property(lambda self: next(iter(self._callbacks_named("ProgressBar")), None))


def _fast_dev_run(value):
    return True if value == 1 else value


def _one_or_list(loaders: Any):
    if not loaders:
        return None
    return loaders[0] if len(loaders) == 1 else list(loaders)


def _eval_loaders(trainer, fn: str):
    s = trainer._session
    if s is None or s.fn != fn:
        return None
    return _one_or_list(s.feed.eval_loaders)


def _eval_counts(trainer, fn: str) -> list:
    s = trainer._session
    if s is None or s.fn != fn:
        return []
    return list(s.feed.eval_limits)
