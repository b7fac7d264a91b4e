"""A recording DataModule: its hooks append ``DataModule.<hook>(...)`` lines to the shared trace."""
from __future__ import annotations

from .behaviours import PREDICT_SEED, TEST_SEED, TRAIN_SEED, VAL_SEED
from .harness import fmt_stage, format_call, make_loader


def make_datamodule_class(base: type) -> type:
    class RecordingDataModule(base):
        def __init__(self, recorder, n_train=4, n_eval=2, batch_size=2):
            super().__init__()
            self.recorder = recorder
            self.sizes = (n_train, n_eval, batch_size)

        def _rec(self, hook, **ids):
            self.recorder.add(format_call("DataModule", hook, ids))

        def prepare_data(self):
            self._rec("prepare_data")

        def setup(self, stage):
            self._rec("setup", stage=fmt_stage(stage))

        def teardown(self, stage):
            self._rec("teardown", stage=fmt_stage(stage))

        def train_dataloader(self):
            self._rec("train_dataloader")
            return make_loader(self.sizes[0], TRAIN_SEED, self.sizes[2])

        def val_dataloader(self):
            self._rec("val_dataloader")
            return make_loader(self.sizes[1], VAL_SEED, self.sizes[2])

        def test_dataloader(self):
            self._rec("test_dataloader")
            return make_loader(self.sizes[1], TEST_SEED, self.sizes[2])

        def predict_dataloader(self):
            self._rec("predict_dataloader")
            return make_loader(self.sizes[1], PREDICT_SEED, self.sizes[2])

        def on_before_batch_transfer(self, batch, dataloader_idx):
            self._rec("on_before_batch_transfer", dataloader_idx=dataloader_idx)
            return batch

        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            self._rec("transfer_batch_to_device", dataloader_idx=dataloader_idx)
            return super().transfer_batch_to_device(batch, device, dataloader_idx)

        def on_after_batch_transfer(self, batch, dataloader_idx):
            self._rec("on_after_batch_transfer", dataloader_idx=dataloader_idx)
            return batch

        def on_exception(self, exception):
            self._rec("on_exception", exception=type(exception).__name__)

        def state_dict(self):
            self._rec("state_dict")
            return {"sizes": list(self.sizes)}

        def load_state_dict(self, state_dict):
            self._rec("load_state_dict")

    return RecordingDataModule
