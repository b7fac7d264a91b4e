"""The signal catalogue: names and payloads agree with the hook stubs; connecting, filtering,
ordering; receivers that raise, Ctrl-C and SIGTERM."""
from __future__ import annotations

import inspect
import os
import signal as os_signal
from collections import Counter

import pytest
import torch

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.module.hooks import HookStubs
from statetrainer.signals import CATALOGUE, signal_names
from tests.core.helpers import QUIET, Tiny, loader

NOT_HOOKS = {
    "cb": {"state_dict", "load_state_dict", "state_key"},
    "mod": {"train_dataloader", "val_dataloader", "test_dataloader", "predict_dataloader", "configure_sharded_model"},
}
# Lightning's documented parameters of the step methods (the stubs take *args)
STEP_PARAMS = {"training_step": ["batch", "batch_idx"], "validation_step": ["batch", "batch_idx", "dataloader_idx"],
               "test_step": ["batch", "batch_idx", "dataloader_idx"],
               "predict_step": ["batch", "batch_idx", "dataloader_idx"]}


@pytest.fixture
def connect():
    """Connect receivers to the global signals for one test; disconnect them afterwards."""
    made = []

    def _connect(signal, fn, **kwargs):
        signal.connect(fn, **kwargs)
        made.append((signal, fn))
        return fn
    yield _connect
    for signal, fn in made:
        signal.disconnect(fn)


def _public(cls) -> set[str]:
    """Public names defined by `cls` and its statetrainer bases (HookStubs inherits DataHooks)."""
    owners = [base for base in cls.__mro__ if base.__module__.startswith("statetrainer.")]
    return {name for base in owners for name in vars(base) if not name.startswith("_")}


def test_catalogue_equals_callback_stubs_both_directions():
    assert _public(st.Callback) - NOT_HOOKS["cb"] == signal_names("cb")


def test_catalogue_equals_module_stubs_both_directions():
    assert _public(HookStubs) - NOT_HOOKS["mod"] == signal_names("mod")


def test_datamodule_targets_are_datamodule_methods():
    assert signal_names("dm") <= _public(st.DataModule)


def _params(fn) -> list[str]:
    skip = {"self", "trainer", "pl_module", "args", "kwargs"}
    return [name for name in inspect.signature(fn).parameters if name not in skip]


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_payload_fields_are_the_hook_parameters(name):
    signal = CATALOGUE[name]
    owners = {"cb": st.Callback, "mod": HookStubs, "dm": st.DataModule}
    for target in sorted(signal.targets):
        expected = STEP_PARAMS.get(name) or _params(getattr(owners[target], name))
        if name.endswith("_step") and name in STEP_PARAMS:
            expected = expected + ["outputs"]
        if name == "optimizer_step":  # the closure is not part of the payload
            expected = [p for p in expected if p != "optimizer_closure"]
        assert list(signal.fields) == expected, (name, target)
    assert signal.__doc__ and signal.__doc__.endswith(".")  # the one-line description docs/signals.md shows


class TransferTiny(Tiny):
    """Tiny with the batch-transfer hooks and a scheduler, so every per-batch signal has a hook behind it."""

    def on_before_batch_transfer(self, batch, dataloader_idx):
        return batch

    def on_after_batch_transfer(self, batch, dataloader_idx):
        return batch

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.01)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, 1)]

    def test_step(self, batch, batch_idx):
        return batch[0].sum()

    def predict_step(self, batch, batch_idx):
        return self(batch[0])


def _all_calls(trainer, module):
    trainer.fit(module, loader(4, 2), loader(2, 2))
    trainer.validate(module, loader(2, 2), verbose=False)
    trainer.test(module, loader(2, 2), verbose=False)
    trainer.predict(module, loader(2, 2))


