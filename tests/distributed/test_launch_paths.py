"""The Trainer through each way its processes come to exist: torchrun (one and two "nodes"), SLURM, a user
ClusterEnvironment plugin, ddp_spawn. Every run trains two ranks and is checked against one process on the
same data (tests/distributed/trainer_checks.py); the plain start is in test_trainer_ddp.py.

Every address is 127.0.0.1; every command runs under a hard limit that kills its process group.
"""
import sys

import pytest

from tests.distributed.runner import HARD_LIMIT_S, SCRIPTS, Started, clean_env, free_port, results, run_script
from tests.distributed.trainer_checks import check_training

pytestmark = [pytest.mark.ddp, pytest.mark.slow]  # each starts processes: seconds each

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def _wait_all(started: list) -> None:
    try:
        finished = [s.wait(HARD_LIMIT_S) for s in started]
    finally:
        for s in started:
            s.close()
    assert [f.returncode for f in finished] == [0] * len(started), "".join(f.stderr[-2000:] for f in finished)


def test_torchrun_starts_the_processes_and_the_strategy_starts_none(tmp_path):
    port = free_port()
    finished = run_script("trainer_run.py", tmp_path, "--devices", "2", python=[
        *TORCHRUN, "--nproc_per_node=2", "--master_addr=127.0.0.1", f"--master_port={port}", "--monitor_interval=0.2"])
    assert finished.returncode == 0, finished.stderr[-3000:]
    ranks = results(tmp_path, "rank0", "rank1")
    check_training(ranks)
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 1, 0, 2]]
    assert {r["environment"] for r in ranks} == {"TorchElasticEnvironment"} and [r["children"] for r in ranks] == [0, 0]


def test_two_nodes_on_one_machine_with_two_torchrun_invocations_and_accumulation(tmp_path):
    port = free_port()
    _wait_all([Started([*TORCHRUN, "--nnodes=2", f"--node_rank={node}", "--nproc_per_node=1",
                        "--master_addr=127.0.0.1", f"--master_port={port}", "--monitor_interval=0.2",
                        str(SCRIPTS / "trainer_run.py"), "--out", str(tmp_path), "--devices", "1", "--num-nodes", "2",
                        "--accumulate", "2"], tmp_path, clean_env(), name=f"node{node}") for node in (0, 1)])
    ranks = results(tmp_path, "rank0", "rank1")
    check_training(ranks, accumulate=2)  # the batch that does not step keeps its gradients local (no_sync)
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 0, 1, 2]]  # global, local, node, world
    assert [r["num_devices"] for r in ranks] == [1, 1]
    assert len(list(tmp_path.glob("prepared-*"))) == 2  # local rank 0 of each node prepares the data


def _start_two(tmp_path, args: list[str], common: dict, per_rank) -> list[dict]:
    """Start trainer_run.py twice ourselves, as a scheduler would, with per-rank variables."""
    _wait_all([Started([sys.executable, str(SCRIPTS / "trainer_run.py"), "--out", str(tmp_path), *args], tmp_path,
                       clean_env(**common, **per_rank(rank)), name=f"rank{rank}") for rank in (0, 1)])
    return results(tmp_path, "rank0", "rank1")


def test_a_simulated_slurm_allocation_with_a_ddp_strategy_subclass(tmp_path):
    port = free_port(15000, 25000)
    job_id = str(1230000 + port - 15000)  # SLURMEnvironment's port: 15000 + the job id's last four digits
    ranks = _start_two(tmp_path, ["--devices", "2", "--strategy", "subclass"], {
        "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1", "SLURM_JOB_ID": job_id,
        "SLURM_JOB_NAME": "train", "SLURM_NODELIST": "127.0.0.[1,7-9]", "SLURM_NODEID": "0"},
        lambda r: {"SLURM_PROCID": str(r), "SLURM_LOCALID": str(r)})
    check_training(ranks)
    assert {r["environment"] for r in ranks} == {"SLURMEnvironment"} and [r["children"] for r in ranks] == [0, 0]
    assert [r["configured"] for r in ranks] == [1, 1]  # a DDPStrategy subclass: its configure_ddp wrapped the model
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 1, 0, 2]]


def test_a_user_cluster_environment_plugin_with_manual_optimization(tmp_path):
    ranks = _start_two(tmp_path, ["--devices", "2", "--env", "custom", "--manual", "1"],
                       {"JOB_SIZE": "2", "JOB_HOST": "127.0.0.1", "JOB_PORT": str(free_port())},
                       lambda r: {"JOB_RANK": str(r)})
    check_training(ranks)
    assert {r["environment"] for r in ranks} == {"JobEnvironment"}


def test_ddp_spawn_hands_weights_metrics_and_checkpoint_paths_back(tmp_path):
    finished = run_script("trainer_run.py", tmp_path, "--strategy", "ddp_spawn")
    assert finished.returncode == 0, finished.stderr[-3000:]
    ranks = results(tmp_path, "rank0", "rank1")
    check_training(ranks)
    (main,) = results(tmp_path, "after0")  # written by the launching process once fit returned
    assert not (tmp_path / "after1.json").exists()
    assert main["weights"] == ranks[0]["weights"] and main["finished"] and main["global_step"] == 4
    assert main["metrics"] == sorted(ranks[0]["metrics"])
    assert main["best"] == str(tmp_path / "ckpts" / "epoch=1-step=4.ckpt")
    assert main["last"] == str(tmp_path / "ckpts" / "last.ckpt")
