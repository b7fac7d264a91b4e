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


def validate(net, val_loader) -> float:
    net.eval()
    total, batches = 0.0, 0
    with torch.no_grad():
        for x, y in val_loader:
            total += F.cross_entropy(net(x), y).item()
            batches += 1
    net.train()
    return total / batches
