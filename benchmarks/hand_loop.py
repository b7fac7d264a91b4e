"""The reference: the minimal honest training loop a person would write by hand."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from workload import make_optimizer


def train(net, train_loader, val_loader) -> float:
    """One epoch of SGD (zero_grad, backward, step), then one validation pass; returns the mean val loss."""
    optimizer = make_optimizer(net.parameters())
    net.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
    return validate(net, val_loader)


def train_clearing(net, train_loader, val_loader) -> float:
    """The hand loop with the gradients cleared by `p.grad = None` instead of `optimizer.zero_grad()`: the same
    effect without the profiler range torch's zero_grad opens, as statetrainer's plain body clears them
    (decision 007). A reference row: what the framework costs over a loop that clears as cheaply."""
    optimizer = make_optimizer(net.parameters())
    params = [p for group in optimizer.param_groups for p in group["params"]]
    net.train()
    for x, y in train_loader:
        for p in params:
            p.grad = None
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
    return validate(net, val_loader)


def validate(net, val_loader) -> float:
    net.eval()
    total, batches = 0.0, 0
    with torch.no_grad():
        for x, y in val_loader:
            total += F.cross_entropy(net(x), y).item()
            batches += 1
    net.train()
    return total / batches
