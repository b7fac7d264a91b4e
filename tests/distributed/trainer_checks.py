"""What every Trainer run of scripts/trainer_run.py must show, whoever started its two processes."""
from __future__ import annotations

import pytest
import torch

SAMPLES, FEATURES = 16, 3


def dataset() -> tuple[torch.Tensor, torch.Tensor]:
    """The training data of trainer_run.py (Indexed(16, seed=1))."""
    gen = torch.Generator().manual_seed(1)
    return torch.randn(SAMPLES, FEATURES, generator=gen), torch.randn(SAMPLES, 1, generator=gen)


def one_process_weights(ranks: list[dict], accumulate: int = 1) -> list[float]:
    """SGD(lr=0.1) in one process, each step on the union of the ranks' batches of that step.

    Every rank's batch has 4 samples and the loss is a mean, so the mean of the ranks' gradients
    (what DDP applies) is the gradient of the whole 8-sample batch: the weights must match. With
    `accumulate` batches per step (every epoch here has a multiple of it), a step's batch is the
    union of all of them."""
    x, y = dataset()
    initial = torch.tensor(ranks[0]["initial"])
    weight, bias = initial[:FEATURES].reshape(1, FEATURES).clone(), initial[FEATURES:].clone()
    for first in range(0, len(ranks[0]["seen"]), accumulate):
        index = torch.tensor([i for r in ranks for _, batch in r["seen"][first:first + accumulate] for i in batch])
        weight.requires_grad_(True)
        bias.requires_grad_(True)
        loss = torch.nn.functional.mse_loss(x[index] @ weight.T + bias, y[index])
        grad_w, grad_b = torch.autograd.grad(loss, (weight, bias))
        weight, bias = (weight - 0.1 * grad_w).detach(), (bias - 0.1 * grad_b).detach()
    return [*weight.flatten().tolist(), *bias.tolist()]


def check_training(ranks: list[dict], world: int = 2, accumulate: int = 1) -> None:
    """Same weights on every rank, equal to one process on the whole batches; disjoint shares that change per
    epoch; sync_dist values; all_gather and broadcast; only rank 0 wrote checkpoints."""
    assert [r["ranks"][0] for r in ranks] == list(range(world)) and {r["ranks"][3] for r in ranks} == {world}
    assert [r["module_ranks"] for r in ranks] == [r["ranks"][:2] for r in ranks]
    assert [r["is_global_zero"] for r in ranks] == [True] + [False] * (world - 1)
    assert {r["strategy"] for r in ranks} <= {"DDPStrategy", "RecordingDDP"} and len({r["strategy"] for r in ranks}) == 1
    assert all(r["weights"] == ranks[0]["weights"] for r in ranks)
    assert ranks[0]["weights"] == pytest.approx(one_process_weights(ranks, accumulate), rel=1e-5, abs=1e-6)
    steps = 4 // accumulate  # 16 samples / (4 x 2 ranks) = 2 batches an epoch, 2 epochs
    assert [r["estimated_stepping_batches"] for r in ranks] == [steps] * world
    assert [r["global_step"] for r in ranks] == [steps] * world
    epochs = [[i for r in ranks for e, batch in r["seen"] if e == epoch for i in batch] for epoch in (0, 1)]
    assert [sorted(indices) for indices in epochs] == [list(range(SAMPLES))] * 2  # disjoint, complete
    assert epochs[0] != epochs[1]  # set_epoch reshuffled
    for r in ranks:
        metrics = r["metrics"]
        assert (metrics["rank_mean"], metrics["rank_sum"], metrics["rank_max"], metrics["rank_min"]) == (
            1.5, 6.0, 2.0, 1.0)  # 2 steps per epoch: the sum is 2 x (1 + 2)
        assert metrics["loss"] == ranks[0]["metrics"]["loss"] and metrics["val_loss"] == ranks[0]["metrics"]["val_loss"]
        assert r["gathered"] == [[[[0], [1]], [0.0, 2.0]]] * 2 and r["broadcast"] == {"from": 1}
    assert [r["saves"] for r in ranks] == [2 * steps] + [0] * (world - 1)  # each step: its file and last.ckpt