EXPECTED_COUNTS = {
    # four calls: fit, validate, test, predict
    "configure_callbacks": 4, "prepare_data": 4, "setup": 4, "configure_model": 4, "teardown": 4,
    "configure_optimizers": 1, "on_fit_start": 1, "on_fit_end": 1, "on_sanity_check_start": 1,
    "on_sanity_check_end": 1, "on_train_start": 1, "on_train_end": 1, "on_train_epoch_start": 2,
    "on_train_epoch_end": 2, "lr_scheduler_step": 2,
    # per training batch (2 epochs x 2 batches)
    **dict.fromkeys(["on_train_batch_start", "training_step", "on_before_zero_grad", "optimizer_zero_grad",
                     "on_before_backward", "backward", "on_after_backward", "on_before_optimizer_step",
                     "configure_gradient_clipping", "optimizer_step", "on_train_batch_end"], 4),
    # transfers: 4 training + 1 sanity + 2 in-fit validation + validate + test + predict batches
    "on_before_batch_transfer": 10, "on_after_batch_transfer": 10, "transfer_batch_to_device": 10,
    # validation: sanity check, 2 in-fit runs, validate()
    "on_validation_model_zero_grad": 2,
    **dict.fromkeys(["on_validation_model_eval", "on_validation_model_train", "on_validation_start",
                     "on_validation_epoch_start", "on_validation_batch_start", "validation_step",
                     "on_validation_batch_end", "on_validation_epoch_end", "on_validation_end"], 4),
    **dict.fromkeys(["on_test_model_eval", "on_test_model_train", "on_test_start", "on_test_epoch_start",
                     "on_test_batch_start", "test_step", "on_test_batch_end", "on_test_epoch_end", "on_test_end",
                     "on_predict_model_eval", "on_predict_start", "on_predict_epoch_start",
                     "on_predict_batch_start", "predict_step", "on_predict_batch_end", "on_predict_epoch_end",
                     "on_predict_end"], 1),
}


def test_every_signal_fires_with_its_declared_payload(connect):
    trainer = st.Trainer(max_epochs=2, **QUIET)
    counts, bad = Counter(), []

    def make(signal):
        def receiver(sender, **payload):
            counts[signal.name] += 1
            if sender is not trainer or set(payload) != set(signal.fields):
                bad.append((signal.name, sorted(payload)))
        return receiver
    for signal in CATALOGUE.values():
        connect(signal, make(signal), sender=trainer, weak=False)
    _all_calls(trainer, TransferTiny())
    assert bad == []
    fired = {name: n for name, n in counts.items()}
    # transfer_batch_to_device's default runs on the CPU too once its signal has receivers;
    # checkpoints and exceptions: below
    assert fired == EXPECTED_COUNTS


def test_transfer_batch_to_device_fires_when_overridden(connect):
    class Moving(TransferTiny):
        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
    trainer = st.Trainer(max_epochs=1, num_sanity_val_steps=0, **QUIET)
    seen = []
    connect(st.signals.transfer_batch_to_device, lambda sender, batch, device, dataloader_idx:
            seen.append((device.type, dataloader_idx)), sender=trainer, weak=False)
    trainer.fit(Moving(), loader(4, 2))
    assert seen == [("cpu", 0), ("cpu", 0)]


def test_checkpoint_signals_fire(tmp_path, connect):
    trainer = st.Trainer(max_epochs=1, **QUIET)
    seen = []
    connect(st.signals.on_save_checkpoint, lambda sender, checkpoint: seen.append(("save", sender)), weak=False)
    connect(st.signals.on_load_checkpoint, lambda sender, checkpoint: seen.append(("load", sender)), weak=False)
    module = Tiny()
    trainer.fit(module, loader(4, 2))
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    trainer.validate(module, loader(2, 2), ckpt_path=tmp_path / "a.ckpt", verbose=False)
    assert seen == [("save", trainer), ("load", trainer)]


