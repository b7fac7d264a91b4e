"""resolve_strategy: the strategy, devices and num_nodes flags (with the cluster environment) -> a strategy."""
import os

import pytest
import torch

from statetrainer.errors import MisconfigurationError
from statetrainer.plugins import LightningEnvironment
from statetrainer.strategies import DDPStrategy, SingleDeviceStrategy, resolve_strategy
from statetrainer.strategies.launchers import MultiProcessingLauncher, SubprocessScriptLauncher

_VARIABLES = ("SLURM_", "TORCHELASTIC_", "MASTER_", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in list(os.environ):
        if name.startswith(_VARIABLES):
            monkeypatch.delenv(name)


def describe(strategy):
    """What Lightning and statetrainer must agree on for a built strategy."""
    return {"type": type(strategy).__name__, "processes": getattr(strategy, "num_processes", 1),
            "nodes": getattr(strategy, "num_nodes", 1), "world": strategy.world_size, "rank": strategy.global_rank,
            "start": getattr(strategy, "_start_method", None),
            "unused": getattr(strategy, "_ddp_kwargs", {}).get("find_unused_parameters", False),
            "sampler": getattr(strategy, "distributed_sampler_kwargs", None), "device": str(strategy.root_device)}


@pytest.mark.parametrize("flags, node_rank", [
    (dict(strategy="auto", devices=1), None), (dict(strategy="auto", devices=2), None),
    (dict(strategy="ddp", devices=3), None), (dict(strategy="ddp_spawn", devices="2"), None),
    (dict(strategy="ddp_fork", devices=2), None), (dict(strategy="ddp_notebook", devices=2), None),
    (dict(strategy="ddp_find_unused_parameters_true", devices=2), None),
    (dict(strategy="ddp_spawn_find_unused_parameters_false", devices=2), None),
    (dict(strategy="auto", devices=2, num_nodes=2), "1"), (dict(strategy="ddp", devices=1, num_nodes=3), "2"),
])
def test_the_same_strategy_as_lightning(monkeypatch, flags, node_rank):
    lightning = pytest.importorskip("lightning.pytorch")
    # Lightning's DDP strategy writes the global rank into two module globals; keep later tests at rank 0
    from lightning.pytorch.utilities.rank_zero import rank_zero_only
    from lightning_utilities.core.rank_zero import rank_zero_only as utils_rank_zero_only
    for holder in (rank_zero_only, utils_rank_zero_only):
        monkeypatch.setattr(holder, "rank", getattr(holder, "rank", 0))
    if node_rank is not None:
        monkeypatch.setenv("NODE_RANK", node_rank)
    theirs = lightning.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                               enable_model_summary=False, enable_checkpointing=False, **flags).strategy
    _, ours = resolve_strategy(flags["strategy"], accelerator="cpu", devices=flags["devices"],
                               num_nodes=flags.get("num_nodes", 1))
    expected = describe(theirs)
    if expected["type"] == "SingleDeviceStrategy":
        expected.update(start=None, sampler=None)  # Lightning's single-device strategy has neither
    assert describe(ours) == expected


def test_ddp_comes_with_devices_environment_and_launcher():
    accel, strategy = resolve_strategy("ddp", accelerator="cpu", devices="0,1")
    assert isinstance(strategy, DDPStrategy) and strategy.accelerator is accel
    assert strategy.parallel_devices == [torch.device("cpu")] * 2
    assert isinstance(strategy.cluster_environment, LightningEnvironment)
    assert isinstance(strategy.launcher, SubprocessScriptLauncher) and strategy.launcher.num_processes == 2
    _, spawned = resolve_strategy("ddp_spawn", accelerator="cpu", devices=2)
    assert isinstance(spawned.launcher, MultiProcessingLauncher) and spawned.launcher.start_method == "spawn"
    _, single = resolve_strategy("auto", accelerator="cpu", devices=1)
    assert isinstance(single, SingleDeviceStrategy) and single.launcher is None


def test_a_user_strategy_instance_is_kept_and_completed():
    class Mine(DDPStrategy):
        pass

    mine = Mine(find_unused_parameters=True, static_graph=True, bucket_cap_mb=5)
    _, strategy = resolve_strategy(mine, accelerator="cpu", devices=2, num_nodes=1)
    assert strategy is mine and strategy.num_processes == 2 and strategy.launcher is not None
    assert strategy.ddp_kwargs == {"find_unused_parameters": True, "static_graph": True,
                                   "gradient_as_bucket_view": False, "bucket_cap_mb": 5}
    plugin = LightningEnvironment()
    _, other = resolve_strategy(DDPStrategy(cluster_environment=plugin), accelerator="cpu", devices=2)
    assert other.cluster_environment is plugin


