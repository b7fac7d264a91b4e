"""Tiny: the smallest StateModule the integration tests of callbacks and profilers train."""
import torch

import statetrainer as st


class Tiny(st.StateModule):
    """Linear 2 -> 1 on batches of one tensor; logs `val_name` in validation (on the bar if asked)."""

    def __init__(self, val_name: str = "val", prog_bar: bool = False):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.val_name, self.prog_bar = val_name, prog_bar

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log(self.val_name, self.layer(batch[0]).mean(), prog_bar=self.prog_bar)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
