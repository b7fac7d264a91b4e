"""While on_exception and teardown run after a failure, the stage is the one that failed (as Lightning)."""
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st


class _Seen(st.Callback):
    def __init__(self):
        self.seen = []

    def on_exception(self, trainer, pl_module, exception):
        self.seen.append(("on_exception", trainer.state.stage, trainer.state.current, trainer.state.status))

    def teardown(self, trainer, pl_module, stage):
        self.seen.append(("teardown", trainer.state.stage, trainer.state.current, trainer.state.status))


class _Fails(st.StateModule):
    def __init__(self, where):
        super().__init__()
        self.layer, self.where = torch.nn.Linear(4, 2), where

    def training_step(self, batch, batch_idx):
        if self.where == "train" and batch_idx == 1:
            raise RuntimeError("boom in training_step")
        return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        if self.where == "validate":
            raise RuntimeError("boom in validation_step")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("where, stage", [("train", "train"), ("validate", "sanity_check")])
def test_stage_during_failure_hooks_is_the_failing_stage(where, stage):
    data = DataLoader(TensorDataset(torch.randn(16, 4), torch.randn(16, 2)), batch_size=4)
    seen = _Seen()
    trainer = st.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[seen])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(_Fails(where), data, data)
    assert seen.seen == [("on_exception", stage, "failed", "interrupted"), ("teardown", stage, "failed", "interrupted")]
    assert (trainer.state.stage, trainer.state.current) == (None, "failed")
    step = "training_step" if where == "train" else "validation_step"
    assert trainer.state.stop_reason.startswith(f"failed with RuntimeError: boom in {step} at epoch 0")