def test_connect_without_sender_reaches_every_trainer(connect):
    seen = []

    def receiver(sender, outputs, batch, batch_idx):
        seen.append((sender, batch_idx))
    connect(st.signals.on_train_batch_end, receiver)
    first, second = st.Trainer(max_epochs=1, **QUIET), st.Trainer(max_epochs=1, **QUIET)
    first.fit(Tiny(), loader(4, 2))
    second.fit(Tiny(), loader(2, 2))
    assert seen == [(first, 0), (first, 1), (second, 0)]


def test_connect_with_sender_reaches_one_trainer(connect):
    first, second = st.Trainer(max_epochs=1, **QUIET), st.Trainer(max_epochs=1, **QUIET)
    seen = []

    def receiver(sender, outputs, batch, batch_idx):
        seen.append((sender, batch_idx))
    connect(st.signals.on_train_batch_end, receiver, sender=second)
    first.fit(Tiny(), loader(4, 2))
    second.fit(Tiny(), loader(4, 2))
    assert seen == [(second, 0), (second, 1)]


def test_weak_receiver_vanishes_with_its_closure():
    seen = []

    def make():
        def receiver(sender, **payload):
            seen.append(1)
        return receiver
    st.signals.on_train_start.connect(make())  # only blinker's weak reference holds it
    import gc
    gc.collect()
    st.Trainer(max_epochs=1, **QUIET).fit(Tiny(), loader(2, 2))
    assert seen == []


@pytest.mark.parametrize("receiver", [lambda trainer, batch: None, lambda: None, lambda trainer, *, nope: None])
def test_wrong_signature_is_refused_at_connect(receiver):
    before = dict(st.signals.on_train_batch_end.receivers)
    with pytest.raises(MisconfigurationError) as info:
        st.signals.on_train_batch_end.connect(receiver)
    message = str(info.value)
    assert "on_train_batch_end" in message and "['outputs', 'batch', 'batch_idx']" in message
    assert st.signals.on_train_batch_end.receivers == before


def test_wrong_signature_is_refused_by_trainer_on():
    trainer = st.Trainer(**QUIET)
    with pytest.raises(MisconfigurationError, match="on_train_epoch_end"):
        trainer.on(st.signals.on_train_epoch_end)(lambda sender, epoch: None)
    with pytest.raises(MisconfigurationError, match="signal 'no_such_hook' does not exist"):
        trainer.on("no_such_hook")
    with pytest.raises(MisconfigurationError, match=r"`every` got 0; accepted: an int >= 1 or None"):
        trainer.on("on_train_start", every=0)


def test_kwargs_receiver_is_accepted(connect):
    connect(st.signals.on_train_batch_end, lambda sender, **payload: None, weak=False)


def test_trainer_on_every_and_once():
    trainer = st.Trainer(max_epochs=2, **QUIET)
    every, once, plain = [], [], []

    @trainer.on(st.signals.on_train_batch_end, every=3)
    def each_third(sender, outputs, batch, batch_idx):
        every.append((sender.current_epoch, batch_idx))

    @trainer.on("on_train_batch_end", once=True)
    def first(sender, outputs, batch, batch_idx):
        once.append((sender.current_epoch, batch_idx))

    @trainer.on("on_train_epoch_end")
    def epochs(sender):
        plain.append(sender.current_epoch)
    try:
        trainer.fit(Tiny(), loader(8, 2))
        assert every == [(0, 2), (1, 1)] and once == [(0, 0)] and plain == [0, 1]
        other = st.Trainer(max_epochs=1, **QUIET)
        other.fit(Tiny(), loader(8, 2))
        assert every == [(0, 2), (1, 1)] and plain == [0, 1]  # other trainers do not reach them
    finally:
        for fn in (each_third, first, epochs):
            fn.disconnect()


def test_receivers_fire_after_callbacks_and_module(connect):
    order = []

    class Module(Tiny):
        def on_train_epoch_end(self):
            order.append("module")

    class Cb(st.Callback):
        def on_train_epoch_end(self, trainer, module):
            order.append("callback")
    trainer = st.Trainer(max_epochs=1, callbacks=[Cb()], **QUIET)
    connect(st.signals.on_train_epoch_end, lambda sender: order.append("receiver"), sender=trainer, weak=False)
    trainer.fit(Module(), loader(2, 2))
    assert order == ["callback", "module", "receiver"]


