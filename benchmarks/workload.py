"""The one workload every contender trains: data, model, optimizer settings.

A fixed random classification set (32 features, 10 classes), an MLP 32-64-10, SGD, batch 32, fed
either through a torch DataLoader or as batches cut beforehand (see `loaders`).
Every contender gets the same tensors, the same seeded initial weights and the same shuffle
order, so their final losses must agree (run.py checks it): a contender that skipped work
would show up there, not as a faster time.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

FEATURES, HIDDEN, CLASSES = 32, 64, 10
BATCH = 32
STEPS = 1000            # timed training steps = batches in the timed epoch
VAL_BATCHES = 100       # one validation pass over these after the epoch
WARMUP_STEPS = 50       # untimed steps before the timed run
LR = 0.05
DATA_SEED, INIT_SEED, SHUFFLE_SEED = 1234, 0, 7


def _tensors(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, FEATURES, generator=g)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    return x, y


class Batches:
    """Pre-collated batches: an iterable with a length, costing nothing per batch beyond a list step."""

    def __init__(self, batches: list):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def _prebatched(x: torch.Tensor, y: torch.Tensor, shuffle: bool) -> Batches:
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SHUFFLE_SEED)) if shuffle else None
    x, y = (x[order], y[order]) if shuffle else (x, y)
    return Batches([(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x), BATCH)])


def loaders(steps: int = STEPS, val_batches: int = VAL_BATCHES, data: str = "loader"):
    """(train data with exactly `steps` batches, shuffled with a fixed seed; validation data).

    data="loader": torch DataLoaders over TensorDatasets (per-sample indexing and collation each batch);
    data="tensors": the same samples cut into batches once, beforehand (`Batches`), so a batch costs
    only the model, the optimizer and the loop around them.
    """
    x, y = _tensors((steps + val_batches) * BATCH, DATA_SEED)
    n = steps * BATCH
    if data == "tensors":
        return _prebatched(x[:n], y[:n], True), _prebatched(x[n:], y[n:], False)
    train = DataLoader(TensorDataset(x[:n], y[:n]), batch_size=BATCH, shuffle=True,
                       generator=torch.Generator().manual_seed(SHUFFLE_SEED))
    val = DataLoader(TensorDataset(x[n:], y[n:]), batch_size=BATCH, shuffle=False)
    return train, val


def make_net() -> nn.Sequential:
    """The MLP 32-64-10 with seeded initial weights (identical for every contender)."""
    torch.manual_seed(INIT_SEED)
    return nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))


def make_optimizer(params) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=LR)


def checksum(net: nn.Module) -> float:
    """A number that changes when any weight does: the sum of all parameters."""
    with torch.no_grad():
        return float(sum(p.double().sum() for p in net.parameters()))
