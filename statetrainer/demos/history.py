"""A callback that remembers the validation loss after every validation run."""

from __future__ import annotations

import statetrainer as st


class ValidationLossHistory(st.Callback):
    """Appends ``trainer.callback_metrics[monitor]`` to ``values`` after each validation run.

    Sanity-check runs are skipped: they see only a couple of batches. Runs started by
    ``trainer.validate`` are recorded as well as those inside ``fit``.
    """

    def __init__(self, monitor: str = "val_loss") -> None:
        super().__init__()
        self.monitor = monitor
        self.values: list[float] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None:
            self.values.append(float(value))
