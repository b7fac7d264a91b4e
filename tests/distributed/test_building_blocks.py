"""The pieces that need no second process: hand-back record, sync batchnorm, collectives without a group,
and a DDPStrategy of one process set up and torn down in this one."""
import gc
import os
import pickle

import pytest
import torch
import torch.distributed as dist

from statetrainer.errors import MisconfigurationError
from statetrainer.strategies import DDPStrategy, resolve_strategy
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


def test_lightning_only_ddp_arguments_are_refused_by_name():
    with pytest.raises(MisconfigurationError, match=r"^`DDPStrategy` got `model_averaging_period`, which this "
                                                    r"version does not support"):
        DDPStrategy(model_averaging_period=4)


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
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
    calls = []

    def counting(hook):
        def counted(state, bucket):
            calls.append(bucket.index())
            return hook(state, bucket)
        return counted

    _, strategy = resolve_strategy(DDPStrategy(ddp_comm_hook=allreduce_hook, ddp_comm_wrapper=counting),
                                   accelerator="cpu", devices=1)
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
        wrapped(torch.ones(1, 2)).sum().backward()
        assert calls == [0]  # the user's communication hook ran (once, one bucket)
        del wrapped  # a DDP reducer freed after its process group is destroyed can wait forever in gloo
        gc.collect()
    finally:
        strategy.teardown()
        assert dist.is_initialized() and strategy.model is None  # the group stays for a next trainer call
        strategy.on_exception(KeyboardInterrupt())  # a graceful interrupt keeps it too
        assert dist.is_initialized()
        strategy.on_exception(RuntimeError("leaving"))
    assert not dist.is_initialized()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the nccl path needs a GPU")
def test_a_one_process_ddp_run_on_cuda_uses_nccl_and_sync_batchnorm(monkeypatch):
    for name in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "TORCHELASTIC_RUN_ID",
                 "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    _, strategy = resolve_strategy("ddp", accelerator="gpu", devices=1)
    strategy.setup_environment()
    try:
        assert dist.get_backend() == "nccl" and strategy.root_device == torch.device("cuda", 0)
        model = convert_sync_batchnorm(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)).cuda())
        wrapped = strategy.wrap(model)
        wrapped(torch.randn(4, 2, device="cuda")).sum().backward()
        assert model[0].weight.grad is not None
        assert strategy.reduce(torch.tensor(2.0, device="cuda"), reduce_op="sum").item() == 2.0
        assert strategy.all_gather(3)[0].item() == 3 and strategy.broadcast("x") == "x"
        assert strategy.reduce_boolean_decision(True) is True
        strategy.barrier()
    finally:
        strategy.teardown()
        strategy.on_exception(RuntimeError("leaving"))
