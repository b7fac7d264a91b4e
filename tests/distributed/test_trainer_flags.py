"""The Trainer's distributed flags in one process: what they build, what they refuse, and a Trainer that pickles
(ddp_spawn sends it to its workers). The runs themselves: test_trainer_ddp.py, test_launch_paths.py."""
import os
import pickle

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.strategies import DDPStrategy, SingleDeviceStrategy
from statetrainer.strategies.launchers import MultiProcessingLauncher, SubprocessScriptLauncher
from statetrainer.trainer.running import _data_split
from tests.tiny import Tiny

QUIET = dict(logger=False, enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
_VARIABLES = ("SLURM_", "TORCHELASTIC_", "MASTER_", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK",
              "PL_GLOBAL_SEED")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in list(os.environ):
        if name.startswith(_VARIABLES):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("strategy, launcher", [("ddp", SubprocessScriptLauncher), ("ddp_spawn", MultiProcessingLauncher),
                                                ("ddp_notebook", MultiProcessingLauncher), ("auto", SubprocessScriptLauncher)])
def test_two_cpu_devices_build_a_ddp_strategy_with_its_launcher(strategy, launcher):
    trainer = st.Trainer(strategy=strategy, accelerator="cpu", devices=2, **QUIET)
    assert isinstance(trainer.strategy, DDPStrategy) and isinstance(trainer.strategy.launcher, launcher)
    assert (trainer.world_size, trainer.num_devices, trainer.device_ids, trainer.num_nodes) == (2, 2, [0, 1], 1)
    assert (trainer.global_rank, trainer.local_rank, trainer.node_rank, trainer.is_global_zero) == (0, 0, 0, True)
    assert trainer.cluster_environment is trainer.strategy.cluster_environment
    assert _data_split(trainer) == {"num_replicas": 2, "rank": 0, "seed": 0}


def test_a_strategy_instance_is_completed_and_one_device_stays_single():
    mine = DDPStrategy(find_unused_parameters=True)
    trainer = st.Trainer(strategy=mine, accelerator="cpu", devices=2, num_nodes=1, **QUIET)
    assert trainer.strategy is mine and mine.ddp_kwargs["find_unused_parameters"] and mine.num_processes == 2
    single = st.Trainer(accelerator="cpu", devices=1, **QUIET)
    assert isinstance(single.strategy, SingleDeviceStrategy) and single.strategy.launcher is None
    assert (single.num_devices, single.world_size, _data_split(single)) == (1, 1, None)


def test_the_sampler_flag_and_its_old_name_turn_the_split_off(monkeypatch):
    for flags in (dict(use_distributed_sampler=False), dict(replace_sampler_ddp=False)):
        assert _data_split(st.Trainer(strategy="ddp", accelerator="cpu", devices=2, **flags, **QUIET)) is None
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")  # seed_everything's seed shuffles every rank alike
    assert _data_split(st.Trainer(strategy="ddp", accelerator="cpu", devices=2, **QUIET))["seed"] == 7


@pytest.mark.parametrize("flags, message", [
    (dict(devices=0), r"^`devices` got 0; accepted: 'auto', -1, an int >= 1 \(that many processes\)"),
    (dict(num_nodes=0), r"^`num_nodes` got 0; accepted: an int >= 1"),
    (dict(strategy="dp"), r"^`strategy` got 'dp'; accepted: 'auto', 'single_device', 'ddp', 'ddp_spawn'"),
    (dict(strategy="single_device", devices=2), r"^`strategy` got 'single_device' with 2 devices"),
    (dict(strategy="ddp", devices=2, sync_batchnorm=True),
     r"^`sync_batchnorm` got True for a model running on 'cpu', where torch's SyncBatchNorm cannot run"),
])
def test_bad_values_name_their_flag(flags, message):
    with pytest.raises(MisconfigurationError, match=message):
        st.Trainer(accelerator="cpu", **flags, **QUIET)


def test_sync_batchnorm_with_one_process_is_accepted_and_ignored():
    trainer = st.Trainer(accelerator="cpu", devices=1, sync_batchnorm=True, max_steps=1, **QUIET)
    model = Tiny()
    trainer.fit(model, DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=2))
    assert trainer.global_step == 1 and isinstance(model.layer, torch.nn.Linear)


def test_the_trainer_and_its_module_pickle_and_the_copy_trains():
    trainer = st.Trainer(max_steps=2, **QUIET)
    model = Tiny()
    loader = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=2)
    trainer.fit(model, loader)  # a used trainer (its last call's session is not sent)
    copy_trainer, copy_model = pickle.loads(pickle.dumps((trainer, model)))
    # a pickled module leaves its trainer behind (as Lightning's); the next call attaches it again
    assert copy_model._trainer is None and copy_trainer.global_step == 2 and copy_trainer.state.finished
    copy_trainer.fit(copy_model, loader)  # max_steps=2 already reached: fit ends at once, as in the original
    assert copy_trainer.global_step == 2 and copy_trainer.state.finished
    ddp = st.Trainer(strategy="ddp_spawn", accelerator="cpu", devices=2, **QUIET)
    assert isinstance(pickle.loads(pickle.dumps(ddp)).strategy.launcher, MultiProcessingLauncher)
