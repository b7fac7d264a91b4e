"""Two processes started plainly with strategy 'ddp' (the script re-runs itself for local rank 1).

One run of scripts/ddp_checks.py per accelerator (CPU/gloo; CUDA/nccl where two GPUs exist); each
test reads what both ranks measured.
"""
import pytest
import torch

from tests.distributed.runner import results, run_script

pytestmark = [pytest.mark.ddp, pytest.mark.slow]  # each starts processes: seconds each

_TWO_GPUS = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="CUDA/nccl checks need two GPUs")


@pytest.fixture(scope="module", params=["cpu", pytest.param("gpu", marks=_TWO_GPUS)])
def ranks(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"ddp_checks_{request.param}")
    finished = run_script("ddp_checks.py", folder, "--devices", "2", "--accelerator", request.param)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return results(folder, "rank0", "rank1")


def test_plain_start_relaunches_the_script_for_local_rank_1(ranks):
    assert [r["ranks"] for r in ranks] == [[0, 0, 0, 2], [1, 1, 0, 2]]  # global, local, node, world
    assert [r["children"] for r in ranks] == [1, 0]  # only rank 0 started a process
    devices = [r["device"] for r in ranks]
    assert [r["backend"] for r in ranks] == (["gloo"] * 2 if devices == ["cpu"] * 2 else ["nccl"] * 2)
    assert devices in (["cpu", "cpu"], ["cuda:0", "cuda:1"])
    assert [r["initialized_after_teardown"] for r in ranks] == [True, True]  # kept for the next trainer call
    assert [r["initialized_after_on_exception"] for r in ranks] == [False, False]


def test_reduce_ops_and_the_metric_sync_function(ranks):
    for r in ranks:
        c = r["collectives"]
        assert (c["mean"], c["sum"], c["max"], c["min"]) == ([1.5, 15.0], [3.0, 30.0], [2.0, 20.0], [1.0, 10.0])
        assert c["input_unchanged"] and c["int_mean"] == 1.5
        assert c["sync_group_sum"] == 3.0 and c["sync_default"] == 0.5


def test_all_gather_of_a_nested_collection(ranks):
    for r in ranks:
        g = r["collectives"]["gather"]
        assert g["a"] == [[0], [1]] and g["b0"] == [0.0, 2.0] and g["b1"] == [[[0]], [[1]]]
        assert g["n"] == [3.0, 3.0]  # a Python number becomes a tensor first
        assert g["pair"] == "Pair" and g["p"] == [[0, 1], [[0.0, 0.0], [1.0, 1.0]]]


def test_all_gather_with_sync_grads_sends_gradients_back_to_every_rank(ranks):
    # rank k's loss is (k+1) * sum(gathered); gathered holds w_r * [1, 2] from every rank r, so the
    # gradient of the total loss for each w_r is (1 + 2) * (1 + 2) = 9
    for r in ranks:
        assert r["gather_grads"] == {"grad": 9.0, "shape": [2, 2], "plain_requires_grad": False}


def test_broadcast_barrier_and_boolean_decisions(ranks):
    for r in ranks:
        o = r["objects"]
        assert o["broadcast"] == {"from": 1, "items": [1, 1, 1]}
        assert (o["all_of_rank0_only"], o["any_of_rank0_only"], o["all_of_true"]) == (False, True, True)
    assert ranks[0]["objects"]["barrier_wait_s"] > 0.5  # rank 0 waited for rank 1's 1.5 s sleep


def test_ddp_step_equals_one_process_on_the_whole_batch(ranks):
    for r in ranks:
        assert r["ddp"]["configured"] == 1 and r["ddp"]["unwrapped_is_model"]  # the user's configure_ddp ran
        flat = [v for p in r["ddp"]["weights"] for v in p]
        assert flat == pytest.approx([v for p in r["ddp"]["reference"] for v in p], rel=1e-6)
    assert ranks[0]["ddp"]["weights"] == ranks[1]["ddp"]["weights"]


def test_no_sync_keeps_accumulation_local_until_the_last_backward(ranks):
    for r in ranks:
        assert r["no_sync"]["first_is_local"]
        assert r["no_sync"]["final"] == pytest.approx(r["no_sync"]["expected"], rel=1e-5)


def test_manual_optimization_backward_is_synchronised(ranks):
    for r in ranks:
        assert r["manual"]["grad"] == pytest.approx(r["manual"]["expected"], rel=1e-5)


def test_the_strategy_sampler_kwargs_split_the_data(ranks):
    assert [r["samplers"]["kwargs"] for r in ranks] == [{"num_replicas": 2, "rank": 0}, {"num_replicas": 2, "rank": 1}]
    for epoch in range(2):
        seen = ranks[0]["samplers"]["epochs"][epoch] + ranks[1]["samplers"]["epochs"][epoch]
        assert sorted(seen) == list(range(10))  # disjoint and complete
    assert ranks[0]["samplers"]["epochs"][0] != ranks[0]["samplers"]["epochs"][1]  # set_epoch reshuffled
