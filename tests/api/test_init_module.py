"""Trainer.init_module: where and in which dtype modules built inside it are created (as Lightning's)."""
import pytest
import torch

import lightning.pytorch as pl
import statetrainer as st


def _built_under(trainer_cls, **kwargs):
    trainer = trainer_cls(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, **kwargs)
    with trainer.init_module():
        module = torch.nn.Linear(3, 2)
    return module.weight.device, module.weight.dtype, torch.get_default_dtype()


@pytest.mark.parametrize("precision", ["32-true", "64-true", "bf16-true", "bf16-mixed"])
def test_device_and_dtype_match_lightning(precision):
    assert _built_under(st.Trainer, precision=precision) == _built_under(pl.Trainer, precision=precision)


def test_dtype_inside_and_restored_after():
    trainer = st.Trainer(accelerator="cpu", precision="64-true", logger=False)
    with trainer.init_module():
        assert torch.get_default_dtype() is torch.float64
    assert torch.get_default_dtype() is torch.float32


def test_empty_init_leaves_weights_unfilled():
    trainer = st.Trainer(accelerator="cpu", logger=False)
    with trainer.init_module(empty_init=True):
        skipped = torch.nn.init.constant_(torch.zeros(3), 5.0)
    with trainer.init_module(empty_init=False):
        filled = torch.nn.init.constant_(torch.zeros(3), 5.0)
    assert torch.equal(skipped, torch.zeros(3))
    assert torch.equal(filled, torch.full((3,), 5.0))
