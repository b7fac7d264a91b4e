"""Resuming fit from a checkpoint ends with the uninterrupted run's weights, bit for bit (CPU, deterministic)."""
from __future__ import annotations

import os

import pytest
import torch

import statetrainer as st
from statetrainer.checkpoint import io

from .helpers import Net, fit, same_weights

# (name, trainer flags): shuffled data, dropout, Adam, StepLR in each
SETUPS = {
    "epoch_end_val": dict(max_epochs=3),
    "in_epoch_val": dict(max_epochs=3, val_check_interval=5),
    "accumulate_3": dict(max_epochs=3, accumulate_grad_batches=3),
    "no_sanity_limit": dict(max_epochs=2, num_sanity_val_steps=0, limit_train_batches=7),
}


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """One uninterrupted run per setup, with a checkpoint after every optimizer step."""
    runs = {}
    for name, flags in SETUPS.items():
        root = tmp_path_factory.mktemp(name)
        every = st.callbacks.ModelCheckpoint(dirpath=root / "ck", every_n_train_steps=1, save_top_k=-1,
                                             filename="{step}")
        epochs = st.callbacks.ModelCheckpoint(dirpath=root / "ck", save_top_k=-1)  # Lightning's epoch names
        model, trainer = fit(root, callbacks=[every, epochs], **flags)
        runs[name] = (model, trainer.global_step, root / "ck")
    return runs


# Checkpoints written in on_train_batch_end right before a validation run (the epoch's last batch, or a
# val_check_interval batch) are included: the resumed fit must still run that validation and the epoch end.
CASES = [("epoch_end_val", "step=3"), ("epoch_end_val", "step=9"), ("epoch_end_val", "step=11"),
         ("epoch_end_val", "step=30"), ("epoch_end_val", "epoch=0-step=10"), ("epoch_end_val", "epoch=1-step=20"),
         ("in_epoch_val", "step=4"), ("in_epoch_val", "step=17"), ("in_epoch_val", "epoch=1-step=20"),
         ("accumulate_3", "step=2"), ("accumulate_3", "epoch=0-step=4"), ("no_sanity_limit", "step=3"),
         ("no_sanity_limit", "epoch=0-step=7"),
         ("epoch_end_val", "step=10"),
         ("in_epoch_val", "step=5"),
         ("in_epoch_val", "step=10"),
         ("accumulate_3", "step=4"),
         ("no_sanity_limit", "step=7")]


def _case_id(case) -> str:
    values = case.values if hasattr(case, "values") else case
    return "-".join(values)


@pytest.mark.parametrize("setup, name", CASES, ids=[_case_id(case) for case in CASES])
def test_resume_gives_the_uninterrupted_weights(references, tmp_path, setup, name):
    reference, total_steps, folder = references[setup]
    path = folder / f"{name}.ckpt"
    assert path.is_file(), sorted(os.listdir(folder))
    model, trainer = fit(tmp_path, ckpt_path=str(path), **SETUPS[setup])
    assert trainer.global_step == total_steps
    assert same_weights(model, reference)


def test_resume_with_a_fresh_model_object_restores_hparams_free_state(references, tmp_path):
    reference, _, folder = references["epoch_end_val"]
    model, _ = fit(tmp_path, model=Net(), ckpt_path=str(folder / "step=12.ckpt"), **SETUPS["epoch_end_val"])
    assert same_weights(model, reference)


def test_checkpoint_counters_match_the_trainer(references):
    _, _, folder = references["epoch_end_val"]
    checkpoint = io.load(folder / "step=13.ckpt")
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (1, 13)
    assert checkpoint["loops"]["position"]["counters"]["global_step"] == 13
    assert checkpoint["statetrainer_version"] == st.__version__


def test_fit_refuses_a_weights_only_checkpoint(tmp_path):
    model, trainer = fit(tmp_path, max_epochs=1)
    trainer.save_checkpoint(tmp_path / "w.ckpt", weights_only=True)
    with pytest.raises(st.errors.CheckpointError, match=r"holds only the model weights \(save_weights_only=True\)"):
        fit(tmp_path / "again", ckpt_path=str(tmp_path / "w.ckpt"))


def test_fit_refuses_a_checkpoint_without_loop_progress(tmp_path):
    io.save({"state_dict": Net().state_dict(), "epoch": 1, "global_step": 10}, tmp_path / "lightningish.ckpt")
    with pytest.raises(st.errors.CheckpointError, match=r"was not written by statetrainer .* cannot continue it"):
        fit(tmp_path, ckpt_path=str(tmp_path / "lightningish.ckpt"))


def test_resuming_a_finished_run_trains_no_further(references, tmp_path):
    reference, total, folder = references["epoch_end_val"]
    model, trainer = fit(tmp_path, ckpt_path=str(folder / f"step={total}.ckpt"), **SETUPS["epoch_end_val"])
    assert trainer.global_step == total and same_weights(model, reference)


def test_weights_are_restored_for_validate_and_test(references, tmp_path):
    reference, _, folder = references["epoch_end_val"]
    fresh = Net()
    trainer = st.Trainer(default_root_dir=str(tmp_path), enable_progress_bar=False, logger=False)
    from .helpers import loaders
    _, val = loaders()
    trainer.validate(fresh, val, ckpt_path=str(folder / "step=30.ckpt"), verbose=False)
    assert same_weights(fresh, reference)
    assert torch.equal(fresh.out.bias, reference.out.bias)
