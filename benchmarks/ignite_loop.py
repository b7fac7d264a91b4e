"""The reference rows from PyTorch-Ignite: the same workload on an `ignite.engine.Engine`.

- "ignite": a bare `Engine` around a hand-written step (zero_grad, forward, cross_entropy,
  backward, step; the loss tensor is the step's output, no `.item()`), what a person writing an
  Ignite engine by hand pays for the engine and its events.
- "ignite-supervised": `create_supervised_trainer(net, optimizer, F.cross_entropy)` with its
  defaults (it calls `model.train()` and returns `loss.item()` every step).

Both run the hand loop's validation pass (`hand_loop.validate`) on `Events.EPOCH_COMPLETED`, the
way an Ignite user attaches one, and train one epoch, so they end with the hand loop's weights.
"""
from __future__ import annotations

import torch.nn.functional as F
from ignite.engine import Engine, Events, create_supervised_trainer

import hand_loop
from workload import make_optimizer


def _validate_at_epoch_end(engine: Engine, net, val_loader) -> None:
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda _: hand_loop.validate(net, val_loader))


def train_engine(net, train_loader, val_loader) -> None:
    """One epoch on a bare Engine with a hand-written step, then the validation pass."""
    optimizer = make_optimizer(net.parameters())
    net.train()

    def step(engine, batch):
        x, y = batch
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        return loss

    engine = Engine(step)
    _validate_at_epoch_end(engine, net, val_loader)
    engine.run(train_loader, max_epochs=1)


def train_supervised(net, train_loader, val_loader) -> None:
    """One epoch with `create_supervised_trainer`'s defaults, then the validation pass."""
    engine = create_supervised_trainer(net, make_optimizer(net.parameters()), F.cross_entropy)
    _validate_at_epoch_end(engine, net, val_loader)
    engine.run(train_loader, max_epochs=1)
