"""The pieces that need no second process: hand-back record, sync batchnorm, collectives without a group,
and a DDPStrategy of one process set up and torn down in this one."""
import os
import pickle

import pytest
import torch
import torch.distributed as dist

from statetrainer.errors import MisconfigurationError
from statetrainer.strategies import resolve_strategy
from statetrainer.strategies.collectives import all_gather, reduce_decision, sync
from statetrainer.strategies.launchers import HandBack
from statetrainer.strategies.sync_batchnorm import convert_sync_batchnorm, revert_sync_batchnorm


def test_hand_back_carries_weights_in_a_file_and_the_rest_by_value(tmp_path):
    trained = torch.nn.Linear(3, 2)
    back = HandBack.collect(trained, {"val_loss": torch.tensor(0.25)}, best_model_path=tmp_path / "best.ckpt",
                            result=[{"acc": torch.tensor([1.0])}])
    copy = pickle.loads(pickle.dumps(back))  # what crosses the queue: a plain pickle
    fresh = torch.nn.Linear(3, 2)
    copy.restore_weights(fresh)
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), trained.parameters()))
    assert not os.path.exists(copy.weights_path)  # the temporary file is gone once restored
    assert copy.callback_metrics == {"val_loss": torch.tensor(0.25)} and copy.best_model_path == str(tmp_path / "best.ckpt")
    assert torch.equal(copy.result[0]["acc"], torch.tensor([1.0]))
    assert HandBack.collect(None).weights_path is None


def test_sync_batchnorm_is_refused_on_the_cpu_and_converts_for_gpus():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    with pytest.raises(MisconfigurationError, match=r"^`sync_batchnorm` got True for a model running on 'cpu', where "
                                                    r"torch's SyncBatchNorm cannot run; accepted: "):
        convert_sync_batchnorm(model)
    model[1].running_mean.fill_(0.5)
    converted = convert_sync_batchnorm(model, device="cuda")  # conversion itself needs no GPU
    assert isinstance(converted[1], torch.nn.SyncBatchNorm) and converted[1].running_mean.tolist() == [0.5] * 3
    reverted = revert_sync_batchnorm(converted)
    assert not isinstance(reverted[1], torch.nn.SyncBatchNorm) and reverted[1].running_mean.tolist() == [0.5] * 3
    assert reverted(torch.randn(4, 2)).shape == (4, 3)


def test_collectives_without_a_process_group_are_the_identity():
    tensor = torch.tensor([1.0, 2.0])
    assert sync(tensor, reduce_op="max") is tensor and sync(3.0) == 3.0
    gathered = all_gather({"n": 2, "t": tensor})
    assert torch.equal(gathered["n"], torch.tensor(2)) and gathered["t"] is tensor
    assert reduce_decision(True) is True and reduce_decision(False, all=False) is False


def test_a_one_process_ddp_run_sets_up_wraps_reduces_and_tears_down(monkeypatch):
    for name in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "TORCHELASTIC_RUN_ID",
                 "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    _, strategy = resolve_strategy("ddp", accelerator="cpu", devices=1)
    model = torch.nn.Linear(2, 1)
    with pytest.raises(MisconfigurationError, match=r"^DDPStrategy.wrap got a module before the process group "
                                                    r"exists; accepted: call setup_environment\(\) in every rank"):
        strategy.wrap(model)
    strategy.setup_environment()
    try:
        assert dist.is_initialized() and dist.get_backend() == "gloo" and dist.get_world_size() == 1
        wrapped = strategy.wrap(model)
        assert isinstance(wrapped, torch.nn.parallel.DistributedDataParallel) and strategy.model is wrapped
        assert strategy.unwrap(wrapped) is model
        with pytest.raises(MisconfigurationError, match=r"^`reduce_op` got 'median'; accepted: 'mean'"):
            strategy.reduce(torch.tensor(1.0), reduce_op="median")
        assert strategy.reduce(torch.tensor(4.0), reduce_op="mean").item() == 4.0
    finally:
        strategy.teardown()
    assert not dist.is_initialized() and strategy.model is None
