"""Resume from a checkpoint, differentially: the hooks a resumed fit calls, with `current_epoch`,
`global_step` and the batch index each hook sees, are Lightning 2.6's, for checkpoints taken at an
epoch's end and in the middle of an epoch. Both libraries run here, each from its own checkpoint.

Lightning loses work in two cases, which statetrainer deliberately does not copy (docs/hook_order.md,
"Resume"): a checkpoint taken in on_train_batch_end right before a validation (Lightning skips that
validation) or on the epoch's last batch (Lightning also skips the epoch's end hooks). Those are
checked here against what the uninterrupted run did.
"""
from __future__ import annotations

import importlib
import os

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

pytest.importorskip("lightning")

HOOKS = ("on_fit_start", "on_sanity_check_start", "on_sanity_check_end", "on_train_start", "on_train_epoch_start",
         "on_train_batch_start", "on_train_batch_end", "on_validation_start", "on_validation_end",
         "on_train_epoch_end", "on_train_end", "on_load_checkpoint")
FLAGS = dict(max_epochs=2, limit_train_batches=4, limit_val_batches=1, num_sanity_val_steps=1, logger=False,
             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")


def _library(name: str):
    if name == "lightning":
        module = importlib.import_module("lightning.pytorch")
        return module, module.LightningModule, module.Callback
    module = importlib.import_module("statetrainer")
    return module, module.StateModule, module.Callback


def _loader(seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)), batch_size=2)


def _classes(name: str):
    lib, module_base, callback_base = _library(name)

    class Model(module_base):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

        def validation_step(self, batch, batch_idx):
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class Recorder(callback_base):
        def __init__(self):
            self.trace: list[str] = []

    def recording(hook):
        def record(self, trainer, module, *args):
            batch = f" b={args[-1]}" if hook == "on_train_batch_start" else (
                f" b={args[-1]}" if hook == "on_train_batch_end" else "")
            sanity = " sanity" if trainer.sanity_checking else ""
            self.trace.append(f"{hook} ep={trainer.current_epoch} gs={trainer.global_step}{batch}{sanity}")
        return record
    for hook in HOOKS:
        setattr(Recorder, hook, recording(hook))

    class Saver(callback_base):
        def __init__(self, hook: str, step: int, path: str):
            self.hook, self.step, self.path = hook, step, path

        def _maybe(self, trainer, hook):
            if hook == self.hook and trainer.global_step == self.step and not trainer.sanity_checking:
                trainer.save_checkpoint(self.path)

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self._maybe(trainer, "on_train_batch_end")

        def on_validation_end(self, trainer, module):
            self._maybe(trainer, "on_validation_end")

        def on_train_epoch_end(self, trainer, module):
            self._maybe(trainer, "on_train_epoch_end")
    return lib, Model, Recorder, Saver


def _resumed_trace(name: str, root, hook: str, step: int, **flags) -> tuple[list[str], dict]:
    lib, Model, Recorder, Saver = _classes(name)
    path = os.path.join(root, f"{name}.ckpt")
    torch.manual_seed(0)
    lib.Trainer(callbacks=[Saver(hook, step, path)], **FLAGS, **flags).fit(Model(), _loader(1), _loader(2))
    recorder = Recorder()
    torch.manual_seed(0)
    model = Model()
    lib.Trainer(callbacks=[recorder], **FLAGS, **flags).fit(model, _loader(1), _loader(2), ckpt_path=path)
    return recorder.trace, model.state_dict()


def _uninterrupted(**flags) -> tuple[list[str], dict]:
    lib, Model, Recorder, _ = _classes("statetrainer")
    recorder = Recorder()
    torch.manual_seed(0)
    model = Model()
    lib.Trainer(callbacks=[recorder], **FLAGS, **flags).fit(model, _loader(1), _loader(2))
    return recorder.trace, model.state_dict()


CASES = {  # name: (hook the checkpoint is saved in, global_step, extra flags)
    "epoch_end": ("on_train_epoch_end", 4, {}),
    "validation_end_at_epoch_end": ("on_validation_end", 4, {}),
    "mid_epoch_batch_end": ("on_train_batch_end", 2, {}),
    "mid_epoch_validation_end": ("on_validation_end", 2, {"val_check_interval": 0.5}),
    "second_epoch_batch_end": ("on_train_batch_end", 5, {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_resumed_hooks_match_lightning(tmp_path, case):
    hook, step, flags = CASES[case]
    theirs, their_weights = _resumed_trace("lightning", tmp_path, hook, step, **flags)
    ours, our_weights = _resumed_trace("statetrainer", tmp_path, hook, step, **flags)
    assert ours == theirs
    # Lightning restarts the loader of an epoch resumed half-way (it warns that the batches will differ);
    # statetrainer replays it, so its weights are compared with its own uninterrupted run there
    reference = their_weights if step % 4 == 0 else _uninterrupted(**flags)[1]
    assert all(torch.equal(our_weights[key], reference[key]) if reference is not their_weights
               else torch.allclose(our_weights[key], reference[key], atol=1e-6) for key in reference)


@pytest.mark.parametrize("step, flags", [(2, {"val_check_interval": 0.5}), (4, {})],
                         ids=["before_in_epoch_validation", "on_the_epochs_last_batch"])
def test_resume_before_a_due_validation_keeps_it(tmp_path, step, flags):
    """Deliberate difference: the validation (and epoch end) that was due after the saved batch runs."""
    trace, _ = _uninterrupted(**flags)
    uninterrupted = [line for line in trace if "sanity" not in line]
    ours, _ = _resumed_trace("statetrainer", tmp_path, "on_train_batch_end", step, **flags)
    after_save = uninterrupted[uninterrupted.index(f"on_train_batch_end ep={(step - 1) // 4} gs={step} b={(step - 1) % 4}")
                               + 1:]
    assert [line for line in ours if line.split()[0] not in ("on_load_checkpoint", "on_fit_start",
                                                              "on_train_start")] == after_save
