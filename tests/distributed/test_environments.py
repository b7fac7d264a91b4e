"""Cluster environments: ranks and rendezvous from torchrun, SLURM and plain variables; detection order."""
import os

import pytest

from statetrainer.errors import MisconfigurationError
from statetrainer.plugins import ClusterEnvironment, LightningEnvironment, SLURMEnvironment, TorchElasticEnvironment
from statetrainer.plugins.environments import detect_environment, expand_hostlist

_VARIABLES = ("SLURM_", "TORCHELASTIC_", "MASTER_", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    """No launcher variables from the outside, and every change undone (Lightning's classes write MASTER_*)."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(_VARIABLES):
            monkeypatch.delenv(name)
    yield
    os.environ.clear()
    os.environ.update(saved)


def slurm(monkeypatch, **extra):
    values = {"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "2", "SLURM_PROCID": "3",
              "SLURM_LOCALID": "1", "SLURM_NODEID": "1", "SLURM_JOB_ID": "4567891", "SLURM_JOB_NAME": "train",
              "SLURM_NODELIST": "gpu[007-008,010],cpu1", **extra}
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("hostlist, hosts", [
    ("node[001-003,007]", ["node001", "node002", "node003", "node007"]),
    ("a[1-2],b3,c[05-06]", ["a1", "a2", "b3", "c05", "c06"]),
    ("rack[1-2]-n[8-9]", ["rack1-n8", "rack1-n9", "rack2-n8", "rack2-n9"]),
    ("host0 host1", ["host0", "host1"]),
    ("solo", ["solo"]),
    ("n[9-11]", ["n9", "n10", "n11"]),
    ("", []),
])
def test_slurm_host_lists_expand(hostlist, hosts):
    assert expand_hostlist(hostlist) == hosts


def test_bad_host_lists_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"the host list 'n\[5-2\]' has a range '5-2' that is not 'low-high'"):
        expand_hostlist("n[5-2]")
    with pytest.raises(ValueError, match=r"unbalanced brackets in 'n\[1-2'"):
        expand_hostlist("n[1-2")


def test_slurm_ranks_address_and_port(monkeypatch):
    slurm(monkeypatch)
    env = SLURMEnvironment()
    assert SLURMEnvironment.detect() and env.creates_processes_externally
    assert (env.global_rank(), env.local_rank(), env.node_rank(), env.world_size()) == (3, 1, 1, 4)
    assert (env.main_address, env.main_port) == ("gpu007", 15000 + 7891)
    env.set_global_rank(0)  # the scheduler's ranks win
    assert env.global_rank() == 3 and SLURMEnvironment.job_id() == 4567891
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.5")
    monkeypatch.setenv("MASTER_PORT", "2222")
    assert (env.main_address, env.main_port) == ("10.0.0.5", 2222)
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.delenv("MASTER_PORT")
    assert env.main_port == 12910


def test_slurm_detection_skips_interactive_allocations(monkeypatch):
    slurm(monkeypatch, SLURM_JOB_NAME="bash")
    assert not SLURMEnvironment.detect() and SLURMEnvironment.job_id() is None
    assert isinstance(detect_environment(), LightningEnvironment)


def test_slurm_settings_must_match_the_flags(monkeypatch):
    slurm(monkeypatch)
    SLURMEnvironment().validate_settings(num_devices=2, num_nodes=2)
    with pytest.raises(MisconfigurationError, match=r"^`devices` got 4 but the SLURM job runs --ntasks-per-node=2; "
                                                    r"accepted: devices=2 \(one process per device\)\.$"):
        SLURMEnvironment().validate_settings(num_devices=4, num_nodes=2)
    with pytest.raises(MisconfigurationError, match=r"^`num_nodes` got 1 but the SLURM job has --nodes=2"):
        SLURMEnvironment().validate_settings(num_devices=2, num_nodes=1)


@pytest.mark.parametrize("extra", [{}, {"SLURM_NODELIST": "node[001-003,007]", "SLURM_JOB_ID": "12"},
                                   {"SLURM_NODELIST": "a,b", "MASTER_PORT": "3456"}])
def test_slurm_agrees_with_lightning(monkeypatch, extra):
    lightning_env = pytest.importorskip("lightning.fabric.plugins.environments")
    slurm(monkeypatch, **extra)
    ours, theirs = SLURMEnvironment(), lightning_env.SLURMEnvironment()
    for name in ("global_rank", "local_rank", "node_rank", "world_size"):
        assert getattr(ours, name)() == getattr(theirs, name)()
    assert (ours.main_address, ours.main_port) == (theirs.main_address, theirs.main_port)


def test_torchrun_variables(monkeypatch):
    for name, value in {"TORCHELASTIC_RUN_ID": "x", "RANK": "5", "LOCAL_RANK": "1", "GROUP_RANK": "2",
                        "WORLD_SIZE": "6", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "4321"}.items():
        monkeypatch.setenv(name, value)
    env = TorchElasticEnvironment()
    assert TorchElasticEnvironment.detect() and env.creates_processes_externally
    assert (env.global_rank(), env.local_rank(), env.node_rank(), env.world_size()) == (5, 1, 2, 6)
    assert (env.main_address, env.main_port) == ("127.0.0.1", 4321)
    env.validate_settings(num_devices=2, num_nodes=3)
    with pytest.raises(MisconfigurationError, match=r"^`devices`=2 times `num_nodes`=1 is 2, but torchrun started 6 "
                                                    r"processes in all; accepted: devices equal to --nproc_per_node"):
        env.validate_settings(num_devices=2, num_nodes=1)


def test_detection_order_is_torchrun_then_slurm_then_the_default(monkeypatch):
    assert type(detect_environment()) is LightningEnvironment
    slurm(monkeypatch)
    assert type(detect_environment()) is SLURMEnvironment
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "inside-slurm")
    assert type(detect_environment()) is TorchElasticEnvironment
    mine = LightningEnvironment()
    assert detect_environment(mine) is mine


def test_the_default_environment(monkeypatch):
    env = LightningEnvironment()
    assert not env.creates_processes_externally and env.main_address == "127.0.0.1"
    assert (env.global_rank(), env.local_rank(), env.node_rank(), env.world_size()) == (0, 0, 0, 1)
    port = env.main_port
    assert 0 < port < 65536 and env.main_port == port  # chosen once
    env.set_global_rank(3)
    env.set_world_size(4)
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("NODE_RANK", "1")
    assert env.creates_processes_externally
    assert (env.global_rank(), env.local_rank(), env.node_rank(), env.world_size()) == (3, 1, 1, 4)


def test_a_user_environment_only_needs_the_abstract_methods():
    class Fixed(ClusterEnvironment):
        main_address, main_port = "127.0.0.1", 1234

        def world_size(self):
            return 8

        def global_rank(self):
            return 6

        def local_rank(self):
            return 2

        def node_rank(self):
            return 1

    env = Fixed()
    env.set_global_rank(0)
    env.validate_settings(4, 2)
    env.teardown()
    assert (env.global_rank(), env.world_size(), env.creates_processes_externally, Fixed.detect()) == (6, 8, False, False)
    assert detect_environment(env) is env
