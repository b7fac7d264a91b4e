"""The table's declared signals per state are the signals that really fire there (so docs/fsm.md, which
is generated from the table, cannot lie): every signal sent is declared by the state the machine is in,
and every declared signal is sent in at least one of these runs."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.machine.table import ANY_STATE_SIGNALS, STATES
from statetrainer.signals import CATALOGUE


class Everything(st.StateModule):
    """Overrides nothing it does not need: the signals are sent whether or not a hook is overridden."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        self.log("loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.layer(batch[0]).pow(2).mean())

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self.layer(batch[0]).pow(2).mean())

    def predict_step(self, batch, batch_idx):
        return self.layer(batch[0])

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1),
                             {"scheduler": plateau(optimizer), "monitor": "val_loss", "interval": "step", "strict": False},
                             {"scheduler": plateau(optimizer), "monitor": "val_loss"}]


class Raiser(st.Callback):
    def __init__(self, error: type):
        self.error = error

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == 3:
            raise self.error("stop here")


def _loader() -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(8, 4), torch.randn(8, 1)), batch_size=2)


@pytest.fixture(scope="module")
def observed():
    seen: dict[str, set[str]] = {}
    receivers = []
    for name, signal in CATALOGUE.items():
        def receiver(sender, _name=name, **payload):
            seen.setdefault(sender.state.current, set()).add(_name)
        receivers.append(receiver)
        signal.connect(receiver, weak=False)
    try:
        quiet = dict(enable_progress_bar=False, enable_model_summary=False, logger=False)
        trainer = st.Trainer(max_epochs=2, val_check_interval=2, gradient_clip_val=1.0, **quiet,
                             callbacks=[st.callbacks.ModelCheckpoint(save_last=True)],
                             default_root_dir=_tmp())
        model = Everything()
        trainer.fit(model, _loader(), _loader())
        trainer.fit(Everything(), _loader(), _loader(), ckpt_path=trainer.checkpoint_callback.last_model_path)
        trainer.validate(model, _loader(), verbose=False)
        trainer.test(model, _loader(), verbose=False)
        trainer.predict(model, _loader())
        with pytest.raises(RuntimeError):
            st.Trainer(max_epochs=1, callbacks=[Raiser(RuntimeError)], **quiet).fit(Everything(), _loader())
        st.Trainer(max_epochs=1, callbacks=[Raiser(KeyboardInterrupt)], **quiet).fit(Everything(), _loader())
    finally:
        for (name, signal), receiver in zip(CATALOGUE.items(), receivers):
            signal.disconnect(receiver)
    return seen


def _tmp() -> str:
    import tempfile
    return tempfile.mkdtemp(prefix="table-signals-")


def test_every_signal_sent_is_declared_by_its_state(observed):
    declared = {state.name: set(state.signals) for state in STATES}
    undeclared = {state: sorted(names - declared[state] - set(ANY_STATE_SIGNALS))
                  for state, names in observed.items() if names - declared[state] - set(ANY_STATE_SIGNALS)}
    assert not undeclared, repr(undeclared)


def test_every_declared_signal_is_sent_somewhere(observed):
    never = {state.name: sorted(set(state.signals) - observed.get(state.name, set()))
             for state in STATES if set(state.signals) - observed.get(state.name, set())}
    assert not never, repr(never)
