"""Each way the processes of a run come to exist: torchrun (one and two "nodes"), SLURM, a user plugin, spawn, fork.

Every address is 127.0.0.1; every command runs under a hard limit that kills its process group.
"""
import sys

import pytest
import torch.multiprocessing as mp

from tests.distributed.runner import HARD_LIMIT_S, SCRIPTS, Started, clean_env, free_port, results, run_script

pytestmark = [pytest.mark.ddp, pytest.mark.slow]  # each starts processes: seconds each

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def test_torchrun_starts_the_processes_and_the_strategy_starts_none(tmp_path):
    port = free_port()
    finished = run_script("ranks.py", tmp_path, "--devices", "2", python=[
        *TORCHRUN, "--nproc_per_node=2", "--master_addr=127.0.0.1", f"--master_port={port}", "--monitor_interval=0.2"])
    assert finished.returncode == 0, finished.stderr[-3000:]
    ranks = results(tmp_path, "rank0", "rank1")
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 1, 0, 2]]
    assert {r["environment"] for r in ranks} == {"TorchElasticEnvironment"}
    assert [r["children"] for r in ranks] == [0, 0]
    assert [r["address"] for r in ranks] == [["127.0.0.1", port]] * 2
    assert [r["sum"] for r in ranks] == [3.0, 3.0] and [r["gathered"] for r in ranks] == [[0, 1], [0, 1]]


def test_two_nodes_on_one_machine_with_two_torchrun_invocations(tmp_path):
    port = free_port()
    nodes = [Started([*TORCHRUN, "--nnodes=2", f"--node_rank={node}", "--nproc_per_node=1",
                      "--master_addr=127.0.0.1", f"--master_port={port}", "--monitor_interval=0.2",
                      str(SCRIPTS / "ranks.py"), "--out", str(tmp_path), "--devices", "1", "--num-nodes", "2"],
                     tmp_path, clean_env(), name=f"node{node}") for node in (0, 1)]
    try:
        finished = [node.wait(HARD_LIMIT_S) for node in nodes]
    finally:
        for node in nodes:
            node.close()
    assert [f.returncode for f in finished] == [0, 0], finished[0].stderr[-2000:] + finished[1].stderr[-2000:]
    ranks = results(tmp_path, "rank0", "rank1")
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 0, 1, 2]]  # global, local, node, world
    assert [r["sampler"] for r in ranks] == [{"num_replicas": 2, "rank": 0}, {"num_replicas": 2, "rank": 1}]
    assert [r["sum"] for r in ranks] == [3.0, 3.0]


def _start_two(tmp_path, variables):
    """Start ranks.py twice ourselves, as a scheduler would, with per-rank variables."""
    started = [Started([sys.executable, str(SCRIPTS / "ranks.py"), "--out", str(tmp_path), *variables["args"]],
                       tmp_path, clean_env(**variables["common"], **variables["rank"](rank)), name=f"rank{rank}")
               for rank in (0, 1)]
    try:
        finished = [s.wait(HARD_LIMIT_S) for s in started]
    finally:
        for s in started:
            s.close()
    assert [f.returncode for f in finished] == [0, 0], finished[0].stderr[-2000:] + finished[1].stderr[-2000:]
    return results(tmp_path, "rank0", "rank1")


def test_a_simulated_slurm_allocation(tmp_path):
    port = free_port(15000, 25000)
    job_id = str(1230000 + port - 15000)  # SLURMEnvironment's port: 15000 + the job id's last four digits
    ranks = _start_two(tmp_path, {
        "args": ["--devices", "2"],
        "common": {"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1", "SLURM_JOB_ID": job_id,
                   "SLURM_JOB_NAME": "train", "SLURM_NODELIST": "127.0.0.[1,7-9]", "SLURM_NODEID": "0"},
        "rank": lambda r: {"SLURM_PROCID": str(r), "SLURM_LOCALID": str(r)}})
    assert {r["environment"] for r in ranks} == {"SLURMEnvironment"}
    assert [r["address"] for r in ranks] == [["127.0.0.1", port]] * 2  # first host of the expanded node list
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 1, 0, 2]]
    assert [r["children"] for r in ranks] == [0, 0] and [r["sum"] for r in ranks] == [3.0, 3.0]


def test_a_user_cluster_environment_plugin(tmp_path):
    port = free_port()
    ranks = _start_two(tmp_path, {
        "args": ["--devices", "2", "--env", "custom"],
        "common": {"JOB_SIZE": "2", "JOB_HOST": "127.0.0.1", "JOB_PORT": str(port)},
        "rank": lambda r: {"JOB_RANK": str(r)}})
    assert {r["environment"] for r in ranks} == {"JobEnvironment"}
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 1, 0, 2]]
    assert [r["gathered"] for r in ranks] == [[0, 1], [0, 1]]


@pytest.mark.parametrize("strategy", ["ddp_spawn", pytest.param("ddp_fork", marks=pytest.mark.skipif(
    "fork" not in mp.get_all_start_methods(), reason="this platform cannot fork"))])
def test_spawned_ranks_hand_weights_metrics_and_best_path_back(tmp_path, strategy):
    finished = run_script("handback.py", tmp_path, "--strategy", strategy, "--mode", "handback")
    assert finished.returncode == 0, finished.stderr[-3000:]
    (main,) = results(tmp_path, "main")
    assert main["type"] == "HandBack" and main["unchanged_before_restore"] and main["moved"]
    assert main["matches_single_process"]  # 3 DDP steps on halves == 3 steps on the whole batch
    assert main["metrics"]["steps"] == ["Tensor", 3] and main["metrics"]["train_loss"][0] == "Tensor"
    assert main["best"] == "/ckpts/best-rank0.ckpt"  # rank 0's view
    assert main["result"]["rank"] == 0 and main["result"]["pid"] != main["main_pid"]
    assert not main["weights_file_left"]
