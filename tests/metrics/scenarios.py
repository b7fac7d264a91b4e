"""The logging scenarios every runner (Lightning, replay, statetrainer) is compared on."""
from __future__ import annotations

import torch

from .scripted import LogCall, Scenario

# value formulas: distinct per epoch, batch and dataloader, so a wrong reduction shows
def by_batch(c):
    return 1.0 + c.batch + 10 * c.epoch + 100 * c.dl


def by_batch_tensor(c):
    return torch.tensor(0.5 * c.batch - c.epoch)


def by_epoch(c):
    return 3.0 + c.epoch


EVERYWHERE = ("on_sanity_check_start", "on_sanity_check_end", "on_train_start", "on_train_epoch_start",
              "on_train_batch_start", "on_train_batch_end", "on_train_epoch_end", "on_validation_start",
              "on_validation_epoch_start", "on_validation_batch_end", "on_validation_epoch_end",
              "on_validation_end", "on_train_end", "on_test_batch_end", "on_test_epoch_end", "on_test_end")

SCENARIOS = [
    Scenario(
        "defaults_fit_validate_test",
        [LogCall("training_step", "loss", by_batch, dict(on_step=True, on_epoch=True, prog_bar=True)),
         LogCall("training_step", "b", by_batch_tensor),
         LogCall("validation_step", "v", by_batch),
         LogCall("validation_step", "vs", by_batch, dict(on_step=True, prog_bar=True)),
         LogCall("test_step", "t", by_batch, dict(on_step=True, on_epoch=True))],
        snapshots=EVERYWHERE, runs=("fit", "validate", "test"), trainer=dict(log_every_n_steps=2)),
    Scenario(
        "reductions_and_batch_sizes",
        [LogCall("training_step", "sum", by_batch, dict(on_epoch=True, reduce_fx="sum")),
         LogCall("training_step", "max", by_batch, dict(on_epoch=True, reduce_fx=torch.max)),
         LogCall("training_step", "min", by_batch_tensor, dict(on_epoch=True, reduce_fx="min")),
         LogCall("training_step", "avg", by_batch, dict(on_epoch=True, reduce_fx="avg")),
         LogCall("training_step", "bs2", by_batch, dict(on_step=False, on_epoch=True, batch_size=2)),
         LogCall("training_step", "count", lambda c: torch.tensor(c.batch + 1), dict(on_epoch=True)),
         LogCall("training_step", "f64", lambda c: torch.tensor(c.batch / 3, dtype=torch.float64),
                 dict(on_epoch=True, prog_bar=True)),
         LogCall("training_step", "half", lambda c: torch.tensor(c.batch / 3, dtype=torch.float16),
                 dict(reduce_fx="max", on_epoch=True)),
         LogCall("validation_step", "vsum", by_batch, dict(reduce_fx="sum", prog_bar=True)),
         LogCall("validation_step", "vmax", by_batch, dict(reduce_fx="max", logger=False))],
        snapshots=("on_train_epoch_end", "on_validation_end", "on_train_batch_end"),
        train=(11, 4), val=((7, 3),), trainer=dict(log_every_n_steps=1)),
    Scenario(
        "epoch_level_hooks",
        [LogCall("on_train_start", "start", by_epoch),
         LogCall("on_train_epoch_start", "ep_start", by_epoch, dict(prog_bar=True)),
         LogCall("on_train_epoch_end", "ep_end", by_epoch, dict(logger=False, prog_bar=True)),
         LogCall("on_validation_start", "vstart", by_epoch),
         LogCall("on_validation_epoch_start", "vep_start", by_epoch),
         LogCall("on_validation_epoch_end", "vep_end", by_epoch, dict(prog_bar=True)),
         LogCall("on_train_batch_start", "tbs", by_batch),
         LogCall("on_train_batch_end", "tbe", by_batch, dict(on_epoch=True)),
         LogCall("on_validation_batch_end", "vbe", by_batch, dict(on_step=True)),
         LogCall("validation_step", "v", by_batch)],
        snapshots=EVERYWHERE, runs=("fit", "validate"), trainer=dict(log_every_n_steps=3, max_epochs=3)),
    Scenario(
        "two_val_dataloaders",
        [LogCall("training_step", "loss", by_batch),
         LogCall("validation_step", "v", by_batch, dict(prog_bar=True)),
         LogCall("validation_step", "vs", by_batch, dict(on_step=True, on_epoch=True)),
         LogCall("on_validation_epoch_end", "after", by_epoch),
         LogCall("on_validation_epoch_start", "before", by_epoch),
         LogCall("test_step", "t", by_batch),
         LogCall("on_test_epoch_end", "tend", by_epoch, dict(add_dataloader_idx=False))],
        snapshots=("on_validation_epoch_end", "on_validation_end", "on_validation_batch_end", "on_train_epoch_end",
                   "on_test_end"),
        val=((5, 2), (4, 3)), test=((3, 2), (4, 4)), runs=("fit", "validate", "test")),
    Scenario(
        "mid_epoch_validation_and_accumulation",
        [LogCall("training_step", "loss", by_batch, dict(on_step=True, on_epoch=True)),
         LogCall("on_before_backward", "bb", by_batch),
         LogCall("on_after_backward", "ab", by_batch, dict(on_epoch=True)),
         LogCall("on_before_optimizer_step", "opt", by_batch, dict(on_epoch=True, prog_bar=True)),
         LogCall("validation_step", "v", by_batch, dict(on_step=True))],
        snapshots=("on_train_batch_end", "on_validation_start", "on_validation_end", "on_train_epoch_end",
                   "on_validation_epoch_start"),
        train=(20, 2), val=((4, 2),),
        trainer=dict(val_check_interval=4, accumulate_grad_batches=3, log_every_n_steps=2, max_epochs=2)),
    Scenario(
        "metric_objects",
        [LogCall("training_step", "msum", "train_metric", dict(on_step=True, on_epoch=True, prog_bar=True)),
         LogCall("validation_step", "vmsum", "val_metric")],
        snapshots=("on_train_batch_end", "on_train_epoch_end", "on_validation_epoch_end", "on_validation_end"),
        metric_attributes=("train_metric", "val_metric"), runs=("fit", "validate")),
    Scenario(
        "log_dict_step_key_and_shared_names",
        [LogCall("training_step", "step", lambda c: float(100 + c.batch + 10 * c.epoch), as_dict=True),
         LogCall("training_step", "x", by_batch, dict(prog_bar=True), as_dict=True),
         LogCall("on_train_batch_end", "x", by_batch_tensor, dict(prog_bar=True)),
         LogCall("validation_step", "x", by_batch),
         LogCall("on_train_epoch_end", "x", by_epoch)],
        snapshots=("on_train_batch_end", "on_train_epoch_end", "on_validation_end", "on_validation_epoch_end"),
        trainer=dict(log_every_n_steps=1)),
    Scenario(
        "no_sanity_sparse_validation",
        [LogCall("training_step", "loss", by_batch, dict(on_step=True, on_epoch=True)),
         LogCall("validation_step", "v", by_batch, dict(on_step=True, on_epoch=True))],
        snapshots=("on_train_epoch_start", "on_validation_end", "on_train_end"),
        trainer=dict(num_sanity_val_steps=0, check_val_every_n_epoch=2, max_epochs=3, log_every_n_steps=50)),
    Scenario(
        "never_log_steps",
        [LogCall("training_step", "loss", by_batch, dict(on_step=True, on_epoch=True)),
         LogCall("validation_step", "v", by_batch, dict(on_step=True, on_epoch=True))],
        snapshots=("on_train_epoch_end",), trainer=dict(log_every_n_steps=0, limit_val_batches=1)),
]

