"""The `plugins` flag: CheckpointIO and ClusterEnvironment instances, refused otherwise."""
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.plugins import CheckpointIO, LightningEnvironment, TorchCheckpointIO
from tests.tiny import Tiny


class _Recording(TorchCheckpointIO):
    def __init__(self):
        self.saved, self.loaded = [], []

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        self.saved.append((str(path), checkpoint["global_step"]))
        super().save_checkpoint(checkpoint, path)

    def load_checkpoint(self, path, map_location=None, weights_only=True):
        self.loaded.append(str(path))
        return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)


def test_checkpoint_io_plugin_writes_and_reads_every_checkpoint(tmp_path):
    plugin = _Recording()
    data = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)
    trainer = st.Trainer(max_epochs=2, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path, plugins=[plugin])
    trainer.fit(Tiny(), data)
    assert [step for _, step in plugin.saved] == [2, 4]  # ModelCheckpoint's end-of-epoch saves
    trainer.save_checkpoint(tmp_path / "manual.ckpt")
    assert plugin.saved[-1] == (str(tmp_path / "manual.ckpt"), 4)
    again = st.Trainer(max_epochs=3, logger=False, enable_progress_bar=False, enable_model_summary=False,
                       enable_checkpointing=False, plugins=plugin)
    again.fit(Tiny(), data, ckpt_path=tmp_path / "manual.ckpt")
    assert plugin.loaded == [str(tmp_path / "manual.ckpt")] and again.global_step == 6


def test_plugins_refuse_other_objects_and_a_cluster_environment_goes_to_the_strategy():
    with pytest.raises(MisconfigurationError, match=r"^`plugins` got \[1\]; accepted: None, or one or a list of "
                                                    r"CheckpointIO / ClusterEnvironment / Precision instances\.$"):
        st.Trainer(plugins=[1])
    environment = LightningEnvironment()
    trainer = st.Trainer(strategy="ddp", accelerator="cpu", devices=2, plugins=environment, logger=False)
    assert trainer.strategy.cluster_environment is environment and trainer.cluster_environment is environment
    assert (trainer.world_size, trainer.num_devices, trainer.global_rank) == (2, 2, 0)
    assert isinstance(st.Trainer(logger=False).cluster_environment, LightningEnvironment)  # one process: the default
    assert issubclass(TorchCheckpointIO, CheckpointIO)
