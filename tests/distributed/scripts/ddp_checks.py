"""Started plainly with strategy "ddp" on 2 processes (CPU/gloo, or --accelerator gpu for CUDA/nccl):
collectives, DDP gradients, samplers.

Each rank writes rank<global_rank>.json with what it measured; the tests compare.
"""
import time
from collections import namedtuple

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset

from common import parse, write
from user_strategy import RecordingDDP
from statetrainer.data.distributed import distributed_sampler_for, set_sampler_epoch
from statetrainer.strategies import resolve_strategy
from statetrainer.strategies.collectives import sync

Pair = namedtuple("Pair", "left right")


class Regressor(torch.nn.Module):
    def __init__(self, automatic=True, device="cpu"):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(3, 1).to(device)
        self.automatic_optimization = automatic

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)


def data(device):
    gen = torch.Generator().manual_seed(1)
    return torch.randn(8, 3, generator=gen).to(device), torch.randn(8, 1, generator=gen).to(device)


def collectives(strategy, rank, dev):
    x = torch.tensor([rank + 1.0, 10.0 * (rank + 1)], device=dev)
    out = {op: strategy.reduce(x, reduce_op=op).tolist() for op in ("mean", "sum", "max", "min")}
    out["input_unchanged"] = x.tolist() == [rank + 1.0, 10.0 * (rank + 1)]
    out["int_mean"] = strategy.reduce(torch.tensor(rank + 1, device=dev), reduce_op="mean").item()
    group = dist.new_group([0, 1])
    out["sync_group_sum"] = sync(torch.tensor(float(rank + 1), device=dev), reduce_op="sum", group=group).item()
    out["sync_default"] = sync(torch.tensor(float(rank), device=dev), reduce_op="mean").item()
    t = lambda value: torch.tensor(value, device=dev)  # noqa: E731
    nested = strategy.all_gather({"a": t([rank]), "b": [t(rank * 2.0), (t([[rank]]),)], "n": 3.0,
                                  "p": Pair(t(rank), torch.ones(2, device=dev) * rank)})
    out["gather"] = {"a": nested["a"].tolist(), "b0": nested["b"][0].tolist(), "b1": nested["b"][1][0].tolist(),
                     "n": nested["n"].tolist(), "pair": type(nested["p"]).__name__,
                     "p": [nested["p"].left.tolist(), nested["p"].right.tolist()]}
    return out


def gradients_through_gather(strategy, rank, dev):
    w = torch.tensor(rank + 1.0, requires_grad=True, device=dev)
    gathered = strategy.all_gather(w * torch.tensor([1.0, 2.0], device=dev), sync_grads=True)
    ((rank + 1) * gathered).sum().backward()
    plain = strategy.all_gather(w * torch.tensor([1.0, 2.0], device=dev))
    return {"grad": w.grad.item(), "shape": list(gathered.shape), "plain_requires_grad": plain.requires_grad}


def objects_and_decisions(strategy, rank):
    out = {"broadcast": strategy.broadcast({"from": rank, "items": [rank] * 3}, src=1)}
    out["all_of_rank0_only"] = strategy.reduce_boolean_decision(rank == 0, all=True)
    out["any_of_rank0_only"] = strategy.reduce_boolean_decision(rank == 0, all=False)
    out["all_of_true"] = strategy.reduce_boolean_decision(True, all=True)
    strategy.barrier("before-wait")
    if rank == 1:
        time.sleep(1.5)
    started = time.monotonic()
    strategy.barrier("wait")
    out["barrier_wait_s"] = time.monotonic() - started
    return out


def one_ddp_step(strategy, rank, dev):
    x, y = data(dev)
    model = Regressor(device=dev)
    reference = Regressor(device=dev)
    wrapped = strategy.wrap(model)
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.1)
    loss = strategy.run_training_step(model, (x[rank * 4:(rank + 1) * 4], y[rank * 4:(rank + 1) * 4]), 0)
    loss.backward()
    optimizer.step()
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    reference.training_step((x, y), 0).backward()
    ref_opt.step()
    return {"weights": [p.detach().flatten().tolist() for p in model.parameters()],
            "reference": [p.detach().flatten().tolist() for p in reference.parameters()],
            "configured": strategy.configured, "unwrapped_is_model": strategy.unwrap(wrapped) is model}


def accumulation_with_no_sync(strategy, rank, dev):
    x, y = data(dev)
    model = Regressor(device=dev)
    wrapped = strategy.wrap(model)
    micro = [(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)]  # rank r gets micro[2r], micro[2r+1]
    with strategy.no_sync():
        strategy.run_training_step(model, micro[2 * rank], 0).backward()
    after_first = model.layer.weight.grad.clone()
    strategy.run_training_step(model, micro[2 * rank + 1], 1).backward()
    local, total = Regressor(device=dev), Regressor(device=dev)
    local.training_step(micro[2 * rank], 0).backward()
    for batch in micro:
        total.training_step(batch, 0).backward()
    return {"first_is_local": torch.allclose(after_first, local.layer.weight.grad),
            "final": model.layer.weight.grad.flatten().tolist(),
            "expected": (total.layer.weight.grad / 2).flatten().tolist(), "wrapped_type": type(wrapped).__name__}


def manual_optimization(strategy, rank, dev):
    x, y = data(dev)
    model = Regressor(automatic=False, device=dev)
    strategy.wrap(model)
    loss = strategy.run_training_step(model, (x[rank * 4:(rank + 1) * 4], y[rank * 4:(rank + 1) * 4]), 0)
    strategy.pre_backward(loss, automatic_optimization=False)
    loss.backward()
    reference = Regressor(device=dev)
    reference.training_step((x, y), 0).backward()
    return {"grad": model.layer.weight.grad.flatten().tolist(),
            "expected": reference.layer.weight.grad.flatten().tolist()}


def samplers(strategy, rank):
    dataset = TensorDataset(torch.arange(10))
    loader = DataLoader(dataset, batch_size=2, shuffle=True)
    split = distributed_sampler_for(loader, **strategy.distributed_sampler_kwargs)
    epochs = []
    for epoch in range(2):
        set_sampler_epoch(split, epoch)
        epochs.append([int(v) for (batch,) in split for v in batch])
    return {"epochs": epochs, "kwargs": strategy.distributed_sampler_kwargs}


def main():
    args = parse()
    _, strategy = resolve_strategy(RecordingDDP(), accelerator=args.accelerator, devices=args.devices)

    def run():
        strategy.setup_environment()
        rank, dev = strategy.global_rank, strategy.root_device
        result = {"ranks": [strategy.global_rank, strategy.local_rank, strategy.node_rank, strategy.world_size],
                  "backend": dist.get_backend(), "children": len(strategy.launcher.procs), "device": str(dev),
                  "collectives": collectives(strategy, rank, dev),
                  "gather_grads": gradients_through_gather(strategy, rank, dev),
                  "objects": objects_and_decisions(strategy, rank), "ddp": one_ddp_step(strategy, rank, dev),
                  "no_sync": accumulation_with_no_sync(strategy, rank, dev),
                  "manual": manual_optimization(strategy, rank, dev), "samplers": samplers(strategy, rank)}
        strategy.teardown()
        result["initialized_after_teardown"] = dist.is_initialized()
        strategy.on_exception(RuntimeError("leaving"))
        result["initialized_after_on_exception"] = dist.is_initialized()
        write(args.out, f"rank{rank}", result)

    strategy.launcher.launch(run)


if __name__ == "__main__":
    main()