SCENARIOS.append(Scenario(
    "stop_requested_mid_epoch",
    [LogCall("training_step", "loss", by_batch, dict(on_step=True, on_epoch=True)),
     LogCall("validation_step", "v", by_batch)],
    snapshots=("on_train_batch_end", "on_validation_end", "on_train_epoch_end", "on_train_end"),
    train=(16, 2), trainer=dict(log_every_n_steps=50, max_epochs=3), stop_at=(1, 2)))

SCENARIOS.append(Scenario(
    "callbacks_log_too",
    [LogCall("on_train_batch_end", "cb_batch", by_batch, dict(on_epoch=True, prog_bar=True), from_callback=True),
     LogCall("on_train_batch_end", "cb_batch", by_batch_tensor, dict(on_epoch=True, prog_bar=True)),
     LogCall("on_validation_batch_end", "cb_val", by_batch, from_callback=True),
     LogCall("on_validation_epoch_end", "cb_val_end", by_epoch, from_callback=True),
     LogCall("on_train_epoch_end", "cb_epoch", by_epoch, from_callback=True),
     LogCall("on_train_epoch_end", "module_epoch", by_epoch)],
    snapshots=("on_train_batch_end", "on_train_epoch_end", "on_validation_epoch_end", "on_validation_end"),
    val=((5, 2), (3, 3)), runs=("fit", "validate")))

SCENARIOS.append(Scenario(
    "manual_optimization_steps_on_even_batches",
    [LogCall("training_step", "loss", by_batch, dict(on_step=True, on_epoch=True)),
     LogCall("on_train_batch_end", "after", by_batch)],
    snapshots=("on_train_batch_end", "on_train_epoch_end"), manual=True, train=(12, 2),
    trainer=dict(log_every_n_steps=2, num_sanity_val_steps=0)))

# Scenarios that must fail the same way under every runner (the first offending call raises).
ERROR_SCENARIOS = [
    Scenario("log_in_configure_optimizers", [LogCall("configure_optimizers", "x", 1.0)]),
    Scenario("log_in_on_fit_start", [LogCall("on_fit_start", "x", 1.0)]),
    Scenario("log_in_on_validation_end", [LogCall("on_validation_end", "x", 1.0)]),
    Scenario("on_step_in_epoch_hook", [LogCall("on_train_epoch_end", "x", 1.0, dict(on_step=True))]),
    Scenario("neither_step_nor_epoch", [LogCall("training_step", "x", 1.0, dict(on_step=False, on_epoch=False))]),
    Scenario("vector_value", [LogCall("training_step", "x", lambda c: torch.ones(3))]),
    Scenario("string_value", [LogCall("training_step", "x", lambda c: "high")]),
    Scenario("custom_reduce_fx", [LogCall("training_step", "x", 1.0, dict(reduce_fx=lambda t: t))]),
    Scenario("twice_with_other_options", [LogCall("training_step", "x", 1.0),
                                          LogCall("training_step", "x", 2.0, dict(prog_bar=True))]),
    Scenario("dataloader_suffix_in_name", [LogCall("validation_step", "x/dataloader_idx_0", 1.0)]),
]
