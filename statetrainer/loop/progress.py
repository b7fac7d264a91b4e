"""Loop counters: plain numbers the guards read and checkpoints store."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

__all__ = ["Progress"]


@dataclass
class Progress:
    """Where the loops are. `epoch` is `trainer.current_epoch` (completed epochs); `epochs_processed`
    counts epochs whose end was reached (Lightning's epoch_progress.processed)."""

    epoch: int = 0
    epochs_processed: int = 0
    global_step: int = 0
    batch_idx: int = -1           # index of the current training batch in its epoch
    batches_seen: int = 0         # training batches fetched this epoch
    total_batch_idx: int = -1     # training batches across epochs, minus one
    is_last_batch: bool = False
    epoch_skipped: bool = False   # on_train_batch_start returned -1
    resume_skip: int = 0          # batches to skip at the start of the next epoch (resume mid-epoch)

    def start_epoch(self) -> None:
        self.batch_idx = -1
        self.batches_seen = 0
        self.is_last_batch = False
        self.epoch_skipped = False

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        names = {f.name for f in fields(self)}
        for key, value in state.items():
            if key in names:
                setattr(self, key, value)
