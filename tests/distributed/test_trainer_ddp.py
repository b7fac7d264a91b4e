"""Trainer(strategy="ddp", accelerator="cpu", devices=2) started plainly: the script re-runs itself for local
rank 1. One uninterrupted run (with dropout: every rank draws its own random masks) is checked in several
ways and is the reference of the kill-and-resume test; a stop requested on one rank; a failing rank.
"""
import time

import pytest
import torch

from tests.distributed.runner import HARD_LIMIT_S, results, run_script
from tests.distributed.trainer_checks import SAMPLES

pytestmark = [pytest.mark.ddp, pytest.mark.slow]  # each starts processes: seconds each

WITHIN_S = 20  # "seconds, not the 30-minute collective timeout"; generous for a loaded 2-core machine


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp_plain")
    finished = run_script("trainer_run.py", folder, "--dropout", "0.5")
    assert finished.returncode == 0, finished.stderr[-3000:]
    return folder, results(folder, "rank0", "rank1", "after0", "after1")


def test_plain_start_trains_both_ranks_to_the_same_weights(uninterrupted):
    _, (rank0, rank1, after0, after1) = uninterrupted
    assert [rank0["ranks"], rank1["ranks"]] == [[0, 0, 0, 2], [1, 1, 0, 2]]  # global, local, node, world
    assert [rank0["children"], rank1["children"]] == [1, 0]  # rank 0 started rank 1
    assert [rank0["num_devices"], rank0["environment"]] == [2, "LightningEnvironment"]
    assert after0["weights"] == after1["weights"] == rank0["weights"] and after0["finished"] and after1["finished"]
    assert rank0["global_step"] == rank1["global_step"] == 4
    epochs = [[i for r in (rank0, rank1) for e, batch in r["seen"] if e == epoch for i in batch] for epoch in (0, 1)]
    assert [sorted(indices) for indices in epochs] == [list(range(SAMPLES))] * 2 and epochs[0] != epochs[1]
    assert [rank0["metrics"]["rank_sum"], rank1["metrics"]["rank_max"]] == [6.0, 2.0]
    assert rank0["gathered"] == rank1["gathered"] == [[[[0], [1]], [0.0, 2.0]]] * 2


def test_predict_and_validate_after_fit_reuse_the_processes(uninterrupted):
    _, (rank0, _, after0, after1) = uninterrupted
    assert sorted(after0["predicted"] + after1["predicted"]) == list(range(9))  # unpadded, disjoint shares
    assert [len(after0["predicted"]), len(after1["predicted"])] == [5, 4]  # uneven: 2 batches and 1 batch
    assert after0["validated"] == after1["validated"] == [{"val_loss": rank0["metrics"]["val_loss"]}]


def test_only_rank_0_writes_and_data_is_prepared_once(uninterrupted):
    folder, (rank0, rank1, _, _) = uninterrupted
    assert [rank0["saves"], rank1["saves"]] == [8, 0]
    assert sorted(p.name for p in (folder / "ckpts").iterdir()) == ["epoch=1-step=4.ckpt", "last.ckpt"]
    assert [p.name for p in (folder / "lightning_logs").iterdir()] == ["version_0"]  # rank 1 made no folder
    rows = (folder / "lightning_logs" / "version_0" / "metrics.csv").read_text().splitlines()  # fit's 4, validate's
    assert rows[0].startswith("epoch,") and len(rows) == 6 and sum(row.startswith("epoch") for row in rows) == 1
    assert len(list(folder.glob("prepared-*"))) == 1  # prepare_data on local rank 0 only


