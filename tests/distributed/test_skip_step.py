"""A training_step that returns None: warned in one process, refused before backward with several
(Lightning raises too: the other processes would wait in backward for this one's gradients)."""
import pytest

import statetrainer as st
from statetrainer.errors import MisconfigurationRuntimeError
from statetrainer.strategies import SingleDeviceStrategy
from tests.checkpoint.helpers import QUIET, Net, loaders


class TwoRanks(SingleDeviceStrategy):
    """Answers world_size=2 without starting processes (collectives stay the identity)."""
    world_size = property(lambda self: 2)


class Skipping(Net):
    def training_step(self, batch, batch_idx):
        return None


class ZeroGradListener(st.Callback):
    def on_before_zero_grad(self, trainer, pl_module, optimizer):
        pass


@pytest.mark.parametrize("callbacks", [[], [ZeroGradListener()]], ids=["plain", "closure"])
def test_skipping_a_step_is_refused_with_several_processes(tmp_path, callbacks):
    trainer = st.Trainer(default_root_dir=str(tmp_path), max_steps=1, strategy=TwoRanks("cpu"), callbacks=callbacks,
                         **{**QUIET, "enable_checkpointing": False})
    with pytest.raises(MisconfigurationRuntimeError, match=r"^training_step returned None with 2 processes; "
                                                           r"accepted in distributed automatic optimization"):
        trainer.fit(Skipping(), *loaders())
    assert trainer.global_step == 0
