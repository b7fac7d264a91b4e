"""What a training batch costs in statetrainer's own Python calls — counted, not timed (sys.setprofile counts
the calls whose code lives in the package; the count is the same on a busy machine). Guards the per-run
plan (loop/batch_plan.py): a run with nothing listening pays only for the loop itself, and what a run
does not need is decided once, not per batch. docs/benchmarks.md has the timings."""
from __future__ import annotations

import gc
import os
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st

PACKAGE = os.path.dirname(st.__file__)
BARE = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            num_sanity_val_steps=0, max_epochs=1)


class Small(st.StateModule):
    def __init__(self, log: bool = False):
        super().__init__()
        self.layer, self.log_loss = torch.nn.Linear(4, 2), log

    def training_step(self, batch, batch_idx):
        loss = torch.nn.functional.cross_entropy(self.layer(batch[0]), batch[1])
        if self.log_loss:
            self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _calls_per_batch(log: bool = False, **flags) -> float:
    def fit(batches: int) -> int:
        data = TensorDataset(torch.randn(batches * 2, 4), torch.randint(0, 2, (batches * 2,)))
        trainer = st.Trainer(**{**BARE, **flags})
        count = [0]

        def profile(frame, event, arg):
            if event == "call" and frame.f_code.co_filename.startswith(PACKAGE):
                count[0] += 1
        gc.collect()  # what earlier tests left (finalizers, weak receivers) is not collected inside the count
        gc.disable()
        sys.setprofile(profile)
        try:
            trainer.fit(Small(log), DataLoader(data, batch_size=2))
        finally:
            sys.setprofile(None)
            gc.enable()
        return count[0]
    fit(5)
    return (fit(45) - fit(15)) / 30


def test_a_bare_training_batch_costs_about_twenty_own_calls():
    assert _calls_per_batch() <= 20


def test_logging_every_step_adds_a_handful_of_calls():
    assert _calls_per_batch(log=True) <= _calls_per_batch() + 8


def test_a_listener_inside_the_optimization_takes_the_full_path():
    def receiver(sender, loss):
        return None
    st.signals.on_before_backward.connect(receiver, weak=False)
    try:
        listened = _calls_per_batch()
    finally:
        st.signals.on_before_backward.disconnect(receiver)
    assert listened > _calls_per_batch() + 10  # the plain body is left for the one with every hook


class _GradReader(Small):
    """Records, in training_step, whether the previous batch's gradients are still there (Lightning's order:
    training_step runs before zero_grad)."""

    def __init__(self):
        super().__init__()
        self.seen: list[bool] = []

    def training_step(self, batch, batch_idx):
        self.seen.append(self.layer.weight.grad is not None)
        return super().training_step(batch, batch_idx)


def _fit(module, batches: int = 4, **flags):
    data = TensorDataset(torch.randn(batches * 2, 4), torch.randint(0, 2, (batches * 2,)))
    st.Trainer(**{**BARE, **flags}).fit(module, DataLoader(data, batch_size=2))
    return module


def test_the_plain_body_clears_gradients_after_training_step_as_lightning():
    module = _fit(_GradReader())
    assert module.seen == [False, True, True, True]
    assert module.layer.weight.grad is not None  # the last step's gradients stay, as after optimizer.step


def test_an_optimizer_with_its_own_zero_grad_has_it_called():
    calls = []

    class CountingSGD(torch.optim.SGD):
        def zero_grad(self, set_to_none: bool = True):
            calls.append(set_to_none)
            super().zero_grad(set_to_none)

    class Module(Small):
        def configure_optimizers(self):
            return CountingSGD(self.parameters(), lr=0.1)

    _fit(Module(), batches=3)
    assert calls == [True, True, True]


def test_a_running_torch_profiler_sees_the_optimizers_zero_grad():
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        _fit(Small(), batches=3)
    names = [event.name for event in prof.events()]
    assert names.count("Optimizer.zero_grad#SGD.zero_grad") == 3