def test_a_killed_rank_ends_the_run_and_the_resume_is_exact(uninterrupted, tmp_path):
    _, (_, _, reference, _) = uninterrupted
    killed = run_script("trainer_run.py", tmp_path, "--dropout", "0.5", "--fault", "kill", "--at", "3")
    (dying, exception0) = results(tmp_path, "dying1", "exception0")
    assert killed.returncode != 0 and exception0["at"] - dying["at"] < WITHIN_S
    assert "local rank 1 (pid" in killed.stderr and "exited with code -9" in killed.stderr
    last = torch.load(tmp_path / "ckpts" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 3 and len(last["loops"]["ranks"]) == 2  # readable, with both ranks' state
    resumed = run_script("trainer_run.py", tmp_path, "--dropout", "0.5", "--resume", "1")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after0, after1 = results(tmp_path, "after0", "after1")
    assert "Restored from" in resumed.stdout + resumed.stderr
    assert after0["weights"] == after1["weights"] == reference["weights"]  # bit for bit


def test_an_exception_on_one_rank_ends_every_rank(tmp_path):
    started = time.time()
    finished = run_script("trainer_run.py", tmp_path, "--fault", "raise", "--at", "2", limit_s=HARD_LIMIT_S)
    dying, exception0, exception1 = results(tmp_path, "dying1", "exception0", "exception1")
    assert finished.returncode == 1 and time.time() - dying["at"] < WITHIN_S, finished.stderr[-3000:]
    assert exception1["type"] == "RuntimeError" and exception0["type"] in ("RuntimeError", "DistBackendError")
    assert "RuntimeError: boom on rank 1" in finished.stderr  # rank 1's traceback reaches the launching stderr
    assert "local rank 1 (pid" in finished.stderr and dying["at"] > started


def test_a_stop_requested_on_one_rank_stops_every_rank_at_the_same_batch(tmp_path):
    # ddp_fork: the same loop as "ddp", started faster; rank 1 alone returns -1 (epoch 0, batch 1), then
    # alone sets should_stop (epoch 1, batch 0): without agreement rank 0 would wait in a collective
    finished = run_script("trainer_run.py", tmp_path, "--strategy", "ddp_fork", "--stop", "1")
    assert finished.returncode == 0, finished.stderr[-3000:]
    rank0, rank1, after0 = results(tmp_path, "rank0", "rank1", "after0")
    for r in (rank0, rank1):
        assert [e for e, _ in r["seen"]] == [0, 1] and (r["global_step"], r["epoch"]) == (2, 2)
    assert rank0["stop_reason"].startswith("stop requested (trainer.should_stop was set to True on rank 1); granted")
    assert after0["global_step"] == 2 and after0["finished"] and after0["stop_reason"] == rank0["stop_reason"]


def test_sigterm_on_one_rank_stops_every_rank_gracefully_at_the_same_point(tmp_path):
    # rank 1 alone gets SIGTERM as its second batch starts; both ranks stop after that batch
    finished = run_script("trainer_run.py", tmp_path, "--strategy", "ddp_fork", "--fault", "term", "--at", "1")
    assert finished.returncode == 0, finished.stderr[-3000:]
    rank0, rank1, exception0, exception1, main = results(tmp_path, "rank0", "rank1", "exception0", "exception1",
                                                         "after0")
    assert rank0["global_step"] == rank1["global_step"] == 2 and main["interrupted"] and main["global_step"] == 2
    assert exception1["type"] == "SignalInterrupt" and exception0["type"] == "KeyboardInterrupt"
    last = torch.load(tmp_path / "ckpts" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 2 and len(last["loops"]["ranks"]) == 2  # written together by both ranks


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="the CUDA/nccl Trainer run needs two GPUs")
def test_plain_start_on_two_gpus_uses_nccl_and_matches_one_process(tmp_path):
    from tests.distributed.trainer_checks import check_training
    finished = run_script("trainer_run.py", tmp_path, "--accelerator", "gpu")
    assert finished.returncode == 0, finished.stderr[-3000:]
    ranks = results(tmp_path, "rank0", "rank1")
    check_training(ranks)
    assert [r["device"] for r in ranks] == ["cuda:0", "cuda:1"]
