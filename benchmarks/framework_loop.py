"""The same workload as a StateModule under statetrainer and as a LightningModule under Lightning.

One module definition, built on either base class, so the two frameworks run identical user code.
Two configurations per framework:

- "bare": every extra off (no logger, no checkpointing, no progress bar, no model summary,
  no sanity check) -- what the trainer itself costs per batch.
- "defaults": the Trainer's defaults (TensorBoard logger, checkpoint at epoch end, model summary,
  two sanity-check batches) with only the progress bar off, and the module calling
  `self.log("train_loss", loss, prog_bar=True)` every step. Logs and checkpoints go to a temp dir.
"""
from __future__ import annotations

import time

import torch.nn.functional as F

from workload import make_net, make_optimizer

BARE = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, num_sanity_val_steps=0)
DEFAULTS = dict(enable_progress_bar=False)
COMMON = dict(max_epochs=1, accelerator="cpu", devices=1)


def module_class(base: type, log_loss: bool, stamps: list | None = None, model: str = "tiny") -> type:
    """The benchmark module on `base` (st.StateModule or lightning.LightningModule), training `model`.

    `stamps`: a list to which on_train_batch_start appends perf_counter() (micro.py's per-batch
    timing); without it the module overrides no hook at all.
    """

    class Bench(base):
        def __init__(self):
            super().__init__()
            self.net = make_net(model)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            if log_loss:
                self.log("train_loss", loss, prog_bar=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return make_optimizer(self.parameters())

    if stamps is not None:
        Bench.on_train_batch_start = lambda self, batch, batch_idx: stamps.append(time.perf_counter())
    Bench.__name__ = Bench.__qualname__ = f"Bench{base.__name__}"
    return Bench


def framework(name: str) -> tuple[type, type]:
    """(module base class, Trainer class) of "statetrainer" or "lightning"."""
    if name == "statetrainer":
        import statetrainer as st
        return st.StateModule, st.Trainer
    import lightning as L
    return L.LightningModule, L.Trainer


def trainer_flags(config: str, root_dir: str) -> dict:
    extra = BARE if config == "bare" else DEFAULTS
    return {**COMMON, **extra, "default_root_dir": root_dir}
