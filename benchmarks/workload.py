"""The workloads every contender trains: data, model, optimizer settings.

A fixed random classification set (10 classes) and an MLP trained with SGD, in two sizes
(`MODELS`): "tiny" (32-64-10, batch 32: the framework's own cost dominates) and "medium"
(256-512-512-10, batch 128: about ten times the tiny step, roughly 1 ms of arithmetic on one
quiet core). Data is fed either through a torch DataLoader or as batches cut beforehand
(see `loaders`). Every contender gets the same tensors, the same seeded initial weights and the
same shuffle order, so every contender must end with exactly the hand loop's weights (run.py
checks `digest`): a contender that skipped or repeated work would show up there, not as a time.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@dataclass(frozen=True)
class Model:
    """An MLP's layer widths (input, hidden..., classes) and its batch size."""
    widths: tuple[int, ...]
    batch: int

    def describe(self) -> str:
        return f"MLP {'-'.join(map(str, self.widths))}, batch {self.batch}"


MODELS = {"tiny": Model((32, 64, 10), 32), "medium": Model((256, 512, 512, 10), 128)}
STEPS = 1000            # timed training steps = batches in the timed epoch (the long run)
SHORT_STEPS = 100       # the short run: (long - short) separates the per-step from the per-fit cost
VAL_BATCHES = 100       # one validation pass over these after the epoch
WARMUP_STEPS = 50       # untimed steps before the timed runs
LR = 0.05
DATA_SEED, INIT_SEED, SHUFFLE_SEED = 1234, 0, 7


def _tensors(n: int, model: Model, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, model.widths[0], generator=g)
    y = torch.randint(0, model.widths[-1], (n,), generator=g)
    return x, y


class Batches:
    """Pre-collated batches: an iterable with a length, costing nothing per batch beyond a list step."""

    def __init__(self, batches: list):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def _prebatched(x: torch.Tensor, y: torch.Tensor, batch: int, shuffle: bool) -> Batches:
    if shuffle:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SHUFFLE_SEED))
        x, y = x[order], y[order]
    return Batches([(x[i:i + batch], y[i:i + batch]) for i in range(0, len(x), batch)])


def loaders(steps: int = STEPS, val_batches: int = VAL_BATCHES, data: str = "loader", model: str = "tiny"):
    """(train data with exactly `steps` batches, shuffled with a fixed seed; validation data).

    data="loader": torch DataLoaders over TensorDatasets (per-sample indexing and collation each batch);
    data="tensors": the same samples cut into batches once, beforehand (`Batches`), so a batch costs
    only the model, the optimizer and the loop around them.
    """
    spec = MODELS[model]
    x, y = _tensors((steps + val_batches) * spec.batch, spec, DATA_SEED)
    n = steps * spec.batch
    if data == "tensors":
        return _prebatched(x[:n], y[:n], spec.batch, True), _prebatched(x[n:], y[n:], spec.batch, False)
    train = DataLoader(TensorDataset(x[:n], y[:n]), batch_size=spec.batch, shuffle=True,
                       generator=torch.Generator().manual_seed(SHUFFLE_SEED))
    val = DataLoader(TensorDataset(x[n:], y[n:]), batch_size=spec.batch, shuffle=False)
    return train, val


def make_net(model: str = "tiny") -> nn.Sequential:
    """The MLP of `model` with seeded initial weights (identical for every contender)."""
    widths = MODELS[model].widths
    torch.manual_seed(INIT_SEED)
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def make_optimizer(params) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=LR)


def digest(net: nn.Module) -> str:
    """A fingerprint of every weight bit: equal only when all parameters are exactly equal."""
    h = hashlib.sha256()
    with torch.no_grad():
        for p in net.parameters():
            h.update(p.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