class Recorder(st.Callback):
    def __init__(self):
        self.events = []

    def on_exception(self, trainer, module, exception):
        self.events.append(("cb.on_exception", type(exception).__name__, trainer.state.current))

    def teardown(self, trainer, module, stage):
        self.events.append(("cb.teardown", stage, trainer.state.current))


class FailingTiny(Tiny):
    def __init__(self, events, **kwargs):
        super().__init__(**kwargs)
        self.events = events

    def on_exception(self, exception):
        self.events.append(("mod.on_exception", type(exception).__name__, self.trainer.state.current))

    def teardown(self, stage):
        self.events.append(("mod.teardown", stage, self.trainer.state.current))


def test_receiver_that_raises_fails_the_run(connect):
    recorder = Recorder()
    trainer = st.Trainer(max_epochs=3, callbacks=[recorder], **QUIET)

    def boom(sender, outputs, batch, batch_idx):
        if batch_idx == 1:
            raise ValueError("receiver broke")
    connect(st.signals.on_train_batch_end, boom, sender=trainer, weak=False)
    module = FailingTiny(recorder.events)
    with pytest.raises(ValueError, match="receiver broke"):
        trainer.fit(module, loader(8, 2))
    assert trainer.state.current == "failed" and trainer.state.status == "interrupted"
    assert trainer.interrupted  # as Lightning: any exception; state.current says it failed
    assert recorder.events == [("cb.on_exception", "ValueError", "failed"), ("mod.on_exception", "ValueError", "failed"),
                               ("cb.teardown", "fit", "failed"), ("mod.teardown", "fit", "failed")]
    assert trainer.state.stop_reason == "failed with ValueError: receiver broke at epoch 0, global_step=2."
    history = trainer.state.history
    assert (history[-1].source, history[-1].trigger, history[-1].dest) == ("train_batch", "fail", "failed")
    # the machine is usable again afterwards
    connect(st.signals.on_train_batch_end, lambda sender, **kw: None, sender=trainer, weak=False)
    st.signals.on_train_batch_end.disconnect(boom)
    trainer.fit(Tiny(), loader(4, 2))
    assert trainer.state.current == "finished"


def _interrupting(how):
    class Interrupting(Tiny):
        def __init__(self, events):
            super().__init__()
            self.events = events

        def on_train_batch_end(self, outputs, batch, batch_idx):
            if self.current_epoch == 1 and batch_idx == 0:
                if how == "sigterm":
                    os.kill(os.getpid(), os_signal.SIGTERM)
                else:
                    raise KeyboardInterrupt

        def on_exception(self, exception):
            self.events.append(("mod.on_exception", type(exception).__name__, self.trainer.state.current))
    return Interrupting


@pytest.mark.parametrize("how", ["keyboard", "sigterm"])
def test_interrupt_in_a_hook_ends_fit_gracefully(how):
    recorder = Recorder()
    trainer = st.Trainer(max_epochs=5, callbacks=[recorder], **QUIET)
    previous = os_signal.getsignal(os_signal.SIGTERM)
    module = _interrupting(how)(recorder.events)
    trainer.fit(module, loader(8, 2))  # returns, no exception
    name = "KeyboardInterrupt" if how == "keyboard" else "SignalInterrupt"
    assert trainer.interrupted is True
    assert trainer.state.current == "interrupted" and trainer.state.status == "interrupted"
    assert trainer.global_step == 5 and trainer.current_epoch == 1
    assert recorder.events == [("cb.on_exception", name, "interrupted"), ("mod.on_exception", name, "interrupted"),
                               ("cb.teardown", "fit", "interrupted")]
    assert trainer.state.stop_reason == f"interrupted by {name} at epoch 1, global_step=5."
    assert os_signal.getsignal(os_signal.SIGTERM) == previous  # the handler is put back
