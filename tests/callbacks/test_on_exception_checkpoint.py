"""OnExceptionCheckpoint: the file a failure leaves (same content as Lightning's), resuming from it, Ctrl-C,
removal at a normal teardown, and the argument check."""
from __future__ import annotations

import os

import pytest
import torch

from statetrainer.callbacks import Checkpoint, ModelCheckpoint, OnExceptionCheckpoint
from tests.callbacks import twins


def _failing(lib: str, at_step: int, error: type = RuntimeError):
    """The twin model, raising `error` in the training_step of global batch `at_step` (once)."""
    class Failing(twins.build(lib)):
        armed = True

        def training_step(self, batch, batch_idx):
            if self.armed and self.global_step == at_step:
                raise error(f"failure at step {at_step}")
            return super().training_step(batch, batch_idx)

    return Failing


def _fail(lib: str, tmp_path, at_step: int = 6):
    """Lightning refuses a Checkpoint callback with enable_checkpointing=False, hence True (and a root dir)."""
    callback = twins.api(lib)[1].OnExceptionCheckpoint(str(tmp_path / lib))
    with pytest.raises(RuntimeError, match=f"failure at step {at_step}"):
        twins.fit(lib, _failing(lib, at_step), [callback], max_epochs=3, enable_checkpointing=True,
                  default_root_dir=str(tmp_path / f"root-{lib}"))
    return callback


def test_the_file_holds_what_lightnings_holds(tmp_path):
    pytest.importorskip("lightning")
    ours, theirs = _fail("st", tmp_path), _fail("pl", tmp_path)
    assert os.path.basename(ours.ckpt_path) == os.path.basename(theirs.ckpt_path) == "on_exception.ckpt"
    mine = torch.load(ours.ckpt_path, weights_only=True)
    ref = torch.load(theirs.ckpt_path, weights_only=False)
    assert (mine["epoch"], mine["global_step"]) == (ref["epoch"], ref["global_step"]) == (1, 6)
    for name, value in ref["state_dict"].items():
        assert torch.equal(mine["state_dict"][name], value), name
    assert len(mine["optimizer_states"]) == len(ref["optimizer_states"]) == 1


def test_resuming_from_it_gives_the_uninterrupted_run(tmp_path):
    callback = _fail("st", tmp_path, at_step=6)
    assert os.path.isfile(callback.ckpt_path)  # the teardown after the failure kept it
    model = _failing("st", 6)()
    model.armed = False
    _, resumed, _ = twins.fit("st", None, [], model=model, max_epochs=3, ckpt_path=callback.ckpt_path)
    _, straight, _ = twins.fit("st", twins.build("st"), [], max_epochs=3)
    twins.assert_same_weights(resumed, straight)


def test_ctrl_c_writes_it_and_fit_returns(tmp_path):
    callback = OnExceptionCheckpoint(tmp_path, filename="interrupted")
    trainer, _, _ = twins.fit("st", _failing("st", 2, KeyboardInterrupt), [callback], max_epochs=3)
    assert trainer.interrupted and trainer.state.status == "interrupted"
    assert torch.load(callback.ckpt_path, weights_only=True)["global_step"] == 2
    assert callback.ckpt_path == str(tmp_path / "interrupted.ckpt")


def test_a_normal_end_removes_a_stale_file(tmp_path):
    callback = OnExceptionCheckpoint(tmp_path)
    stale = tmp_path / "on_exception.ckpt"
    stale.write_bytes(b"left by an earlier failure")
    twins.fit("st", twins.build("st"), [callback], max_epochs=1)
    assert not stale.exists()


def test_it_runs_after_the_other_callbacks_and_is_a_checkpoint():
    assert isinstance(OnExceptionCheckpoint("."), Checkpoint) and issubclass(ModelCheckpoint, Checkpoint)
    from statetrainer.loop.dispatch import is_checkpointing
    assert is_checkpointing(OnExceptionCheckpoint("."))


def test_empty_filename_is_refused():
    with pytest.raises(ValueError, match=r"^OnExceptionCheckpoint\(filename\) got ''; accepted: a non-empty file "
                                         r"name \(without the \.ckpt extension\)\.$"):
        OnExceptionCheckpoint(".", filename="")