@pytest.mark.parametrize("kwargs, message", [
    (dict(strategy="fsdp"), r"^`strategy` got 'fsdp'; accepted: 'auto', 'single_device', 'ddp', 'ddp_spawn', "),
    (dict(strategy=3), r"^`strategy` got 3; accepted: "),
    (dict(num_nodes=0), r"^`num_nodes` got 0; accepted: an int >= 1\.$"),
    (dict(num_nodes="2"), r"^`num_nodes` got '2'; accepted: an int >= 1\.$"),
    (dict(num_nodes=True), r"^`num_nodes` got True; accepted"),
    (dict(devices="many"), r"^`devices` got 'many'; accepted: "),
    (dict(devices=0), r"^`devices` got 0; accepted: "),
    (dict(strategy="single_device", devices=2), r"^`strategy` got 'single_device' with 2 devices and num_nodes=1; "
                                                r"accepted: devices=1, num_nodes=1, or strategy='ddp'\.$"),
])
def test_bad_values_name_their_flag(kwargs, message):
    with pytest.raises(MisconfigurationError, match=message):
        resolve_strategy(**{"accelerator": "cpu", **kwargs})


def test_bad_ddp_arguments_name_their_argument():
    with pytest.raises(MisconfigurationError, match=r"^`start_method` got 'thread'; accepted: 'popen', 'spawn', "):
        DDPStrategy(start_method="thread")
    with pytest.raises(MisconfigurationError, match=r"^`timeout` got 30; accepted: a datetime.timedelta or None"):
        DDPStrategy(timeout=30)


def test_fork_is_refused_where_it_cannot_work(monkeypatch):
    import torch.multiprocessing as mp
    monkeypatch.setattr(mp, "get_all_start_methods", lambda: ["spawn"])
    with pytest.raises(MisconfigurationError, match=r"^`strategy` asks for processes started by 'fork', which this "
                                                    r"platform does not offer; accepted here: start methods spawn"):
        resolve_strategy("ddp_notebook", accelerator="cpu", devices=2)
    monkeypatch.undo()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(MisconfigurationError, match=r"forked processes, but CUDA is already initialised in this "
                                                    r"process"):
        resolve_strategy("ddp_fork", accelerator="cpu", devices=2)


def test_under_torchrun_auto_devices_follow_the_launcher_and_wrong_ones_are_refused(monkeypatch):
    for name, value in {"TORCHELASTIC_RUN_ID": "r", "WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1",
                        "GROUP_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    _, strategy = resolve_strategy("ddp", accelerator="cpu", devices="auto", num_nodes=2)
    assert (strategy.num_processes, strategy.global_rank, strategy.local_rank, strategy.node_rank) == (2, 3, 1, 1)
    assert strategy.distributed_sampler_kwargs == {"num_replicas": 4, "rank": 3} and strategy.launcher is not None
    with pytest.raises(MisconfigurationError, match=r"^`devices`=3 times `num_nodes`=2 is 6, but torchrun started 4"):
        resolve_strategy("ddp", accelerator="cpu", devices=3, num_nodes=2)


def test_the_single_device_strategy_answers_as_one_process():
    _, strategy = resolve_strategy("auto", accelerator="cpu", devices=1)
    module = torch.nn.Linear(2, 1)
    module.training_step = lambda batch, idx: ("called", batch, idx)
    assert (strategy.global_rank, strategy.local_rank, strategy.node_rank, strategy.world_size) == (0, 0, 0, 1)
    assert strategy.is_global_zero and strategy.distributed_sampler_kwargs is None
    assert strategy.wrap(module) is module and strategy.unwrap(module) is module
    assert strategy.run_training_step(module, "b", 3) == ("called", "b", 3)
    tensor = torch.tensor([1.0, 2.0])
    assert strategy.reduce(tensor, reduce_op="sum") is tensor and strategy.all_gather(tensor) is tensor
    assert strategy.broadcast({"a": 1}) == {"a": 1} and strategy.reduce_boolean_decision(False) is False
    with strategy.no_sync():
        strategy.barrier("nothing to wait for")


def test_a_detected_environment_without_its_process_count_trains_on_one_device(monkeypatch, tmp_path):
    # a SLURM allocation seen without SLURM_NTASKS (partial variables, or a patched detect as in
    # Lightning's own tests): auto devices on the CPU stay one, as in Lightning, instead of a KeyError
    from unittest import mock

    import statetrainer as st
    from statetrainer.plugins.environments.slurm import SLURMEnvironment
    from tests.checkpoint.helpers import QUIET, Net, loaders
    with mock.patch.object(SLURMEnvironment, "detect", return_value=True):
        trainer = st.Trainer(default_root_dir=str(tmp_path), max_epochs=1, **QUIET)
        assert isinstance(trainer.strategy, SingleDeviceStrategy) and trainer.num_devices == 1
        trainer.fit(Net(), *loaders())
    assert trainer.state.status == "finished" and trainer.global_step == 10
